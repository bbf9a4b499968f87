package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;

/**
 * The Java engine follows docs/CANONICAL_ORDER.md to the bit: an independent, literal
 * simulation of the documented order (256 threads, 4 accumulators each, warp butterflies with
 * xor partners, float64 segment tree) must give exactly the norms the engine reports.
 */
class CanonicalOrderTest {

    /** Literal transcription of steps 1-3, thread by thread, using xor butterflies as a GPU would. */
    static double documentedSumOfSquares(float[] x) {
        int tiles = (x.length + 4095) / 4096;
        float[] partials = new float[tiles];
        for (int k = 0; k < tiles; k++) {
            float[] s = new float[256];
            for (int j = 0; j < 256; j++) {
                float[] a = new float[4];
                for (int q = 0; q < 4; q++) {
                    for (int r = 0; r < 4; r++) {
                        int e = k * 4096 + 4 * j + q + 1024 * r;
                        if (e < x.length) a[q] = Math.fma(x[e], x[e], a[q]);
                    }
                }
                s[j] = (a[0] + a[1]) + (a[2] + a[3]);
            }
            partials[k] = butterflyFloat(s);
        }
        double[] acc = new double[256];
        for (int j = 0; j < 256; j++) {
            for (int k = j; k < tiles; k += 256) acc[j] = acc[j] + partials[k];
        }
        return butterflyDouble(acc);
    }

    static float butterflyFloat(float[] s) {
        float[] warp = new float[8];
        for (int w = 0; w < 8; w++) {
            float[] lane = new float[32];
            System.arraycopy(s, 32 * w, lane, 0, 32);
            for (int off = 16; off >= 1; off /= 2) {
                float[] next = new float[32];
                for (int i = 0; i < 32; i++) next[i] = lane[i] + lane[i ^ off];
                lane = next;
            }
            warp[w] = lane[0];
        }
        for (int off = 4; off >= 1; off /= 2) {
            float[] next = new float[8];
            for (int i = 0; i < 8; i++) next[i] = warp[i] + warp[i ^ off];
            warp = next;
        }
        return warp[0];
    }

    static double butterflyDouble(double[] s) {
        double[] warp = new double[8];
        for (int w = 0; w < 8; w++) {
            double[] lane = new double[32];
            System.arraycopy(s, 32 * w, lane, 0, 32);
            for (int off = 16; off >= 1; off /= 2) {
                double[] next = new double[32];
                for (int i = 0; i < 32; i++) next[i] = lane[i] + lane[i ^ off];
                lane = next;
            }
            warp[w] = lane[0];
        }
        for (int off = 4; off >= 1; off /= 2) {
            double[] next = new double[8];
            for (int i = 0; i < 8; i++) next[i] = warp[i] + warp[i ^ off];
            warp = next;
        }
        return warp[0];
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 1023, 1024, 1025, 4095, 4096, 4097, 3 * 4096 + 77, 257 * 4096 + 1, 1_100_000})
    void engineNormsAreTheDocumentedOrder(int length) {
        SplittableRandom r = new SplittableRandom(length);
        float[] w = new float[length];
        float[] g = new float[length];
        for (int i = 0; i < length; i++) {
            // Mixed magnitudes make the order visible in the low bits.
            w[i] = (float) ((r.nextDouble() - 0.5) * Math.pow(10, r.nextInt(7) - 3));
            g[i] = (float) ((r.nextDouble() - 0.5) * Math.pow(10, r.nextInt(7) - 5));
        }
        ParamLayout layout = ParamLayout.builder().add("x", length).build();
        for (int threads : new int[] {1, 2}) {
            try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.CPU)
                    .threads(threads).build(layout)) {
                opt.step(w.clone(), g);
                assertEquals(Math.sqrt(documentedSumOfSquares(w)), opt.lastWeightNorm(0), 0.0, "||w|| length " + length);
                assertEquals(Math.sqrt(documentedSumOfSquares(g)), opt.lastGradNorm(0), 0.0, "||g|| length " + length);
            }
        }
    }
}

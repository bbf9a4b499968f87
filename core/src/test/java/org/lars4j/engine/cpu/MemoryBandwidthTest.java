package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The yardstick kernels compute what their byte counts claim, on every element of every slice. */
class MemoryBandwidthTest {
    @Test
    void triadCopyAndMomentumSgdTouchEveryElement() {
        for (int threads : new int[] {1, 3}) {
            try (MemoryBandwidth m = new MemoryBandwidth(threads, 1000)) {
                float[] b = m.b.clone();
                float[] c = m.c.clone();
                m.triad();
                for (int i = 0; i < 1000; i++) assertEquals(b[i] + 3.0f * c[i], m.a[i], "triad element " + i);
                // After the triad a != b, so an SGD that wrote w from g instead of updating it fails.
                float[] w = m.a.clone();
                m.momentumSgd();
                for (int i = 0; i < 1000; i++) {
                    double v = 0.9 * c[i] + b[i];              // float64 reference, then the float rounding
                    assertEquals((float) v, m.c[i], Math.ulp((float) v), "momentum of element " + i);
                    assertEquals(w[i] - 1e-3 * v, m.a[i], 1e-6, "weight of element " + i);
                    assertEquals(b[i], m.b[i], "the gradient is read only, element " + i);
                }
                m.copy();
                for (int i = 0; i < 1000; i++) assertEquals(b[i], m.a[i], "copy element " + i);
                assertEquals(m.a[999], m.probe());
            }
        }
    }

    @Test
    void readSumsEverySquareOfEverySlice() {
        for (int threads : new int[] {1, 3}) {
            try (MemoryBandwidth m = new MemoryBandwidth(threads, 1003)) {
                double ref = 0;
                for (float x : m.b) ref += (double) x * x;   // every square >= 0.25: a missed one shows
                m.read();
                assertEquals(ref, m.lastReadSum(), 2e-5 * ref, threads + " thread(s)");
            }
        }
    }

    @Test
    void bothKernelFormsOfTheReadLoopSumEveryElement() {
        SplittableRandom r = new SplittableRandom(7);
        float[] x = new float[1000];
        for (int i = 0; i < x.length; i++) x[i] = (float) (0.5 + r.nextDouble());
        for (SquaresKernels k : new SquaresKernels[] {ScalarSquaresKernels.INSTANCE, SquaresKernels.select()}) {
            // Ranges that start and end off any vector or unroll boundary, and short ones.
            for (int[] range : new int[][] {{0, 1000}, {3, 997}, {5, 12}, {0, 7}, {9, 9}}) {
                double ref = 0;
                for (int i = range[0]; i < range[1]; i++) ref += (double) x[i] * x[i];
                assertEquals(ref, k.sumOfSquaresAnyOrder(x, range[0], range[1]), 2e-5 * ref,
                        k.name() + " over [" + range[0] + ", " + range[1] + ")");
            }
        }
    }
}

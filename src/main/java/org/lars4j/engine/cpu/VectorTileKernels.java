package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TileKernels} on the Vector API, 8 float lanes (256 bits) at a time. Every line is the
 * lane-wise form of the scalar loop it replaces ({@link LarsKernels}, {@link CanonicalOrder}):
 * same operations, same operands, same order, so the same bits. Elements past the last whole
 * vector go through the scalar loops. Only the norm loops are here; see the note on the updates.
 *
 * <p>The norm loops walk a tile in address order (round r = 0..3 outer, lanes inner, lane i
 * accumulating element i + 1024 r into scratch lane i): each lane still sees its rounds in order,
 * and the hardware prefetcher sees one stream instead of four short ones.
 *
 * <p>Loaded only by {@link TileKernels.Provider} after it has checked that the module
 * {@code jdk.incubator.vector} is in the boot layer.
 */
final class VectorTileKernels implements TileKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_256;
    private static final int V = 8;

    static final VectorTileKernels INSTANCE = new VectorTileKernels();

    private VectorTileKernels() {}

    /** Null when usable; otherwise why not (the provider logs it). */
    String unusableReason() {
        int bits = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        return bits < 256 ? "this CPU's widest float vectors are " + bits + " bits (the Vector API kernels need 256)" : null;
    }

    @Override
    public String name() {
        return "Vector API kernels (256-bit)";
    }

    @Override
    public void squares(float[] lane, float[] x, int off, int n) {
        // Round 0 writes every lane: x^2 (= fma(x, x, +0) exactly), +0 past the end.
        int n0 = Math.min(n, LANES);
        int i = 0;
        for (int end = S.loopBound(n0); i < end; i += V) {
            FloatVector a = FloatVector.fromArray(S, x, off + i);
            a.mul(a).intoArray(lane, i);
        }
        for (; i < n0; i++) {
            float a = x[off + i];
            lane[i] = a * a;
        }
        if (n0 < LANES) Arrays.fill(lane, n0, LANES, 0f);
        // Rounds 1..3: lane i += x[i + 1024 r]^2 (fma), lanes past the end untouched.
        for (int base = LANES; base < n; base += LANES) {
            int lim = Math.min(LANES, n - base);
            int o = off + base;
            int j = 0;
            for (int end = S.loopBound(lim); j < end; j += V) {
                FloatVector a = FloatVector.fromArray(S, x, o + j);
                a.fma(a, FloatVector.fromArray(S, lane, j)).intoArray(lane, j);
            }
            for (; j < lim; j++) {
                float a = x[o + j];
                lane[j] = Math.fma(a, a, lane[j]);
            }
        }
    }

    @Override
    public void squaresWGU(float[] lw, float[] lg, float[] lu, float[] w, int ow, float[] g, int og, int n, float lam) {
        squares(lw, w, ow, n);
        squares(lg, g, og, n);
        // u = fma(lam, w, g) is not stored anywhere: the u lanes need w and g side by side.
        FloatVector lamV = FloatVector.broadcast(S, lam);
        int n0 = Math.min(n, LANES);
        int i = 0;
        for (int end = S.loopBound(n0); i < end; i += V) {
            FloatVector u = lamV.fma(FloatVector.fromArray(S, w, ow + i), FloatVector.fromArray(S, g, og + i));
            u.mul(u).intoArray(lu, i);
        }
        for (; i < n0; i++) {
            float u = Math.fma(lam, w[ow + i], g[og + i]);
            lu[i] = u * u;
        }
        if (n0 < LANES) Arrays.fill(lu, n0, LANES, 0f);
        for (int base = LANES; base < n; base += LANES) {
            int lim = Math.min(LANES, n - base);
            int wo = ow + base;
            int go = og + base;
            int j = 0;
            for (int end = S.loopBound(lim); j < end; j += V) {
                FloatVector u = lamV.fma(FloatVector.fromArray(S, w, wo + j), FloatVector.fromArray(S, g, go + j));
                u.fma(u, FloatVector.fromArray(S, lu, j)).intoArray(lu, j);
            }
            for (; j < lim; j++) {
                float u = Math.fma(lam, w[wo + j], g[go + j]);
                lu[j] = Math.fma(u, u, lu[j]);
            }
        }
    }

    // The updates stay on ScalarTileKernels' loops: in the flat form (one index for w, g and v)
    // C2 vectorises and unrolls them itself, and that measured about twice as fast as the same
    // update written on the Vector API under JDK 17 (bench/RESULTS.md, "Tile kernels").

    @Override
    public void updateInside(float[] w, int ow, float[] g, int og, float[] v, int ov, int n,
                             float lam, float scale, float mu, boolean nesterov) {
        ScalarTileKernels.INSTANCE.updateInside(w, ow, g, og, v, ov, n, lam, scale, mu, nesterov);
    }

    @Override
    public void updateOutside(float[] w, int ow, float[] g, int og, float[] v, int ov, int n,
                              float lam, float tr, float mu, float damp1, float negLr, boolean first, boolean nesterov) {
        ScalarTileKernels.INSTANCE.updateOutside(w, ow, g, og, v, ov, n, lam, tr, mu, damp1, negLr, first, nesterov);
    }
}

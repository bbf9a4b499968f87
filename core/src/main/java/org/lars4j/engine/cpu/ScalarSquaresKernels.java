package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;
import static org.lars4j.engine.cpu.CanonicalOrder.TILE;

import java.nio.ByteBuffer;
import java.util.Arrays;

/** The plain-Java sums of squares of a tile: the reference and the fallback {@link SquaresKernels}. */
final class ScalarSquaresKernels extends ScalarKernelSupport implements SquaresKernels {
    static final ScalarSquaresKernels INSTANCE = new ScalarSquaresKernels();

    private ScalarSquaresKernels() {}

    @Override
    public float sumOfSquaresAnyOrder(float[] x, int from, int to) {
        // Eight independent chains: C2 does not vectorise a float sum, so this is what plain Java reaches.
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = from;
        for (; i <= to - 8; i += 8) {
            s0 = Math.fma(x[i], x[i], s0);
            s1 = Math.fma(x[i + 1], x[i + 1], s1);
            s2 = Math.fma(x[i + 2], x[i + 2], s2);
            s3 = Math.fma(x[i + 3], x[i + 3], s3);
            s4 = Math.fma(x[i + 4], x[i + 4], s4);
            s5 = Math.fma(x[i + 5], x[i + 5], s5);
            s6 = Math.fma(x[i + 6], x[i + 6], s6);
            s7 = Math.fma(x[i + 7], x[i + 7], s7);
        }
        float s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        for (; i < to; i++) s = Math.fma(x[i], x[i], s);
        return s;
    }

    @Override
    public void squares(float[] lane, float[] x, ByteBuffer xb, int off, int n) {
        arraysOnly(xb);
        if (n == TILE) {
            fullTileG(lane, x, off);
        } else {
            Arrays.fill(lane, 0f);
            CanonicalOrder.accumulate(lane, x, off, n);
        }
    }

    @Override
    public void squaresWG(float[] lw, float[] lg, float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, int n) {
        arraysOnly(wb);
        arraysOnly(gb);
        if (n == TILE) {
            fullTileWG(lw, lg, w, ow, g, og);
        } else {
            Arrays.fill(lw, 0f);
            Arrays.fill(lg, 0f);
            accumulateWG(lw, lg, w, ow, g, og, n);
        }
    }

    @Override
    public void squaresWGU(float[] lw, float[] lg, float[] lu, float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og,
                           int n, float lam) {
        arraysOnly(wb);
        arraysOnly(gb);
        if (n == TILE) {
            fullTileWGU(lw, lg, lu, w, ow, g, og, lam);
        } else {
            Arrays.fill(lw, 0f);
            Arrays.fill(lg, 0f);
            Arrays.fill(lu, 0f);
            accumulateWGU(lw, lg, lu, w, ow, g, og, n, lam);
        }
    }

    // Full tiles (4096 elements): each lane's four rounds in one loop body, lanes written once.
    // The same operations in the same order as the general loops below (a = fma(x_r, x_r, a),
    // r = 0..3, from +0), but one pass over the lanes instead of four (fewer lane loads and
    // stores; C2 still leaves them scalar, bench/RESULTS.md "Vector API tile kernels").

    /** Full tile, g only. */
    private static void fullTileG(float[] lg, float[] g, int og) {
        for (int i = 0; i < LANES; i++) {
            int o = og + i;
            float g0 = g[o], g1 = g[o + LANES], g2 = g[o + 2 * LANES], g3 = g[o + 3 * LANES];
            float ag = Math.fma(g0, g0, 0f);
            ag = Math.fma(g1, g1, ag);
            ag = Math.fma(g2, g2, ag);
            lg[i] = Math.fma(g3, g3, ag);
        }
    }

    /** Full tile, w and g. */
    private static void fullTileWG(float[] lw, float[] lg, float[] w, int ow, float[] g, int og) {
        for (int i = 0; i < LANES; i++) {
            int p = ow + i;
            int o = og + i;
            float w0 = w[p], w1 = w[p + LANES], w2 = w[p + 2 * LANES], w3 = w[p + 3 * LANES];
            float g0 = g[o], g1 = g[o + LANES], g2 = g[o + 2 * LANES], g3 = g[o + 3 * LANES];
            float aw = Math.fma(w0, w0, 0f);
            float ag = Math.fma(g0, g0, 0f);
            aw = Math.fma(w1, w1, aw);
            ag = Math.fma(g1, g1, ag);
            aw = Math.fma(w2, w2, aw);
            ag = Math.fma(g2, g2, ag);
            lw[i] = Math.fma(w3, w3, aw);
            lg[i] = Math.fma(g3, g3, ag);
        }
    }

    /** Full tile, w, g and u = fma(lam, w, g). */
    private static void fullTileWGU(float[] lw, float[] lg, float[] lu, float[] w, int ow, float[] g, int og, float lam) {
        for (int i = 0; i < LANES; i++) {
            int p = ow + i;
            int o = og + i;
            float w0 = w[p], w1 = w[p + LANES], w2 = w[p + 2 * LANES], w3 = w[p + 3 * LANES];
            float g0 = g[o], g1 = g[o + LANES], g2 = g[o + 2 * LANES], g3 = g[o + 3 * LANES];
            float u0 = Math.fma(lam, w0, g0), u1 = Math.fma(lam, w1, g1), u2 = Math.fma(lam, w2, g2), u3 = Math.fma(lam, w3, g3);
            float aw = Math.fma(w0, w0, 0f);
            float ag = Math.fma(g0, g0, 0f);
            float au = Math.fma(u0, u0, 0f);
            aw = Math.fma(w1, w1, aw);
            ag = Math.fma(g1, g1, ag);
            au = Math.fma(u1, u1, au);
            aw = Math.fma(w2, w2, aw);
            ag = Math.fma(g2, g2, ag);
            au = Math.fma(u2, u2, au);
            lw[i] = Math.fma(w3, w3, aw);
            lg[i] = Math.fma(g3, g3, ag);
            lu[i] = Math.fma(u3, u3, au);
        }
    }

    /** Norm pass, lanes for w and g: {@code lw += w*w, lg += g*g} (fma). */
    private static void accumulateWG(float[] lw, float[] lg, float[] w, int ow, float[] g, int og, int n) {
        for (int base = 0; base < n; base += LANES) {
            int lim = Math.min(LANES, n - base);
            int wo = ow + base;
            int go = og + base;
            for (int i = 0; i < lim; i++) {
                float wv = w[wo + i];
                float gv = g[go + i];
                lw[i] = Math.fma(wv, wv, lw[i]);
                lg[i] = Math.fma(gv, gv, lg[i]);
            }
        }
    }

    /** Norm pass, lanes for w, g and u = fma(lam, w, g). */
    private static void accumulateWGU(float[] lw, float[] lg, float[] lu, float[] w, int ow, float[] g, int og, int n, float lam) {
        for (int base = 0; base < n; base += LANES) {
            int lim = Math.min(LANES, n - base);
            int wo = ow + base;
            int go = og + base;
            for (int i = 0; i < lim; i++) {
                float wv = w[wo + i];
                float gv = g[go + i];
                float uv = Math.fma(lam, wv, gv);
                lw[i] = Math.fma(wv, wv, lw[i]);
                lg[i] = Math.fma(gv, gv, lg[i]);
                lu[i] = Math.fma(uv, uv, lu[i]);
            }
        }
    }
}

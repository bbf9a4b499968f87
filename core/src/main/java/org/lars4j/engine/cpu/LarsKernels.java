package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;

/**
 * The element-wise loops of the LARS step on one tile, in the canonical float32 sequences of
 * docs/CANONICAL_ORDER.md: the scalar tile kernels ({@link ScalarTileKernels}) and the reference
 * the Vector API ones ({@link VectorTileKernels}) must match. C2 vectorises only the one-index
 * update loops; the others (lanes and tile at different offsets) stay scalar. Every
 * operation is IEEE correctly rounded ({@code Math.fma}, {@code *}, {@code -}), and Java never
 * contracts {@code a * b + c} on its own, so the CUDA kernels can reproduce each bit.
 */
final class LarsKernels {
    private LarsKernels() {}

    // Full tiles (4096 elements): each lane's four rounds in one loop body, lanes written once.
    // The same operations in the same order as the general loops below (a = fma(x_r, x_r, a),
    // r = 0..3, from +0), but one pass over the lanes instead of four (fewer lane loads and
    // stores; C2 still leaves them scalar, bench/RESULTS.md "Vector API tile kernels").

    /** Full tile, g only. */
    static void fullTileG(float[] lg, float[] g, int og) {
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
    static void fullTileWG(float[] lw, float[] lg, float[] w, int ow, float[] g, int og) {
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
    static void fullTileWGU(float[] lw, float[] lg, float[] lu, float[] w, int ow, float[] g, int og, float lam) {
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
    static void accumulateWG(float[] lw, float[] lg, float[] w, int ow, float[] g, int og, int n) {
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
    static void accumulateWGU(float[] lw, float[] lg, float[] lu, float[] w, int ow, float[] g, int og, int n, float lam) {
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

    // The same updates with one index for w, g and v (the flat form with flat momentum): JDK 17's
    // C2 vectorises a loop over several arrays only when they share the index expression, since
    // with different offsets it cannot rule out that two of them are one array.

    /** {@link #updateInside(float[], int, float[], int, float[], int, int, float, float, float, boolean)} at one offset. */
    static void updateInside(float[] w, float[] g, float[] v, int o, int n, float lam, float scale, float mu, boolean nesterov) {
        final int end = o + n;
        if (nesterov) {
            for (int i = o; i < end; i++) {
                float wv = w[i];
                float s = scale * Math.fma(lam, wv, g[i]);
                float vn = Math.fma(mu, v[i], s);
                v[i] = vn;
                w[i] = wv - Math.fma(mu, vn, s);
            }
        } else {
            for (int i = o; i < end; i++) {
                float wv = w[i];
                float s = scale * Math.fma(lam, wv, g[i]);
                float vn = Math.fma(mu, v[i], s);
                v[i] = vn;
                w[i] = wv - vn;
            }
        }
    }

    /** {@link #updateOutside(float[], int, float[], int, float[], int, int, float, float, float, float, float, boolean, boolean)} at one offset. */
    static void updateOutside(float[] w, float[] g, float[] v, int o, int n, float lam, float tr, float mu, float damp1,
                              float negLr, boolean first, boolean nesterov) {
        final int end = o + n;
        if (first) {
            for (int i = o; i < end; i++) {
                float wv = w[i];
                float d = tr * Math.fma(lam, wv, g[i]);
                v[i] = d;
                w[i] = Math.fma(negLr, nesterov ? Math.fma(mu, d, d) : d, wv);
            }
        } else if (nesterov) {
            for (int i = o; i < end; i++) {
                float wv = w[i];
                float d = tr * Math.fma(lam, wv, g[i]);
                float vn = Math.fma(mu, v[i], damp1 * d);
                v[i] = vn;
                w[i] = Math.fma(negLr, Math.fma(mu, vn, d), wv);
            }
        } else {
            for (int i = o; i < end; i++) {
                float wv = w[i];
                float d = tr * Math.fma(lam, wv, g[i]);
                float vn = Math.fma(mu, v[i], damp1 * d);
                v[i] = vn;
                w[i] = Math.fma(negLr, vn, wv);
            }
        }
    }

    /**
     * LR_INSIDE (paper, MLPerf, optax), per element:
     * <pre>
     * u  = fma(lam, w, g)          // update direction g + lam*w
     * s  = scale * u               // scale = (float)(lr * tr), rounded once from float64
     * v' = fma(mu, v, s)           // momentum: v = mu*v + s
     * w' = w - v'                  // nesterov: w' = w - fma(mu, v', s)
     * </pre>
     */
    static void updateInside(float[] w, int ow, float[] g, int og, float[] v, int ov, int n,
                             float lam, float scale, float mu, boolean nesterov) {
        if (nesterov) {
            for (int i = 0; i < n; i++) {
                float wv = w[ow + i];
                float s = scale * Math.fma(lam, wv, g[og + i]);
                float vn = Math.fma(mu, v[ov + i], s);
                v[ov + i] = vn;
                w[ow + i] = wv - Math.fma(mu, vn, s);
            }
        } else {
            for (int i = 0; i < n; i++) {
                float wv = w[ow + i];
                float s = scale * Math.fma(lam, wv, g[og + i]);
                float vn = Math.fma(mu, v[ov + i], s);
                v[ov + i] = vn;
                w[ow + i] = wv - vn;
            }
        }
    }

    /**
     * LR_OUTSIDE (timm, apex LARC, TVLARS; PyTorch SGD buffer semantics), per element:
     * <pre>
     * u  = fma(lam, w, g)          // update direction g + lam*w
     * d  = tr * u                  // tr = (float) trust ratio
     * v' = first ? d               // PyTorch: the buffer starts as a copy of d
     *            : fma(mu, v, damp1 * d)   // damp1 = (float)(1 - dampening)
     * w' = fma(-lr, v', w)         // nesterov: w' = fma(-lr, fma(mu, v', d), w)
     * </pre>
     */
    static void updateOutside(float[] w, int ow, float[] g, int og, float[] v, int ov, int n,
                              float lam, float tr, float mu, float damp1, float negLr,
                              boolean first, boolean nesterov) {
        if (first) {
            for (int i = 0; i < n; i++) {
                float wv = w[ow + i];
                float d = tr * Math.fma(lam, wv, g[og + i]);
                v[ov + i] = d;
                w[ow + i] = Math.fma(negLr, nesterov ? Math.fma(mu, d, d) : d, wv);
            }
        } else if (nesterov) {
            for (int i = 0; i < n; i++) {
                float wv = w[ow + i];
                float d = tr * Math.fma(lam, wv, g[og + i]);
                float vn = Math.fma(mu, v[ov + i], damp1 * d);
                v[ov + i] = vn;
                w[ow + i] = Math.fma(negLr, Math.fma(mu, vn, d), wv);
            }
        } else {
            for (int i = 0; i < n; i++) {
                float wv = w[ow + i];
                float d = tr * Math.fma(lam, wv, g[og + i]);
                float vn = Math.fma(mu, v[ov + i], damp1 * d);
                v[ov + i] = vn;
                w[ow + i] = Math.fma(negLr, vn, wv);
            }
        }
    }
}

package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;

/**
 * LAMB's element-wise loops on one tile in plain Java (the fallback {@link LambKernels}), in the
 * canonical float32 sequence of docs/CANONICAL_ORDER.md (LAMB section). The moments pass computes r once (for ||r||) and
 * stores it; the apply pass uses the stored r, the same bits as the CUDA kernels' recomputation
 * from the same m', v' and w.
 */
final class ScalarLambKernels extends ScalarKernelSupport implements LambKernels {
    static final ScalarLambKernels INSTANCE = new ScalarLambKernels();

    private ScalarLambKernels() {}

    /**
     * Moments pass, per element (e = tile element, lane = e mod 1024, rounds in order):
     * <pre>
     * gs = g / clip                             // global gradient-norm clip (clip = 1 when off: exact)
     * gs = adamW ? gs : fma(lam, w, gs)         // L2 mode: decay folded into the gradient
     * m' = fma(b1, m, b3 * gs)                  // b3 = 1 - b1 (grad averaging) or 1
     * v' = fma(b2, v, omb2 * (gs * gs))         // omb2 = 1 - b2
     * r  = (m' / bc1) / (sqrt(v' / bc2) + eps)  // bc = 1 - beta^t, or 1 without bias correction;
     *                                           // rectified: bc1 = (1 - beta1^t) / rect
     * r  = momentumOnly ? m' / bc1 : r          // rectified LAMB while rho_t <= 5 (bc1 = 1 - beta1^t)
     * r  = adamW ? fma(lam, w, r) : r           // decoupled weight decay
     * lanes: lr += r*r, lw += w*w (fma)         // used only for adapted segments
     * rOut[or + e] = r                          // for the apply pass of the same block
     * </pre>
     * Two loops (AdamW / L2) with the constants in locals and no branch inside. C2 vectorises
     * them only where w, g and the state share one index, which the tile layout rarely gives;
     * {@link VectorLambKernels} is the fast form.
     */
    @Override
    public void moments(float[] w, int ow, float[] g, int og, float[] m, float[] v, int os, int n, float lam,
                        Consts c, float[] lr, float[] lw, float[] tmpM, float[] tmpV, float[] rOut, int or) {
        final float clip = c.clip, b1 = c.b1, b3 = c.b3, b2 = c.b2, omb2 = c.omb2, bc1 = c.bc1, bc2 = c.bc2, eps = c.eps;
        final boolean adamW = c.adamW;
        final boolean momentumOnly = c.momentumOnly;
        for (int base = 0; base < n; base += LANES) {
            final int lim = Math.min(LANES, n - base);
            final int wo = ow + base;
            final int go = og + base;
            final int so = os + base;
            final int ro = or + base;
            // Three loops with the same operations per element: the middle one holds the square
            // root, which C2 cannot vectorise through float->double->float; the others can, where the
            // indexes line up.
            if (adamW) {
                for (int i = 0; i < lim; i++) {
                    float gs = g[go + i] / clip;
                    float mn = Math.fma(b1, m[so + i], b3 * gs);
                    float vn = Math.fma(b2, v[so + i], omb2 * (gs * gs));
                    m[so + i] = mn;
                    v[so + i] = vn;
                    tmpM[i] = mn / bc1;
                    tmpV[i] = vn / bc2;
                }
            } else {
                for (int i = 0; i < lim; i++) {
                    float gs = Math.fma(lam, w[wo + i], g[go + i] / clip);
                    float mn = Math.fma(b1, m[so + i], b3 * gs);
                    float vn = Math.fma(b2, v[so + i], omb2 * (gs * gs));
                    m[so + i] = mn;
                    v[so + i] = vn;
                    tmpM[i] = mn / bc1;
                    tmpV[i] = vn / bc2;
                }
            }
            if (momentumOnly) {
                momentumOnlyDirection(w, wo, lim, lam, adamW, lr, lw, tmpM, rOut, ro);
                continue;
            }
            for (int i = 0; i < lim; i++) tmpV[i] = (float) Math.sqrt(tmpV[i]);
            if (adamW) {
                for (int i = 0; i < lim; i++) {
                    float wv = w[wo + i];
                    float r = Math.fma(lam, wv, tmpM[i] / (tmpV[i] + eps));
                    rOut[ro + i] = r;
                    lr[i] = Math.fma(r, r, lr[i]);
                    lw[i] = Math.fma(wv, wv, lw[i]);
                }
            } else {
                for (int i = 0; i < lim; i++) {
                    float wv = w[wo + i];
                    float r = tmpM[i] / (tmpV[i] + eps);
                    rOut[ro + i] = r;
                    lr[i] = Math.fma(r, r, lr[i]);
                    lw[i] = Math.fma(wv, wv, lw[i]);
                }
            }
        }
    }

    /** Rectified LAMB's momentum-only phase: {@code r = mh} (in tmpM), then the decay and the lanes as in the Adam phase. */
    private static void momentumOnlyDirection(float[] w, int wo, int lim, float lam, boolean adamW, float[] lr, float[] lw,
                                              float[] tmpM, float[] rOut, int ro) {
        for (int i = 0; i < lim; i++) {
            float wv = w[wo + i];
            float r = adamW ? Math.fma(lam, wv, tmpM[i]) : tmpM[i];
            rOut[ro + i] = r;
            lr[i] = Math.fma(r, r, lr[i]);
            lw[i] = Math.fma(wv, wv, lw[i]);
        }
    }

    /**
     * Apply pass: {@code w' = fma(negScale, r, w)}, negScale = -(float)(lr * tr), with the r the
     * moments pass stored — the same bits as recomputing it from m', v' and w (the CUDA kernels
     * do that; on the CPU it would repeat the moments pass's divisions and square root).
     */
    @Override
    public void apply(float[] w, int ow, float[] r, int or, int n, float negScale) {
        for (int i = 0; i < n; i++) w[ow + i] = Math.fma(negScale, r[or + i], w[ow + i]);
    }
}

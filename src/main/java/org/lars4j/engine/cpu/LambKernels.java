package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;

/**
 * LAMB's element-wise loops on one tile, in the canonical float32 sequence of
 * docs/CANONICAL_ORDER.md (LAMB section). The same r is computed twice — in the moments pass
 * (for ||r||) and in the apply pass — from the same stored m', v' and w, hence the same bits.
 */
final class LambKernels {
    private LambKernels() {}

    /** Float constants of one step (rounded once from float64 on the host). */
    static final class Consts {
        float clip;         // c = max(1, G / maxGradNorm), 1 without a clip; gs = g / c
        float b1, b3, b2, omb2, bc1, bc2, eps;
        boolean adamW;
    }

    /**
     * Moments pass, per element (e = tile element, lane = e mod 1024, rounds in order):
     * <pre>
     * gs = g / clip                             // global gradient-norm clip (clip = 1 when off: exact)
     * gs = adamW ? gs : fma(lam, w, gs)         // L2 mode: decay folded into the gradient
     * m' = fma(b1, m, b3 * gs)                  // b3 = 1 - b1 (grad averaging) or 1
     * v' = fma(b2, v, omb2 * (gs * gs))         // omb2 = 1 - b2
     * r  = (m' / bc1) / (sqrt(v' / bc2) + eps)  // bc = 1 - beta^t, or 1 without bias correction
     * r  = adamW ? fma(lam, w, r) : r           // decoupled weight decay
     * lanes: lr += r*r, lw += w*w (fma)         // used only for adapted segments
     * </pre>
     * Two loops (AdamW / L2) with the constants in locals and no branch inside, so that C2
     * vectorises the divisions and square roots.
     */
    static void moments(float[] w, int ow, float[] g, int og, float[] m, float[] v, int os, int n, float lam,
                        Consts c, float[] lr, float[] lw) {
        final float clip = c.clip, b1 = c.b1, b3 = c.b3, b2 = c.b2, omb2 = c.omb2, bc1 = c.bc1, bc2 = c.bc2, eps = c.eps;
        for (int base = 0; base < n; base += LANES) {
            final int lim = Math.min(LANES, n - base);
            final int wo = ow + base;
            final int go = og + base;
            final int so = os + base;
            if (c.adamW) {
                for (int i = 0; i < lim; i++) {
                    float wv = w[wo + i];
                    float gs = g[go + i] / clip;
                    float mn = Math.fma(b1, m[so + i], b3 * gs);
                    float vn = Math.fma(b2, v[so + i], omb2 * (gs * gs));
                    m[so + i] = mn;
                    v[so + i] = vn;
                    float r = Math.fma(lam, wv, (mn / bc1) / ((float) Math.sqrt(vn / bc2) + eps));
                    lr[i] = Math.fma(r, r, lr[i]);
                    lw[i] = Math.fma(wv, wv, lw[i]);
                }
            } else {
                for (int i = 0; i < lim; i++) {
                    float wv = w[wo + i];
                    float gs = Math.fma(lam, wv, g[go + i] / clip);
                    float mn = Math.fma(b1, m[so + i], b3 * gs);
                    float vn = Math.fma(b2, v[so + i], omb2 * (gs * gs));
                    m[so + i] = mn;
                    v[so + i] = vn;
                    float r = (mn / bc1) / ((float) Math.sqrt(vn / bc2) + eps);
                    lr[i] = Math.fma(r, r, lr[i]);
                    lw[i] = Math.fma(wv, wv, lw[i]);
                }
            }
        }
    }

    /** Apply pass: r as in {@link #moments} from the stored m', v'; then w' = fma(-(float)(lr*tr), r, w). */
    static void apply(float[] w, int ow, float[] m, float[] v, int os, int n, float lam, Consts c, float negScale) {
        final float bc1 = c.bc1, bc2 = c.bc2, eps = c.eps;
        final float lamW = c.adamW ? lam : 0f;
        if (c.adamW) {
            for (int e = 0; e < n; e++) {
                float wv = w[ow + e];
                float r = Math.fma(lamW, wv, (m[os + e] / bc1) / ((float) Math.sqrt(v[os + e] / bc2) + eps));
                w[ow + e] = Math.fma(negScale, r, wv);
            }
        } else {
            for (int e = 0; e < n; e++) {
                float wv = w[ow + e];
                float r = (m[os + e] / bc1) / ((float) Math.sqrt(v[os + e] / bc2) + eps);
                w[ow + e] = Math.fma(negScale, r, wv);
            }
        }
    }
}

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
        float clip;         // c = max(1, G / maxGradNorm); gs = g / c
        boolean clipOn;
        float b1, b3, b2, omb2, bc1, bc2, eps;
        boolean adamW;
    }

    /**
     * Moments pass, per element (e = tile element, lane = e mod 1024, rounds in order):
     * <pre>
     * gs = clipOn ? g / clip : g                // global gradient-norm clip (apex)
     * gs = adamW ? gs : fma(lam, w, gs)         // L2 mode: decay folded into the gradient
     * m' = fma(b1, m, b3 * gs)                  // b3 = 1 - b1 (grad averaging) or 1
     * v' = fma(b2, v, omb2 * (gs * gs))         // omb2 = 1 - b2
     * r  = (m' / bc1) / (sqrt(v' / bc2) + eps)  // bc = 1 - beta^t, or 1 without bias correction
     * r  = adamW ? fma(lam, w, r) : r           // decoupled weight decay
     * lanes: lr += r*r, lw += w*w (fma), for adapted segments
     * </pre>
     */
    static void moments(float[] w, int ow, float[] g, int og, float[] m, float[] v, int os, int n, float lam,
                        Consts c, boolean adapt, float[] lr, float[] lw) {
        for (int base = 0; base < n; base += LANES) {
            int lim = Math.min(LANES, n - base);
            for (int i = 0; i < lim; i++) {
                int e = base + i;
                float wv = w[ow + e];
                float gs = g[og + e];
                if (c.clipOn) gs = gs / c.clip;
                if (!c.adamW) gs = Math.fma(lam, wv, gs);
                float mn = Math.fma(c.b1, m[os + e], c.b3 * gs);
                float vn = Math.fma(c.b2, v[os + e], c.omb2 * (gs * gs));
                m[os + e] = mn;
                v[os + e] = vn;
                float r = (mn / c.bc1) / ((float) Math.sqrt(vn / c.bc2) + c.eps);
                if (c.adamW) r = Math.fma(lam, wv, r);
                if (adapt) {
                    lr[i] = Math.fma(r, r, lr[i]);
                    lw[i] = Math.fma(wv, wv, lw[i]);
                }
            }
        }
    }

    /** Apply pass: r as in {@link #moments} from the stored m', v'; then w' = fma(-(float)(lr*tr), r, w). */
    static void apply(float[] w, int ow, float[] m, float[] v, int os, int n, float lam, Consts c, float negScale) {
        for (int e = 0; e < n; e++) {
            float wv = w[ow + e];
            float r = (m[os + e] / c.bc1) / ((float) Math.sqrt(v[os + e] / c.bc2) + c.eps);
            if (c.adamW) r = Math.fma(lam, wv, r);
            w[ow + e] = Math.fma(negScale, r, wv);
        }
    }
}

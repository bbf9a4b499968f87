package org.lars4j.engine.cpu;

import java.nio.ByteBuffer;

/**
 * The LARS update on one tile in plain Java: the canonical float32 sequences of
 * docs/CANONICAL_ORDER.md section 5, the fallback {@link LarsKernels} and the reference
 * {@link VectorLarsKernels} must match. C2 vectorises only the one-index loops. Every
 * operation is IEEE correctly rounded ({@code Math.fma}, {@code *}, {@code -}), and Java never
 * contracts {@code a * b + c} on its own, so the CUDA kernels can reproduce each bit.
 */
final class ScalarLarsKernels extends ScalarKernelSupport implements LarsKernels {
    static final ScalarLarsKernels INSTANCE = new ScalarLarsKernels();

    private ScalarLarsKernels() {}

    @Override
    public void updateInside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                             float lam, float scale, float mu, boolean nesterov) {
        arraysOnly(wb);
        arraysOnly(gb);
        if (ow == ov && og == ov) updateInside(w, g, v, ov, n, lam, scale, mu, nesterov);
        else updateInside(w, ow, g, og, v, ov, n, lam, scale, mu, nesterov);
    }

    @Override
    public void updateOutside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                              float lam, float tr, float mu, float damp1, float negLr, boolean first, boolean nesterov) {
        arraysOnly(wb);
        arraysOnly(gb);
        if (ow == ov && og == ov) updateOutside(w, g, v, ov, n, lam, tr, mu, damp1, negLr, first, nesterov);
        else updateOutside(w, ow, g, og, v, ov, n, lam, tr, mu, damp1, negLr, first, nesterov);
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

package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;
import static org.lars4j.engine.cpu.VectorKernelSupport.S;
import static org.lars4j.engine.cpu.VectorKernelSupport.V;

import jdk.incubator.vector.FloatVector;

/**
 * {@link LambKernels} on the Vector API. The divisions and square roots make the moments loop
 * compute-bound in scalar form; here they run 8 lanes per instruction (vdivps / vsqrtps are IEEE
 * correctly rounded, like the scalar ones: a float square root taken in double and rounded once
 * is the correctly rounded one). Every line is the lane-wise form of {@link ScalarLambKernels}'
 * loop, so the same bits.
 *
 * <p>Loaded only by {@link KernelProvider} after it has checked that the module
 * {@code jdk.incubator.vector} is in the boot layer.
 */
final class VectorLambKernels implements LambKernels {
    static final VectorLambKernels INSTANCE = new VectorLambKernels();

    private VectorLambKernels() {}

    @Override
    public String name() {
        return "Vector API kernels (256-bit)";
    }

    @Override
    public void moments(float[] w, int ow, float[] g, int og, float[] m, float[] v, int os, int n, float lam,
                            Consts c, float[] lr, float[] lw, float[] tmpM, float[] tmpV, float[] rOut, int or) {
        FloatVector clip = FloatVector.broadcast(S, c.clip);
        FloatVector b1 = FloatVector.broadcast(S, c.b1);
        FloatVector b3 = FloatVector.broadcast(S, c.b3);
        FloatVector b2 = FloatVector.broadcast(S, c.b2);
        FloatVector omb2 = FloatVector.broadcast(S, c.omb2);
        FloatVector bc1 = FloatVector.broadcast(S, c.bc1);
        FloatVector bc2 = FloatVector.broadcast(S, c.bc2);
        FloatVector eps = FloatVector.broadcast(S, c.eps);
        FloatVector lamV = FloatVector.broadcast(S, lam);
        boolean adamW = c.adamW;
        boolean momentumOnly = c.momentumOnly;
        for (int base = 0; base < n; base += LANES) {
            int lim = Math.min(LANES, n - base);
            int wo = ow + base;
            int go = og + base;
            int so = os + base;
            int ro = or + base;
            int i = 0;
            for (int end = S.loopBound(lim); i < end; i += V) {
                FloatVector wv = FloatVector.fromArray(S, w, wo + i);
                FloatVector gs = FloatVector.fromArray(S, g, go + i).div(clip);             // g / clip
                if (!adamW) gs = lamV.fma(wv, gs);                                           // L2: g + lam*w
                FloatVector mn = b1.fma(FloatVector.fromArray(S, m, so + i), b3.mul(gs));     // m' = b1*m + b3*gs
                FloatVector vn = b2.fma(FloatVector.fromArray(S, v, so + i), omb2.mul(gs.mul(gs))); // v' = b2*v + (1-b2)*gs^2
                mn.intoArray(m, so + i);
                vn.intoArray(v, so + i);
                FloatVector r = mn.div(bc1);                                                 // mh = m'/bc1
                if (!momentumOnly) r = r.div(vn.div(bc2).sqrt().add(eps));                   // mh / (sqrt(v'/bc2) + eps)
                if (adamW) r = lamV.fma(wv, r);                                              // AdamW: r + lam*w
                r.intoArray(rOut, ro + i);                                                   // for the apply pass
                r.fma(r, FloatVector.fromArray(S, lr, i)).intoArray(lr, i);                   // lane += r^2
                wv.fma(wv, FloatVector.fromArray(S, lw, i)).intoArray(lw, i);                 // lane += w^2
            }
            for (; i < lim; i++) {
                // Past the last whole vector: the same operations one lane at a time.
                float wv = w[wo + i];
                float gs = g[go + i] / c.clip;
                if (!adamW) gs = Math.fma(lam, wv, gs);
                float mn = Math.fma(c.b1, m[so + i], c.b3 * gs);
                float vn = Math.fma(c.b2, v[so + i], c.omb2 * (gs * gs));
                m[so + i] = mn;
                v[so + i] = vn;
                float r = mn / c.bc1;
                if (!momentumOnly) r = r / ((float) Math.sqrt(vn / c.bc2) + c.eps);
                if (adamW) r = Math.fma(lam, wv, r);
                rOut[ro + i] = r;
                lr[i] = Math.fma(r, r, lr[i]);
                lw[i] = Math.fma(wv, wv, lw[i]);
            }
        }
    }

    @Override
    public void apply(float[] w, int ow, float[] r, int or, int n, float negScale) {
        FloatVector neg = FloatVector.broadcast(S, negScale);
        int i = 0;
        for (int end = S.loopBound(n); i < end; i += V) {
            FloatVector wv = FloatVector.fromArray(S, w, ow + i);
            neg.fma(FloatVector.fromArray(S, r, or + i), wv).intoArray(w, ow + i);              // w' = fma(-lr*tr, r, w)
        }
        if (i < n) ScalarLambKernels.INSTANCE.apply(w, ow + i, r, or + i, n - i, negScale);
    }
}

package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TileKernels} on the Vector API, 8 float lanes (256 bits) at a time. Every line is the
 * lane-wise form of the scalar loop it replaces ({@link LarsKernels}, {@link CanonicalOrder}):
 * same operations, same operands, same order, so the same bits. Elements past the last whole
 * vector go through the scalar loops. See the note on the updates for when they run here.
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
    public float sumOfSquaresAnyOrder(float[] x, int from, int to) {
        FloatVector a0 = FloatVector.zero(S);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        int i = from;
        for (; i <= to - 4 * V; i += 4 * V) {   // four independent chains hide the fma latency
            FloatVector x0 = FloatVector.fromArray(S, x, i);
            FloatVector x1 = FloatVector.fromArray(S, x, i + V);
            FloatVector x2 = FloatVector.fromArray(S, x, i + 2 * V);
            FloatVector x3 = FloatVector.fromArray(S, x, i + 3 * V);
            a0 = x0.fma(x0, a0);
            a1 = x1.fma(x1, a1);
            a2 = x2.fma(x2, a2);
            a3 = x3.fma(x3, a3);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < to; i++) s = Math.fma(x[i], x[i], s);
        return s;
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

    // The updates. In the flat form (w, g and v at one index: DL4J's flat buffer) C2 vectorises
    // and unrolls the scalar loops itself, and they measured faster than any Vector API form, so
    // they run there. With three different offsets (tensors handed one by one, momentum in one
    // flat array) C2 leaves the scalar loops scalar, about 6x slower; there the Vector API loops
    // below run, four 8-lane groups per iteration, loads first (26 GB/s against 18 for one group
    // per iteration and 5 for the scalar loop; bench/RESULTS.md). Each group is the lane-wise form
    // of LarsKernels' loop.

    private static final int UNROLL = 4 * V;

    @Override
    public void updateInside(float[] w, int ow, float[] g, int og, float[] v, int ov, int n,
                             float lam, float scale, float mu, boolean nesterov) {
        if (ow == ov && og == ov) {
            LarsKernels.updateInside(w, g, v, ov, n, lam, scale, mu, nesterov);
            return;
        }
        FloatVector lamV = FloatVector.broadcast(S, lam);
        FloatVector muV = FloatVector.broadcast(S, mu);
        FloatVector scaleV = FloatVector.broadcast(S, scale);
        int i = 0;
        for (int end = n - UNROLL + 1; i < end; i += UNROLL) {
            // Four groups side by side: all loads first, then the arithmetic, then the stores.
            int a = ow + i;
            int b = og + i;
            int c = ov + i;
            FloatVector w0 = FloatVector.fromArray(S, w, a);
            FloatVector w1 = FloatVector.fromArray(S, w, a + V);
            FloatVector w2 = FloatVector.fromArray(S, w, a + 2 * V);
            FloatVector w3 = FloatVector.fromArray(S, w, a + 3 * V);
            FloatVector s0 = scaleV.mul(lamV.fma(w0, FloatVector.fromArray(S, g, b)));          // s = scale * fma(lam, w, g)
            FloatVector s1 = scaleV.mul(lamV.fma(w1, FloatVector.fromArray(S, g, b + V)));
            FloatVector s2 = scaleV.mul(lamV.fma(w2, FloatVector.fromArray(S, g, b + 2 * V)));
            FloatVector s3 = scaleV.mul(lamV.fma(w3, FloatVector.fromArray(S, g, b + 3 * V)));
            FloatVector v0 = muV.fma(FloatVector.fromArray(S, v, c), s0);                      // v' = fma(mu, v, s)
            FloatVector v1 = muV.fma(FloatVector.fromArray(S, v, c + V), s1);
            FloatVector v2 = muV.fma(FloatVector.fromArray(S, v, c + 2 * V), s2);
            FloatVector v3 = muV.fma(FloatVector.fromArray(S, v, c + 3 * V), s3);
            v0.intoArray(v, c);
            v1.intoArray(v, c + V);
            v2.intoArray(v, c + 2 * V);
            v3.intoArray(v, c + 3 * V);
            if (nesterov) {                                                                     // w' = w - fma(mu, v', s)
                w0.sub(muV.fma(v0, s0)).intoArray(w, a);
                w1.sub(muV.fma(v1, s1)).intoArray(w, a + V);
                w2.sub(muV.fma(v2, s2)).intoArray(w, a + 2 * V);
                w3.sub(muV.fma(v3, s3)).intoArray(w, a + 3 * V);
            } else {                                                                            // w' = w - v'
                w0.sub(v0).intoArray(w, a);
                w1.sub(v1).intoArray(w, a + V);
                w2.sub(v2).intoArray(w, a + 2 * V);
                w3.sub(v3).intoArray(w, a + 3 * V);
            }
        }
        if (i < n) LarsKernels.updateInside(w, ow + i, g, og + i, v, ov + i, n - i, lam, scale, mu, nesterov);
    }

    @Override
    public void updateOutside(float[] w, int ow, float[] g, int og, float[] v, int ov, int n,
                              float lam, float tr, float mu, float damp1, float negLr, boolean first, boolean nesterov) {
        if (ow == ov && og == ov) {
            LarsKernels.updateOutside(w, g, v, ov, n, lam, tr, mu, damp1, negLr, first, nesterov);
            return;
        }
        FloatVector lamV = FloatVector.broadcast(S, lam);
        FloatVector trV = FloatVector.broadcast(S, tr);
        FloatVector muV = FloatVector.broadcast(S, mu);
        FloatVector damp1V = FloatVector.broadcast(S, damp1);
        FloatVector negLrV = FloatVector.broadcast(S, negLr);
        int i = 0;
        for (int end = n - UNROLL + 1; i < end; i += UNROLL) {
            // Four groups side by side: all loads first, then the arithmetic, then the stores.
            int a = ow + i;
            int b = og + i;
            int c = ov + i;
            FloatVector w0 = FloatVector.fromArray(S, w, a);
            FloatVector w1 = FloatVector.fromArray(S, w, a + V);
            FloatVector w2 = FloatVector.fromArray(S, w, a + 2 * V);
            FloatVector w3 = FloatVector.fromArray(S, w, a + 3 * V);
            FloatVector d0 = trV.mul(lamV.fma(w0, FloatVector.fromArray(S, g, b)));             // d = tr * fma(lam, w, g)
            FloatVector d1 = trV.mul(lamV.fma(w1, FloatVector.fromArray(S, g, b + V)));
            FloatVector d2 = trV.mul(lamV.fma(w2, FloatVector.fromArray(S, g, b + 2 * V)));
            FloatVector d3 = trV.mul(lamV.fma(w3, FloatVector.fromArray(S, g, b + 3 * V)));
            FloatVector v0 = d0;                                                                // first step: v' = d
            FloatVector v1 = d1;
            FloatVector v2 = d2;
            FloatVector v3 = d3;
            if (!first) {                                                                       // v' = fma(mu, v, damp1 * d)
                v0 = muV.fma(FloatVector.fromArray(S, v, c), damp1V.mul(d0));
                v1 = muV.fma(FloatVector.fromArray(S, v, c + V), damp1V.mul(d1));
                v2 = muV.fma(FloatVector.fromArray(S, v, c + 2 * V), damp1V.mul(d2));
                v3 = muV.fma(FloatVector.fromArray(S, v, c + 3 * V), damp1V.mul(d3));
            }
            v0.intoArray(v, c);
            v1.intoArray(v, c + V);
            v2.intoArray(v, c + 2 * V);
            v3.intoArray(v, c + 3 * V);
            if (nesterov) {                                                                     // w' = fma(-lr, fma(mu, v', d), w)
                negLrV.fma(muV.fma(v0, d0), w0).intoArray(w, a);
                negLrV.fma(muV.fma(v1, d1), w1).intoArray(w, a + V);
                negLrV.fma(muV.fma(v2, d2), w2).intoArray(w, a + 2 * V);
                negLrV.fma(muV.fma(v3, d3), w3).intoArray(w, a + 3 * V);
            } else {                                                                            // w' = fma(-lr, v', w)
                negLrV.fma(v0, w0).intoArray(w, a);
                negLrV.fma(v1, w1).intoArray(w, a + V);
                negLrV.fma(v2, w2).intoArray(w, a + 2 * V);
                negLrV.fma(v3, w3).intoArray(w, a + 3 * V);
            }
        }
        if (i < n) {
            LarsKernels.updateOutside(w, ow + i, g, og + i, v, ov + i, n - i, lam, tr, mu, damp1, negLr, first, nesterov);
        }
    }

    // LAMB: the divisions and square roots make the moments loop compute-bound in scalar form; here
    // they run 8 lanes per instruction (vdivps / vsqrtps are IEEE correctly rounded, like the
    // scalar ones: a float square root taken in double and rounded once is the correctly rounded one).

    @Override
    public void lambMoments(float[] w, int ow, float[] g, int og, float[] m, float[] v, int os, int n, float lam,
                            LambKernels.Consts c, float[] lr, float[] lw, float[] tmpM, float[] tmpV, float[] rOut, int or) {
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
                FloatVector r = mn.div(bc1).div(vn.div(bc2).sqrt().add(eps));                // (m'/bc1) / (sqrt(v'/bc2) + eps)
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
                float r = (mn / c.bc1) / ((float) Math.sqrt(vn / c.bc2) + c.eps);
                if (adamW) r = Math.fma(lam, wv, r);
                rOut[ro + i] = r;
                lr[i] = Math.fma(r, r, lr[i]);
                lw[i] = Math.fma(wv, wv, lw[i]);
            }
        }
    }

    @Override
    public void lambApply(float[] w, int ow, float[] r, int or, int n, float negScale) {
        FloatVector neg = FloatVector.broadcast(S, negScale);
        int i = 0;
        for (int end = S.loopBound(n); i < end; i += V) {
            FloatVector wv = FloatVector.fromArray(S, w, ow + i);
            neg.fma(FloatVector.fromArray(S, r, or + i), wv).intoArray(w, ow + i);              // w' = fma(-lr*tr, r, w)
        }
        if (i < n) LambKernels.applyR(w, ow + i, r, or + i, n - i, negScale);
    }
}

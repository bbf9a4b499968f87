package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TileKernels} on the Vector API, 8 float lanes (256 bits) at a time. Every line is the
 * lane-wise form of the scalar loop it replaces ({@link LarsKernels}, {@link CanonicalOrder}):
 * same operations, same operands, same order, so the same bits. Elements past the last whole
 * vector go through scalar loops of the same operations. See the note on the updates for when
 * they run here. The weights and gradients may be byte buffers, read and written in place
 * ({@link #load}).
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

    /**
     * Whether w and g may be native-order byte buffers, read and written in place: where the
     * JDK's Vector API has {@code FloatVector.fromByteBuffer} (JDK 17 to 19; from JDK 20 on it
     * loads from memory segments instead, so the plan copies byte buffers into arrays there).
     */
    @Override
    public boolean readsByteBuffers() {
        return HAS_BYTE_BUFFER_LOADS;
    }

    private static final boolean HAS_BYTE_BUFFER_LOADS = hasByteBufferLoads();

    private static boolean hasByteBufferLoads() {
        try {
            FloatVector.class.getMethod("fromByteBuffer", jdk.incubator.vector.VectorSpecies.class, ByteBuffer.class, int.class, ByteOrder.class);
            FloatVector.class.getMethod("intoByteBuffer", ByteBuffer.class, int.class, ByteOrder.class);
            return true;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    // Where w and g live: x[i ..] of an array, or (array null) the float32 values at byte 4 i of a
    // byte buffer in native byte order. One kernel body serves both: each load and store picks
    // its form with a test that is the same in every iteration, which C2 moves out of the loop
    // (loop unswitching), so each form runs a loop of its own: the array form as fast as the
    // array-only loops, also when both forms run in one JVM; the buffer form's update pass is
    // slower, in its vector stores (bench/RESULTS.md, the ND4J-memory section).
    // FloatVector.fromByteBuffer is JDK 17-19's only vector load from off-heap memory; that is
    // also why the loads and stores below are written out in both update kernels. Two rules keep the vectors in registers (else each is boxed on
    // the heap: measured, AllocationTest catches it):
    // - the choice is written out at every vector load and store, not in a helper method: C2
    //   compiles a small hot helper on its own, and once that code is big it is no longer inlined
    //   ("already compiled into a big method"), so the vector it returns has to be an object;
    // - native order only: on JDK 17 a byte-swapping load allocates (its shuffle is not
    //   intrinsified), so the plan copies buffers of the other order into arrays.

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private static float get(float[] x, ByteBuffer xb, int i) {
        return x != null ? x[i] : xb.getFloat(i * Float.BYTES);
    }

    private static void put(float[] x, ByteBuffer xb, int i, float value) {
        if (x != null) x[i] = value;
        else xb.putFloat(i * Float.BYTES, value);
    }

    @Override
    public void squares(float[] lane, float[] x, ByteBuffer xb, int off, int n) {
        // Round 0 writes every lane: x^2 (= fma(x, x, +0) exactly), +0 past the end.
        int n0 = Math.min(n, LANES);
        int i = 0;
        for (int end = S.loopBound(n0); i < end; i += V) {
            int e = off + i;
            FloatVector a = x != null ? FloatVector.fromArray(S, x, e) : FloatVector.fromByteBuffer(S, xb, e * Float.BYTES, NATIVE);
            a.mul(a).intoArray(lane, i);
        }
        for (; i < n0; i++) {
            float a = get(x, xb, off + i);
            lane[i] = a * a;
        }
        if (n0 < LANES) Arrays.fill(lane, n0, LANES, 0f);
        // Rounds 1..3: lane i += x[i + 1024 r]^2 (fma), lanes past the end untouched.
        for (int base = LANES; base < n; base += LANES) {
            int lim = Math.min(LANES, n - base);
            int o = off + base;
            int j = 0;
            for (int end = S.loopBound(lim); j < end; j += V) {
                int e = o + j;
                FloatVector a = x != null ? FloatVector.fromArray(S, x, e) : FloatVector.fromByteBuffer(S, xb, e * Float.BYTES, NATIVE);
                a.fma(a, FloatVector.fromArray(S, lane, j)).intoArray(lane, j);
            }
            for (; j < lim; j++) {
                float a = get(x, xb, o + j);
                lane[j] = Math.fma(a, a, lane[j]);
            }
        }
    }

    @Override
    public void squaresWGU(float[] lw, float[] lg, float[] lu, float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og,
                           int n, float lam) {
        squares(lw, w, wb, ow, n);
        squares(lg, g, gb, og, n);
        // u = fma(lam, w, g) is not stored anywhere: the u lanes need w and g side by side.
        FloatVector lamV = FloatVector.broadcast(S, lam);
        int n0 = Math.min(n, LANES);
        int i = 0;
        for (int end = S.loopBound(n0); i < end; i += V) {
            int a = ow + i;
            int b = og + i;
            FloatVector u = lamV.fma(
                    w != null ? FloatVector.fromArray(S, w, a) : FloatVector.fromByteBuffer(S, wb, a * Float.BYTES, NATIVE),
                    g != null ? FloatVector.fromArray(S, g, b) : FloatVector.fromByteBuffer(S, gb, b * Float.BYTES, NATIVE));
            u.mul(u).intoArray(lu, i);
        }
        for (; i < n0; i++) {
            float u = Math.fma(lam, get(w, wb, ow + i), get(g, gb, og + i));
            lu[i] = u * u;
        }
        if (n0 < LANES) Arrays.fill(lu, n0, LANES, 0f);
        for (int base = LANES; base < n; base += LANES) {
            int lim = Math.min(LANES, n - base);
            int wo = ow + base;
            int go = og + base;
            int j = 0;
            for (int end = S.loopBound(lim); j < end; j += V) {
                int a = wo + j;
                int b = go + j;
                FloatVector u = lamV.fma(
                        w != null ? FloatVector.fromArray(S, w, a) : FloatVector.fromByteBuffer(S, wb, a * Float.BYTES, NATIVE),
                        g != null ? FloatVector.fromArray(S, g, b) : FloatVector.fromByteBuffer(S, gb, b * Float.BYTES, NATIVE));
                u.fma(u, FloatVector.fromArray(S, lu, j)).intoArray(lu, j);
            }
            for (; j < lim; j++) {
                float u = Math.fma(lam, get(w, wb, wo + j), get(g, gb, go + j));
                lu[j] = Math.fma(u, u, lu[j]);
            }
        }
    }

    // The updates. In the flat form of arrays (w, g and v at one index: DL4J's flat buffer) C2
    // vectorises and unrolls the scalar loops itself, and they measured faster than any Vector API
    // form, so they run there. With three different offsets (tensors handed one by one, momentum
    // in one flat array) C2 leaves the scalar loops scalar, about 6x slower; there, and for byte
    // buffers, the Vector API loops below run, four 8-lane groups per iteration, loads first
    // (26 GB/s against 18 for one group per iteration and 5 for the scalar loop; bench/RESULTS.md).
    // Each group is the lane-wise form of LarsKernels' loop; so is each element of the tails.

    private static final int UNROLL = 4 * V;

    @Override
    public void updateInside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                             float lam, float scale, float mu, boolean nesterov) {
        if (w != null && g != null && ow == ov && og == ov) {
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
            FloatVector w0, w1, w2, w3, g0, g1, g2, g3;
            if (w != null) {
                w0 = FloatVector.fromArray(S, w, a);
                w1 = FloatVector.fromArray(S, w, a + V);
                w2 = FloatVector.fromArray(S, w, a + 2 * V);
                w3 = FloatVector.fromArray(S, w, a + 3 * V);
            } else {
                w0 = FloatVector.fromByteBuffer(S, wb, a * Float.BYTES, NATIVE);
                w1 = FloatVector.fromByteBuffer(S, wb, (a + V) * Float.BYTES, NATIVE);
                w2 = FloatVector.fromByteBuffer(S, wb, (a + 2 * V) * Float.BYTES, NATIVE);
                w3 = FloatVector.fromByteBuffer(S, wb, (a + 3 * V) * Float.BYTES, NATIVE);
            }
            if (g != null) {
                g0 = FloatVector.fromArray(S, g, b);
                g1 = FloatVector.fromArray(S, g, b + V);
                g2 = FloatVector.fromArray(S, g, b + 2 * V);
                g3 = FloatVector.fromArray(S, g, b + 3 * V);
            } else {
                g0 = FloatVector.fromByteBuffer(S, gb, b * Float.BYTES, NATIVE);
                g1 = FloatVector.fromByteBuffer(S, gb, (b + V) * Float.BYTES, NATIVE);
                g2 = FloatVector.fromByteBuffer(S, gb, (b + 2 * V) * Float.BYTES, NATIVE);
                g3 = FloatVector.fromByteBuffer(S, gb, (b + 3 * V) * Float.BYTES, NATIVE);
            }
            FloatVector s0 = scaleV.mul(lamV.fma(w0, g0));                                      // s = scale * fma(lam, w, g)
            FloatVector s1 = scaleV.mul(lamV.fma(w1, g1));
            FloatVector s2 = scaleV.mul(lamV.fma(w2, g2));
            FloatVector s3 = scaleV.mul(lamV.fma(w3, g3));
            FloatVector v0 = muV.fma(FloatVector.fromArray(S, v, c), s0);                      // v' = fma(mu, v, s)
            FloatVector v1 = muV.fma(FloatVector.fromArray(S, v, c + V), s1);
            FloatVector v2 = muV.fma(FloatVector.fromArray(S, v, c + 2 * V), s2);
            FloatVector v3 = muV.fma(FloatVector.fromArray(S, v, c + 3 * V), s3);
            v0.intoArray(v, c);
            v1.intoArray(v, c + V);
            v2.intoArray(v, c + 2 * V);
            v3.intoArray(v, c + 3 * V);
            FloatVector n0, n1, n2, n3;
            if (nesterov) {                                                                     // w' = w - fma(mu, v', s)
                n0 = w0.sub(muV.fma(v0, s0));
                n1 = w1.sub(muV.fma(v1, s1));
                n2 = w2.sub(muV.fma(v2, s2));
                n3 = w3.sub(muV.fma(v3, s3));
            } else {                                                                            // w' = w - v'
                n0 = w0.sub(v0);
                n1 = w1.sub(v1);
                n2 = w2.sub(v2);
                n3 = w3.sub(v3);
            }
            if (w != null) {
                n0.intoArray(w, a);
                n1.intoArray(w, a + V);
                n2.intoArray(w, a + 2 * V);
                n3.intoArray(w, a + 3 * V);
            } else {
                n0.intoByteBuffer(wb, a * Float.BYTES, NATIVE);
                n1.intoByteBuffer(wb, (a + V) * Float.BYTES, NATIVE);
                n2.intoByteBuffer(wb, (a + 2 * V) * Float.BYTES, NATIVE);
                n3.intoByteBuffer(wb, (a + 3 * V) * Float.BYTES, NATIVE);
            }
        }
        for (; i < n; i++) {
            float wv = get(w, wb, ow + i);
            float s = scale * Math.fma(lam, wv, get(g, gb, og + i));
            float vn = Math.fma(mu, v[ov + i], s);
            v[ov + i] = vn;
            put(w, wb, ow + i, nesterov ? wv - Math.fma(mu, vn, s) : wv - vn);
        }
    }

    @Override
    public void updateOutside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                              float lam, float tr, float mu, float damp1, float negLr, boolean first, boolean nesterov) {
        if (w != null && g != null && ow == ov && og == ov) {
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
            FloatVector w0, w1, w2, w3, g0, g1, g2, g3;
            if (w != null) {
                w0 = FloatVector.fromArray(S, w, a);
                w1 = FloatVector.fromArray(S, w, a + V);
                w2 = FloatVector.fromArray(S, w, a + 2 * V);
                w3 = FloatVector.fromArray(S, w, a + 3 * V);
            } else {
                w0 = FloatVector.fromByteBuffer(S, wb, a * Float.BYTES, NATIVE);
                w1 = FloatVector.fromByteBuffer(S, wb, (a + V) * Float.BYTES, NATIVE);
                w2 = FloatVector.fromByteBuffer(S, wb, (a + 2 * V) * Float.BYTES, NATIVE);
                w3 = FloatVector.fromByteBuffer(S, wb, (a + 3 * V) * Float.BYTES, NATIVE);
            }
            if (g != null) {
                g0 = FloatVector.fromArray(S, g, b);
                g1 = FloatVector.fromArray(S, g, b + V);
                g2 = FloatVector.fromArray(S, g, b + 2 * V);
                g3 = FloatVector.fromArray(S, g, b + 3 * V);
            } else {
                g0 = FloatVector.fromByteBuffer(S, gb, b * Float.BYTES, NATIVE);
                g1 = FloatVector.fromByteBuffer(S, gb, (b + V) * Float.BYTES, NATIVE);
                g2 = FloatVector.fromByteBuffer(S, gb, (b + 2 * V) * Float.BYTES, NATIVE);
                g3 = FloatVector.fromByteBuffer(S, gb, (b + 3 * V) * Float.BYTES, NATIVE);
            }
            FloatVector d0 = trV.mul(lamV.fma(w0, g0));                                         // d = tr * fma(lam, w, g)
            FloatVector d1 = trV.mul(lamV.fma(w1, g1));
            FloatVector d2 = trV.mul(lamV.fma(w2, g2));
            FloatVector d3 = trV.mul(lamV.fma(w3, g3));
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
            FloatVector n0, n1, n2, n3;
            if (nesterov) {                                                                     // w' = fma(-lr, fma(mu, v', d), w)
                n0 = negLrV.fma(muV.fma(v0, d0), w0);
                n1 = negLrV.fma(muV.fma(v1, d1), w1);
                n2 = negLrV.fma(muV.fma(v2, d2), w2);
                n3 = negLrV.fma(muV.fma(v3, d3), w3);
            } else {                                                                            // w' = fma(-lr, v', w)
                n0 = negLrV.fma(v0, w0);
                n1 = negLrV.fma(v1, w1);
                n2 = negLrV.fma(v2, w2);
                n3 = negLrV.fma(v3, w3);
            }
            if (w != null) {
                n0.intoArray(w, a);
                n1.intoArray(w, a + V);
                n2.intoArray(w, a + 2 * V);
                n3.intoArray(w, a + 3 * V);
            } else {
                n0.intoByteBuffer(wb, a * Float.BYTES, NATIVE);
                n1.intoByteBuffer(wb, (a + V) * Float.BYTES, NATIVE);
                n2.intoByteBuffer(wb, (a + 2 * V) * Float.BYTES, NATIVE);
                n3.intoByteBuffer(wb, (a + 3 * V) * Float.BYTES, NATIVE);
            }
        }
        for (; i < n; i++) {
            float wv = get(w, wb, ow + i);
            float d = tr * Math.fma(lam, wv, get(g, gb, og + i));
            float vn = first ? d : Math.fma(mu, v[ov + i], damp1 * d);
            v[ov + i] = vn;
            put(w, wb, ow + i, Math.fma(negLr, nesterov ? Math.fma(mu, vn, d) : vn, wv));
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

package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.VectorKernelSupport.NATIVE;
import static org.lars4j.engine.cpu.VectorKernelSupport.S;
import static org.lars4j.engine.cpu.VectorKernelSupport.V;
import static org.lars4j.engine.cpu.VectorKernelSupport.get;
import static org.lars4j.engine.cpu.VectorKernelSupport.put;

import java.nio.ByteBuffer;
import jdk.incubator.vector.FloatVector;

/**
 * {@link LarsKernels} on the Vector API. In the flat form of arrays (w, g and v at one index:
 * DL4J's flat buffer) C2 vectorises and unrolls the scalar loops itself, and they measured faster
 * than any Vector API form, so they run there. With three different offsets (tensors handed one
 * by one, momentum in one flat array) C2 leaves the scalar loops scalar, about 6x slower; there,
 * and for byte buffers ({@link VectorKernelSupport}), the Vector API loops below run, four 8-lane
 * groups per iteration, loads first (26 GB/s against 18 for one group per iteration and 5 for the
 * scalar loop; bench/RESULTS.md). Each group is the lane-wise form of {@link ScalarLarsKernels}'
 * loop; so is each element of the tails. FloatVector.fromByteBuffer is JDK 17-19's only vector
 * load from off-heap memory; that is why the loads and stores are written out in both updates.
 *
 * <p>Loaded only by {@link KernelProvider} after it has checked that the module
 * {@code jdk.incubator.vector} is in the boot layer.
 */
final class VectorLarsKernels implements LarsKernels {
    static final VectorLarsKernels INSTANCE = new VectorLarsKernels();

    private VectorLarsKernels() {}

    @Override
    public String name() {
        return "Vector API kernels (256-bit)";
    }

    @Override
    public boolean readsByteBuffers() {
        return VectorKernelSupport.HAS_BYTE_BUFFER_LOADS;
    }

    private static final int UNROLL = 4 * V;

    @Override
    public void updateInside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                             float lam, float scale, float mu, boolean nesterov) {
        if (w != null && g != null && ow == ov && og == ov) {
            ScalarLarsKernels.updateInside(w, g, v, ov, n, lam, scale, mu, nesterov);
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
            ScalarLarsKernels.updateOutside(w, g, v, ov, n, lam, tr, mu, damp1, negLr, first, nesterov);
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
}

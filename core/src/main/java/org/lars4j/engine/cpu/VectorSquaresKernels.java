package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;
import static org.lars4j.engine.cpu.VectorKernelSupport.NATIVE;
import static org.lars4j.engine.cpu.VectorKernelSupport.S;
import static org.lars4j.engine.cpu.VectorKernelSupport.V;
import static org.lars4j.engine.cpu.VectorKernelSupport.get;

import java.nio.ByteBuffer;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@link SquaresKernels} on the Vector API, 8 float lanes (256 bits) at a time. Every line is the
 * lane-wise form of the scalar loop it replaces ({@link ScalarSquaresKernels}, {@link CanonicalOrder}):
 * same operations, same operands, same order, so the same bits. Elements past the last whole
 * vector go through scalar loops of the same operations. The weights and gradients may be byte
 * buffers, read in place ({@link VectorKernelSupport}).
 *
 * <p>The loops walk a tile in address order (round r = 0..3 outer, lanes inner, lane i
 * accumulating element i + 1024 r into scratch lane i): each lane still sees its rounds in order,
 * and the hardware prefetcher sees one stream instead of four short ones.
 *
 * <p>Loaded only by {@link KernelProvider} after it has checked that the module
 * {@code jdk.incubator.vector} is in the boot layer.
 */
final class VectorSquaresKernels implements SquaresKernels {
    static final VectorSquaresKernels INSTANCE = new VectorSquaresKernels();

    private VectorSquaresKernels() {}

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

    /** Where the JDK can load vectors from byte buffers ({@link VectorKernelSupport#HAS_BYTE_BUFFER_LOADS}). */
    @Override
    public boolean readsByteBuffers() {
        return VectorKernelSupport.HAS_BYTE_BUFFER_LOADS;
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
}

package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.TILE;

import java.nio.ByteBuffer;
import java.util.Arrays;

/** The plain-Java tile loops ({@link LarsKernels}); the reference and the fallback. */
final class ScalarTileKernels implements TileKernels {
    static final ScalarTileKernels INSTANCE = new ScalarTileKernels();

    private ScalarTileKernels() {}

    @Override
    public String name() {
        return "scalar kernels";
    }

    /** False: the plan copies byte buffers into arrays for these loops. */
    @Override
    public boolean readsByteBuffers() {
        return false;
    }

    private static void arraysOnly(ByteBuffer xb) {
        if (xb != null) throw new IllegalArgumentException("the scalar tile kernels read arrays only");
    }

    @Override
    public float sumOfSquaresAnyOrder(float[] x, int from, int to) {
        // Eight independent chains: C2 does not vectorise a float sum, so this is what plain Java reaches.
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = from;
        for (; i <= to - 8; i += 8) {
            s0 = Math.fma(x[i], x[i], s0);
            s1 = Math.fma(x[i + 1], x[i + 1], s1);
            s2 = Math.fma(x[i + 2], x[i + 2], s2);
            s3 = Math.fma(x[i + 3], x[i + 3], s3);
            s4 = Math.fma(x[i + 4], x[i + 4], s4);
            s5 = Math.fma(x[i + 5], x[i + 5], s5);
            s6 = Math.fma(x[i + 6], x[i + 6], s6);
            s7 = Math.fma(x[i + 7], x[i + 7], s7);
        }
        float s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        for (; i < to; i++) s = Math.fma(x[i], x[i], s);
        return s;
    }

    @Override
    public void squares(float[] lane, float[] x, ByteBuffer xb, int off, int n) {
        arraysOnly(xb);
        if (n == TILE) {
            LarsKernels.fullTileG(lane, x, off);
        } else {
            Arrays.fill(lane, 0f);
            CanonicalOrder.accumulate(lane, x, off, n);
        }
    }

    @Override
    public void squaresWG(float[] lw, float[] lg, float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, int n) {
        arraysOnly(wb);
        arraysOnly(gb);
        if (n == TILE) {
            LarsKernels.fullTileWG(lw, lg, w, ow, g, og);
        } else {
            Arrays.fill(lw, 0f);
            Arrays.fill(lg, 0f);
            LarsKernels.accumulateWG(lw, lg, w, ow, g, og, n);
        }
    }

    @Override
    public void squaresWGU(float[] lw, float[] lg, float[] lu, float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og,
                           int n, float lam) {
        arraysOnly(wb);
        arraysOnly(gb);
        if (n == TILE) {
            LarsKernels.fullTileWGU(lw, lg, lu, w, ow, g, og, lam);
        } else {
            Arrays.fill(lw, 0f);
            Arrays.fill(lg, 0f);
            Arrays.fill(lu, 0f);
            LarsKernels.accumulateWGU(lw, lg, lu, w, ow, g, og, n, lam);
        }
    }

    @Override
    public void updateInside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                             float lam, float scale, float mu, boolean nesterov) {
        arraysOnly(wb);
        arraysOnly(gb);
        if (ow == ov && og == ov) LarsKernels.updateInside(w, g, v, ov, n, lam, scale, mu, nesterov);
        else LarsKernels.updateInside(w, ow, g, og, v, ov, n, lam, scale, mu, nesterov);
    }

    @Override
    public void updateOutside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                              float lam, float tr, float mu, float damp1, float negLr, boolean first, boolean nesterov) {
        arraysOnly(wb);
        arraysOnly(gb);
        if (ow == ov && og == ov) LarsKernels.updateOutside(w, g, v, ov, n, lam, tr, mu, damp1, negLr, first, nesterov);
        else LarsKernels.updateOutside(w, ow, g, og, v, ov, n, lam, tr, mu, damp1, negLr, first, nesterov);
    }

    @Override
    public void lambMoments(float[] w, int ow, float[] g, int og, float[] m, float[] v, int os, int n, float lam,
                            LambKernels.Consts c, float[] lr, float[] lw, float[] tmpM, float[] tmpV, float[] rOut, int or) {
        LambKernels.moments(w, ow, g, og, m, v, os, n, lam, c, lr, lw, tmpM, tmpV, rOut, or);
    }

    @Override
    public void lambApply(float[] w, int ow, float[] r, int or, int n, float negScale) {
        LambKernels.applyR(w, ow, r, or, n, negScale);
    }
}

package org.lars4j.engine.cpu;

import java.nio.ByteBuffer;

/**
 * The LARS family's element-wise update on one tile (docs/CANONICAL_ORDER.md section 5):
 * {@link ScalarLarsKernels} (plain Java, always there; its javadoc has the element rules) and
 * {@link VectorLarsKernels} (Vector API), chosen by {@link KernelProvider}; the same bits either way.
 * The norms the update needs come from {@link SegmentedSumOfSquares}.
 */
interface LarsKernels {
    /** Short description for {@code engineVariant()}. */
    String name();

    /** As {@link SquaresKernels#readsByteBuffers}: whether w and g may be native-order byte buffers. */
    boolean readsByteBuffers();

    /**
     * LR_INSIDE update of n elements (w and g as in {@link #readsByteBuffers}, v an array); see
     * {@link ScalarLarsKernels#updateInside(float[], int, float[], int, float[], int, int, float, float, float, boolean)}.
     */
    void updateInside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                      float lam, float scale, float mu, boolean nesterov);

    /**
     * LR_OUTSIDE update of n elements (w and g as in {@link #readsByteBuffers}, v an array); see
     * {@link ScalarLarsKernels#updateOutside(float[], int, float[], int, float[], int, int, float, float, float, float, float, boolean, boolean)}.
     */
    void updateOutside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                       float lam, float tr, float mu, float damp1, float negLr, boolean first, boolean nesterov);

    /** The form {@link KernelProvider} allows in this JVM. */
    static LarsKernels select() {
        return KernelProvider.choose(LarsKernels.class, ScalarLarsKernels.INSTANCE, "org.lars4j.engine.cpu.VectorLarsKernels");
    }
}

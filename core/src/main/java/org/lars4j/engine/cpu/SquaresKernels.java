package org.lars4j.engine.cpu;

import java.nio.ByteBuffer;

/**
 * The sums of squares of docs/CANONICAL_ORDER.md sections 1-2 on one tile, the loops under
 * {@link SegmentedSumOfSquares}: {@link ScalarSquaresKernels} (plain Java, always there) and
 * {@link VectorSquaresKernels} (the JDK's incubating Vector API, 256-bit lanes), chosen by
 * {@link KernelProvider}. Both perform the identical float operations in the identical order, so
 * the choice changes speed, never a bit of the result; {@code TileKernelsTest} holds them to that.
 *
 * <p>Why two: a tile's lane loops read the tile and write a scratch lane array at another offset,
 * which C2 does not vectorise (it cannot rule out that the two arrays are one), so the scalar
 * form runs about one element per cycle: the norm passes were compute-bound. The Vector API form
 * streams them near memory speed.
 */
interface SquaresKernels {
    /** Short description for {@code engineVariant()}. */
    String name();

    /**
     * Whether the w and g arguments may be byte buffers: a tile's w (or g) is either
     * {@code x[off ..]} of an array or, with the array null, the float32 values at byte index
     * {@code 4 * off} of {@code xb}, which must be in native byte order. When false, every
     * {@code xb} passed is null and the plan copies byte buffers into arrays first (as it always
     * does for buffers in the other byte order).
     */
    boolean readsByteBuffers();

    /**
     * Step 1 of the canonical reduction for {@code x[off .. off+n)}, n <= TILE: sets all 1024
     * lanes (lane i = fma-sum of x_e^2 over e = i, i+1024, .. < n, from +0).
     */
    void squares(float[] lane, float[] x, ByteBuffer xb, int off, int n);

    /** {@link #squares} of an array. */
    default void squares(float[] lane, float[] x, int off, int n) {
        squares(lane, x, null, off, n);
    }

    /** {@link #squares} of w and of g. */
    default void squaresWG(float[] lw, float[] lg, float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, int n) {
        squares(lw, w, wb, ow, n);
        squares(lg, g, gb, og, n);
    }

    /** {@link #squares} of w, of g and of u = fma(lam, w, g). */
    void squaresWGU(float[] lw, float[] lg, float[] lu, float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og,
                    int n, float lam);

    /** The tile partial of sum(x^2): {@link #squares} then {@link CanonicalOrder#foldLanes}. */
    default float tilePartial(float[] lane, float[] x, ByteBuffer xb, int off, int n) {
        squares(lane, x, xb, off, n);
        return CanonicalOrder.foldLanes(lane);
    }

    /**
     * Not part of any step: the read-only loop of {@link MemoryBandwidth#read()}, sum(x^2) over
     * {@code x[from .. to)} in whatever order runs fastest (independent accumulators, no fold).
     * It measures what a plain read stream per core reaches, the yardstick for the norm passes,
     * which read as much and also keep the canonical order.
     */
    float sumOfSquaresAnyOrder(float[] x, int from, int to);

    /** The form {@link KernelProvider} allows in this JVM. */
    static SquaresKernels select() {
        return KernelProvider.choose(SquaresKernels.class, ScalarSquaresKernels.INSTANCE, "org.lars4j.engine.cpu.VectorSquaresKernels");
    }
}

package org.lars4j.engine.cpu;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;

/**
 * The Java engine's per-tile loops behind one interface, in the style of Lucene's vectorization
 * provider: {@link ScalarTileKernels} (plain Java, always there) and {@link VectorTileKernels}
 * (the JDK's incubating Vector API, 256-bit lanes), chosen once per plan by {@link #select()}.
 * Both perform the identical float operations in the identical order of docs/CANONICAL_ORDER.md
 * (lane-wise {@code fma}, {@code *}, {@code -}, IEEE-exact in either form), so the choice changes
 * speed, never a bit of the result; {@code TileKernelsTest} holds them to that.
 *
 * <p>Why two: a tile's norm loops read the tile and write a scratch lane array at another offset,
 * which C2 does not vectorise (it cannot rule out that the two arrays are one), so the scalar
 * form runs about one element per cycle: the norm passes were compute-bound. The Vector API form
 * streams them near memory speed; it also runs LAMB's divisions and square roots 8 lanes at a
 * time, and the LARS update where w, g and v sit at three different offsets (tensors handed over
 * one array each), which C2 leaves scalar for the same reason. It needs
 * {@code --add-modules jdk.incubator.vector} on the command line (the ./lars4j launcher, the
 * tests and the benchmarks pass it); without it, or on a
 * CPU without 256-bit vectors, the scalar form runs and the reason is logged once.
 */
interface TileKernels {
    /** System property: {@code auto} (default: vector when available) or {@code scalar}. */
    String PROPERTY = "lars4j.cpu.kernels";

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

    /**
     * LR_INSIDE update of n elements (w and g as in {@link #readsByteBuffers}, v an array); see
     * {@link LarsKernels#updateInside(float[], int, float[], int, float[], int, int, float, float, float, boolean)}.
     */
    void updateInside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                      float lam, float scale, float mu, boolean nesterov);

    /** {@link #updateInside} of arrays. */
    default void updateInside(float[] w, int ow, float[] g, int og, float[] v, int ov, int n,
                              float lam, float scale, float mu, boolean nesterov) {
        updateInside(w, null, ow, g, null, og, v, ov, n, lam, scale, mu, nesterov);
    }

    /**
     * LR_OUTSIDE update of n elements (w and g as in {@link #readsByteBuffers}, v an array); see
     * {@link LarsKernels#updateOutside(float[], int, float[], int, float[], int, int, float, float, float, float, float, boolean, boolean)}.
     */
    void updateOutside(float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n,
                       float lam, float tr, float mu, float damp1, float negLr, boolean first, boolean nesterov);

    /** {@link #updateOutside} of arrays. */
    default void updateOutside(float[] w, int ow, float[] g, int og, float[] v, int ov, int n,
                               float lam, float tr, float mu, float damp1, float negLr, boolean first, boolean nesterov) {
        updateOutside(w, null, ow, g, null, og, v, ov, n, lam, tr, mu, damp1, negLr, first, nesterov);
    }

    /** LAMB's moments pass on one tile (arrays only), r stored at {@code rOut[or ..]}; see {@link LambKernels#moments}. */
    void lambMoments(float[] w, int ow, float[] g, int og, float[] m, float[] v, int os, int n, float lam,
                     LambKernels.Consts c, float[] lr, float[] lw, float[] tmpM, float[] tmpV, float[] rOut, int or);

    /** LAMB's apply pass on one tile (arrays only) from the stored r; see {@link LambKernels#applyR}. */
    void lambApply(float[] w, int ow, float[] r, int or, int n, float negScale);

    /** The kernels {@link #PROPERTY} and this JVM allow (read on every call, so tests can switch). */
    static TileKernels select() {
        String mode = System.getProperty(PROPERTY, "auto");
        if (mode.equals("scalar")) return ScalarTileKernels.INSTANCE;
        if (!mode.equals("auto")) {
            throw new IllegalArgumentException("system property " + PROPERTY + "=" + mode + ": expected auto or scalar");
        }
        return Provider.BEST;
    }

    /** Decides once per JVM; logs why when it falls back. */
    final class Provider {
        private Provider() {}

        static final TileKernels BEST = probe();

        private static TileKernels probe() {
            String why;
            if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
                why = "the Vector API module is not enabled (run java with --add-modules jdk.incubator.vector)";
            } else {
                try {
                    // Loaded only now: its class refers to jdk.incubator.vector.
                    TileKernels k = (TileKernels) Class.forName("org.lars4j.engine.cpu.VectorTileKernels")
                            .getDeclaredField("INSTANCE").get(null);
                    String unusable = ((VectorTileKernels) k).unusableReason();
                    if (unusable == null) return k;
                    why = unusable;
                } catch (ReflectiveOperationException | LinkageError e) {
                    why = "the Vector API kernels did not load: " + e;
                }
            }
            System.getLogger("org.lars4j.engine").log(Level.INFO,
                    "lars4j: Java engine uses its scalar tile kernels: " + why);
            return ScalarTileKernels.INSTANCE;
        }
    }
}

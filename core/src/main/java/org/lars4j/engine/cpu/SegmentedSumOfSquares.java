package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;
import static org.lars4j.engine.cpu.CanonicalOrder.THREADS;

import java.nio.ByteBuffer;

/**
 * The segmented sum of squares in the canonical order, the reduction every rule's norms are made
 * of (docs/CANONICAL_ORDER.md sections 1-3; shaped like CUB's {@code DeviceSegmentedReduce::Sum}:
 * segment offsets in, one float64 per segment out). It works in two stages so that a rule can fuse
 * the first into a pass over its tiles and run the second once every tile is done:
 * <ol>
 * <li>per tile, on any worker: the float32 tile partial, lanes then fold
 *     ({@link #partial}, {@link #partialsWG}, {@link #partialsWGU} for one, two or three inputs
 *     read in one pass: w, g and u = fma(lam, w, g); {@link #fold} for lanes a rule accumulated
 *     inside its own element pass, as LAMB's moments pass does for r and w);</li>
 * <li>per segment, on one thread: the float64 total of the segment's tile partials
 *     ({@link #total}, {@link #totals}).</li>
 * </ol>
 * Partials are stored at the tile's index in a float array as long as the {@link TileTable};
 * totals depend only on the partials, never on which thread computed them or in which order.
 *
 * <p>Worked example (the test {@code SegmentedSumOfSquaresTest} checks every number): a flat
 * tensor of 9099 floats, all {@code 0.1f}, cut at offsets {@code {0, 5000, 5003, 9099}} into
 * segments of 5000, 3 and 4096 elements.
 * <pre>
 * tile table         firstTile = {0, 2, 3}   tileCount = {2, 1, 1}
 *                    tile 0: segment 0, elements [0, 4096)     tile 1: segment 0, [4096, 5000): 904
 *                    tile 2: segment 1, [0, 3)                 tile 3: segment 2, [0, 4096)
 * lanes (step 1)     0.1f * 0.1f rounds to 0.010000001f; a lane of a full tile fma-sums its 4 rounds
 *                    (0.040000003f); tile 1 fills lanes 0..903 in round 0 only, the others stay +0
 * partials (float32) P = {40.960003f, 9.040001f, 0.030000001f, 40.960003f}
 * totals (float64)   S = {50.000003814697266, 0.030000001192092896, 40.96000289916992}
 *                    (segment 0: (double) P0 + (double) P1; one tile: S = (double) P exactly)
 * exact sums of the same float32 values, for comparison:
 *                        {50.000001490116134, 0.03000000089406968, 40.960001220703134}
 * </pre>
 * The last line is why a float64 reference agrees with the totals to float32 accuracy, not to
 * the bit: the lanes and partials are float32. The bits are fixed by the order, which every
 * engine follows, the CUDA kernels included.
 *
 * <p>An instance keeps the float64 accumulators of stage 2 (so it allocates nothing), which makes
 * {@link #total} and {@link #totals} single-threaded; stage 1 is safe on any number of threads,
 * each with its own lanes.
 */
final class SegmentedSumOfSquares {
    private final TileTable table;
    private final SquaresKernels kernels;
    private final double[] acc = new double[THREADS];

    SegmentedSumOfSquares(TileTable table, SquaresKernels kernels) {
        this.table = table;
        this.kernels = kernels;
    }

    /** Whether the stage-1 methods may be given byte buffers ({@link SquaresKernels#readsByteBuffers}). */
    boolean readsByteBuffers() {
        return kernels.readsByteBuffers();
    }


    // ---- stage 1: tile partials (float32; any thread, its own lanes) -------------------------

    /**
     * The partial of one tile of x: {@code x[off .. off + n)} of an array or, with x null, of the
     * native-order byte buffer xb; {@code lanes} is 1024 floats of scratch.
     */
    float partial(float[] lanes, float[] x, ByteBuffer xb, int off, int n) {
        return kernels.tilePartial(lanes, x, xb, off, n);
    }

    /** The partial of a tile's weights, viewed by {@link TileTraversal.Tile#viewW}. */
    float partialW(TileTraversal.Tile t) {
        return kernels.tilePartial(t.l0, t.wa, t.wb, t.wo, t.length);
    }

    /** The partial of a tile's gradients, viewed by {@link TileTraversal.Tile#viewG}. */
    float partialG(TileTraversal.Tile t) {
        return kernels.tilePartial(t.l1, t.ga, t.gb, t.go, t.length);
    }

    /** The partials of w and of g in one pass over the tile, stored at the tile's index. */
    void partialsWG(TileTraversal.Tile t, float[] partW, float[] partG) {
        kernels.squaresWG(t.l0, t.l1, t.wa, t.wb, t.wo, t.ga, t.gb, t.go, t.length);
        partW[t.index] = CanonicalOrder.foldLanes(t.l0);
        partG[t.index] = CanonicalOrder.foldLanes(t.l1);
    }

    /** The partials of w, g and u = fma(lam, w, g) in one pass over the tile, stored at the tile's index. */
    void partialsWGU(TileTraversal.Tile t, float lam, float[] partW, float[] partG, float[] partU) {
        kernels.squaresWGU(t.l0, t.l1, t.l2, t.wa, t.wb, t.wo, t.ga, t.gb, t.go, t.length, lam);
        partW[t.index] = CanonicalOrder.foldLanes(t.l0);
        partG[t.index] = CanonicalOrder.foldLanes(t.l1);
        partU[t.index] = CanonicalOrder.foldLanes(t.l2);
    }

    /**
     * The partial from 1024 lanes a rule accumulated itself (lane i: fma-sum of x_e^2 over
     * e = i, i + 1024, ... in order, from +0), for a rule whose own element pass produces the
     * values to square (LAMB's r).
     */
    static float fold(float[] lanes) {
        return CanonicalOrder.foldLanes(lanes);
    }

    // ---- stage 2: segment totals (float64; one thread) ---------------------------------------

    /** Segment s's total from the tile partials (0.0 for a segment without tiles). */
    double total(float[] partials, int s) {
        return CanonicalOrder.segmentSum(partials, table.firstTile[s], table.tileCount[s], acc);
    }

    /** Totals of segments [from, to) into {@code out[from .. to)}; false if any is NaN or infinite. */
    boolean totals(float[] partials, int from, int to, double[] out) {
        boolean finite = true;
        for (int s = from; s < to; s++) {
            double x = total(partials, s);
            out[s] = x;
            if (!Double.isFinite(x)) finite = false;
        }
        return finite;
    }

    /**
     * The same order over float64 values (accumulator j sums x[j], x[j + 256], ..., then the
     * two-level tree): how LAMB's global gradient norm sums the segments' totals.
     */
    double sumOfTotals(double[] totals, int count) {
        return CanonicalOrder.sumDoubles(totals, count, acc);
    }

    /**
     * Both stages on one thread, for a flat array cut at {@code offsets} (segment s is
     * {@code x[offsets[s] .. offsets[s+1])}): {@code out[s]} = segment s's total. Allocates its
     * tables; for tests and examples, not for steps (plans run stage 1 inside their tile passes).
     */
    static void sum(SquaresKernels kernels, float[] x, int[] offsets, double[] out) {
        TileTable table = TileTable.ofOffsets(offsets);
        SegmentedSumOfSquares sums = new SegmentedSumOfSquares(table, kernels);
        float[] partials = new float[table.tiles()];
        float[] lanes = new float[LANES];
        for (int k = 0; k < table.tiles(); k++) {
            int s = table.tileSegment[k];
            partials[k] = sums.partial(lanes, x, null, offsets[s] + table.tileStart[k], table.length(k));
        }
        sums.totals(partials, 0, table.segments, out);
    }
}

package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.TILE;

import java.util.Arrays;
import org.lars4j.engine.cpu.TileTraversal.Tile;
import org.lars4j.engine.cpu.TileTraversal.TileOp;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.stage.GradientCentralization;

/**
 * Gradient centralization on the Java engine, for any rule (docs/CANONICAL_ORDER.md, "Gradient
 * centralization"). A step first runs {@link #meansPhase} over the tiles: the float64 mean of each
 * row of each centred segment, summed sequentially over the row's elements in memory order,
 * divided by the row's length and rounded once to float. After it, {@link TileTraversal.Tile#viewG}
 * stages a centred segment's tile and subtracts each element's row mean with one float
 * subtraction, so every pass of the rule (norms, non-finite check, update) reads g - mean and the
 * rule's kernels need not know. Segments that are not centred are viewed as before: the plain
 * path costs one test per tile.
 *
 * <p>The means phase reads g once more (4 bytes per centred parameter). Rows are split between
 * tiles so that each row is summed by exactly one worker: with the output axis first (rows are
 * contiguous) by the tile its first element is in, even where the row runs on into later tiles;
 * with another axis (rows interleave) by the segment's first tile, which sweeps the whole segment.
 * Which worker sums a row does not change its bits. All buffers are made here, at plan time.
 */
final class CentredGradients {
    private final int[] rows;
    private final int[] inner;
    private final int[] rowBase;
    private final int[] segLen;
    /** The row means of the step, at rowBase[segment] + row. */
    private final float[] mean;
    /** Float64 row sums of the segments whose rows interleave (output axis other than the first). */
    private final double[] sum;

    /** The op of the means phase, run by the plan before any pass that reads g. */
    final TileOp meansPhase = this::rowMeans;

    private CentredGradients(int[] rows, int[] inner, int[] segLen) {
        this.rows = rows;
        this.inner = inner;
        this.segLen = segLen;
        rowBase = new int[rows.length];
        int total = 0;
        for (int i = 0; i < rows.length; i++) {
            rowBase[i] = total;
            total += rows[i];
        }
        mean = new float[total];
        sum = new double[total];
    }

    /** The centring of {@code layout} under {@code gc}; null when gc is null or no segment is centred. */
    static CentredGradients of(GradientCentralization gc, ParamLayout layout) {
        if (gc == null) return null;
        int n = layout.size();
        int[] rows = new int[n];
        int[] inner = new int[n];
        int[] len = new int[n];
        boolean any = false;
        for (int i = 0; i < n; i++) {
            rows[i] = gc.rows(layout.segment(i));
            inner[i] = GradientCentralization.inner(layout.segment(i));
            len[i] = layout.segment(i).length();
            any |= rows[i] != 0;
        }
        return any ? new CentredGradients(rows, inner, len) : null;
    }

    boolean centres(int segment) { return rows[segment] != 0; }

    /** Subtracts from {@code x[0 .. n)}, elements [start, start + n) of {@code segment}, their row means. */
    void centre(int segment, int start, float[] x, int n) {
        final int in = inner[segment];
        final int r = rows[segment];
        final int base = rowBase[segment];
        int q = start % in;
        int row = (start / in) % r;
        for (int i = 0; i < n; ) {
            // A run of elements of one row: one mean, a loop the JIT vectorises.
            int run = Math.min(n - i, in - q);
            float m = mean[base + row];
            for (int k = i; k < i + run; k++) x[k] = x[k] - m;
            i += run;
            q = 0;
            row = row + 1 == r ? 0 : row + 1;
        }
    }

    private void rowMeans(Tile t) {
        int s = t.segment;
        int r = rows[s];
        if (r == 0) return;
        int in = inner[s];
        int base = rowBase[s];
        if ((long) in * r == segLen[s]) {
            // Rows are contiguous: this tile sums the rows that begin in it.
            long end = (long) t.start + t.length;
            for (long at = ((long) t.start + in - 1) / in * in; at < end; at += in) {
                mean[base + (int) (at / in)] = (float) (rowSum(t, (int) at, in) / in);
            }
        } else if (t.start == 0) {
            // Rows interleave: the first tile sweeps the segment in memory order, each element
            // added to its row's sum, so each row is still summed over its elements in memory order.
            Arrays.fill(sum, base, base + r, 0.0);
            float[] x = t.scratchG();
            int len = segLen[s];
            int q = 0;
            int row = 0;
            for (int from = 0; from < len; from += TILE) {
                int n = Math.min(TILE, len - from);
                t.readG(from, x, n);
                for (int k = 0; k < n; k++) {
                    sum[base + row] += x[k];
                    if (++q == in) {
                        q = 0;
                        row = row + 1 == r ? 0 : row + 1;
                    }
                }
            }
            double count = len / r;
            for (int o = 0; o < r; o++) mean[base + o] = (float) (sum[base + o] / count);
        }
    }

    /** The float64 sum of g[from .. from + n) of the tile's segment, in memory order. */
    private static double rowSum(Tile t, int from, int n) {
        double acc = 0.0;
        float[] a = t.gArray();
        if (a != null) {
            int o = t.gArrayOffset() + from;
            for (int k = 0; k < n; k++) acc += a[o + k];
            return acc;
        }
        float[] x = t.scratchG();
        for (int done = 0; done < n; done += TILE) {
            int c = Math.min(TILE, n - done);
            t.readG(from + done, x, c);
            for (int k = 0; k < c; k++) acc += x[k];
        }
        return acc;
    }
}

package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.TILE;

import java.util.Arrays;
import org.lars4j.engine.cpu.TileTraversal.Tile;
import org.lars4j.engine.cpu.TileTraversal.TileOp;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.stage.GradientCentralization;

/**
 * Gradient centralization on the Java engine, for any rule (docs/CANONICAL_ORDER.md, "Gradient
 * centralization"). Every row's mean is the float64 sum of the row's elements, sequentially in
 * memory order, divided by the row's length and rounded once to float. {@link TileTraversal.Tile#viewG}
 * stages a centred segment's tile and subtracts each element's row mean with one float
 * subtraction, so every pass of the rule (norms, non-finite check, update) reads g - mean and the
 * rule's kernels need not know. Segments that are not centred are viewed as before: the plain
 * path costs one test per tile.
 *
 * <p>Where the means are summed. A row that lies wholly inside one tile (rows contiguous, i.e. the
 * output axis first, and the row not crossing a 4096-element tile boundary) is summed by the
 * first view of its tile in the step, from the staged gradients that view reads anyway: no extra
 * read of g. A per-tile step stamp tells the first view from the later ones, whatever pass comes
 * first (the SKIP_STEP pre-pass, the norms, or the update of a segment no norm reads). The other
 * rows, those that straddle tiles and the interleaved rows of another output axis, are summed by
 * {@link #startStep}'s pre-pass over the tiles before any pass reads g: 4 more bytes per element
 * of those rows. With the output axis first the tile a straddling row begins in sums it; with
 * another axis the segment's first tile sweeps the whole segment. Which worker or pass sums a
 * row does not change its bits. All buffers are made here, at plan time.
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
    /** The segment's first tile in {@link #meansStep} (tiles of {@value CanonicalOrder#TILE}, as TileTable cuts them). */
    private final int[] tileBase;
    /** The step whose in-tile row means tile k holds: a view of it in another step sums them first. */
    private final long[] meansStep;
    /** Rows of each segment that the pre-pass sums (they straddle tiles or interleave); the rest are summed in their tile. */
    private final int[] prePassRows;
    private final boolean anyPrePass;
    /** This step's number (from 1), for {@link #meansStep}. */
    private long step;

    /** The op of the pre-pass over the tiles: the means of rows that straddle tiles or interleave. */
    private final TileOp meansPhase = this::rowMeans;

    private CentredGradients(int[] rows, int[] inner, int[] segLen) {
        this.rows = rows;
        this.inner = inner;
        this.segLen = segLen;
        int n = rows.length;
        rowBase = new int[n];
        tileBase = new int[n];
        prePassRows = new int[n];
        int total = 0;
        int tiles = 0;
        boolean pre = false;
        for (int i = 0; i < n; i++) {
            rowBase[i] = total;
            total += rows[i];
            tileBase[i] = tiles;
            tiles += (segLen[i] + TILE - 1) / TILE;
            for (int o = 0; o < rows[i]; o++) {
                if (!inOneTile(i, o)) prePassRows[i]++;
            }
            pre |= prePassRows[i] > 0;
        }
        mean = new float[total];
        sum = new double[total];
        meansStep = new long[tiles];
        anyPrePass = pre;
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

    /** True when the segment's rows are contiguous runs of memory (its output axis is the first, or all before it are 1). */
    private boolean contiguousRows(int segment) { return (long) inner[segment] * rows[segment] == segLen[segment]; }

    /** True when row {@code o} of the segment is a run of memory inside one tile: its tile sums it. */
    private boolean inOneTile(int segment, int o) {
        if (!contiguousRows(segment)) return false;
        long first = (long) o * inner[segment];
        return first / TILE == (first + inner[segment] - 1) / TILE;
    }

    /** Rows of {@code segment} the pre-pass sums (the others are summed in their tile), for tests and {@link #describe}. */
    int prePassRows(int segment) { return prePassRows[segment]; }

    /**
     * The start of a step, before any pass views g: a new stamp (so each tile's first view sums its
     * rows again) and the pre-pass over the tiles for the rows that straddle tiles or interleave
     * (none when every centred row lies inside one tile).
     */
    void startStep(TileTraversal tiles) {
        step++;
        if (anyPrePass) tiles.forEachTile(meansPhase);
    }

    /** The mean of row {@code o} of {@code segment} as it stands (tests: who has summed it so far). */
    float mean(int segment, int o) { return mean[rowBase[segment] + o]; }

    /** Where the row means come from, for {@code engineVariant()}. */
    String describe() {
        long all = 0;
        long pre = 0;
        for (int i = 0; i < rows.length; i++) {
            all += rows[i];
            pre += prePassRows[i];
        }
        return "gradient centralization: " + (all - pre) + " row means in their tiles, " + pre + " by a pre-pass";
    }

    /**
     * Subtracts from {@code x[0 .. n)}, the raw gradients of elements [start, start + n) of
     * {@code segment} (one whole tile), their row means; the tile's first view in the step sums
     * the means of the rows that lie inside it first.
     */
    void centre(int segment, int start, float[] x, int n) {
        final int in = inner[segment];
        final int r = rows[segment];
        final int base = rowBase[segment];
        int tile = tileBase[segment] + start / TILE;
        if (meansStep[tile] != step) {
            if (contiguousRows(segment)) inTileMeans(base, start, x, n, in);
            meansStep[tile] = step;
        }
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

    /**
     * The means of the rows wholly inside {@code x[0 .. n)} (elements [start, start + n), rows of
     * {@code in} contiguous elements): the same float64 sum in memory order as {@link #rowSum}.
     */
    private void inTileMeans(int base, int start, float[] x, int n, int in) {
        long end = (long) start + n;
        for (long at = ((long) start + in - 1) / in * in; at + in <= end; at += in) {
            double acc = 0.0;
            int o = (int) (at - start);
            for (int k = 0; k < in; k++) acc += x[o + k];
            mean[base + (int) (at / in)] = (float) (acc / in);
        }
    }

    private void rowMeans(Tile t) {
        int s = t.segment;
        int r = rows[s];
        if (r == 0) return;
        int in = inner[s];
        int base = rowBase[s];
        if ((long) in * r == segLen[s]) {
            // Rows are contiguous: this tile sums the rows that begin in it and run on past its
            // end (at most the last); those that end inside it are its first view's.
            long end = (long) t.start + t.length;
            for (long at = ((long) t.start + in - 1) / in * in; at < end; at += in) {
                if (at + in > end) mean[base + (int) (at / in)] = (float) (rowSum(t, (int) at, in) / in);
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

package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;
import static org.lars4j.engine.cpu.CanonicalOrder.TILE;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.lars4j.engine.HostTensors;

/**
 * The walk over tiles that every Java-engine rule shares, written once (the multi-tensor-apply
 * idea): the traversal hands out chunks of whole tiles to the worker pool, gives each tile a view
 * of its weights and gradients (arrays and, for kernels that read them, native-order byte buffers
 * in place; anything else staged into per-worker scratch) and writes staged weights back; the
 * element math is a {@link TileOp} that the rule supplies, one object per phase, made with the
 * plan. A rule's phase is therefore {@code forEachTileOfBlock(b, backwards, op)} and the body of
 * {@code op.apply(tile)}: one interface call per tile, the element loops inside the op's kernels.
 * Tiles are the unit of the canonical order ({@link TileTable}), so results never depend on which
 * thread ran a tile.
 *
 * <p>Blocks: consecutive whole segments of about {@link #blockElements} elements (a longer segment
 * is a block by itself). A plan that runs its passes block by block (norms, then the update of the
 * same block) finds the block's w and g still in the last-level cache for the second pass, which
 * is what keeps a LARS step near 20 bytes per parameter instead of 28 (docs/MATH.md section 9;
 * 24 under SKIP_STEP, whose gradient-only pre-pass CpuLarsPlan explains).
 * Chunks never straddle a block. Blocking changes which tiles run when, never what a tile computes.
 *
 * <p>Affinity: a phase's chunks are cut into one contiguous part per worker, and worker t runs
 * part t first (then helps with the others' leftovers). Two phases over the same block therefore
 * give each core the chunks it touched itself, so the update finds them in its own L2/L3. With
 * chunks handed out first come, first served instead, the other core's cache held half of them,
 * and this project's 2-vCPU VM had long phases in which such an update ran 3-4x slower than one
 * reading everything from DRAM (likely cross-die cache-to-cache transfers, not verified;
 * bench/RESULTS.md, "worker affinity").
 */
final class TileTraversal implements AutoCloseable {
    /** A chunk (unit of work claimed by a thread) holds whole tiles, about this many elements. */
    private static final int CHUNK_ELEMENTS = 32 * 1024;

    /**
     * System property: elements per block ({@code 0} = one block, i.e. whole-model passes). The
     * default, {@link #defaultBlockElements}, keeps a block's w, g and state (12-16 bytes per
     * element) well inside the last-level cache of current server CPUs.
     */
    static final String BLOCK_PROPERTY = "lars4j.cpu.blockElements";

    /** 1M elements, or 4 chunks per thread when that is more (so every thread has work). */
    static int defaultBlockElements(int threads) {
        return Math.max(1 << 20, 4 * CHUNK_ELEMENTS * threads);
    }

    /**
     * The element math of one phase on one tile: a rule implements it once per phase (an object
     * made with its plan, so a step allocates nothing). {@code apply} runs on a worker thread, on
     * any tile in any order; it must write only what belongs to its tile.
     */
    interface TileOp {
        void apply(Tile tile);
    }

    /**
     * One worker's view of the tile it is running, reused from tile to tile: which tile
     * ({@link #index}, {@link #segment}, {@link #start} in the segment, {@link #length}), the
     * worker's scratch lanes, and, after {@link #viewW}/{@link #viewG}, where the tile's w and g
     * are: w at element {@link #wo} of the array {@link #wa} or, with wa null, of the native-order
     * byte buffer {@link #wb}; g likewise.
     */
    final class Tile {
        int index;
        int segment;
        int start;
        int length;
        /** Scratch lanes of 1024 floats, for the op's kernels (sums of squares, LAMB's temporaries). */
        final float[] l0 = new float[LANES];
        final float[] l1 = new float[LANES];
        final float[] l2 = new float[LANES];
        final float[] l3 = new float[LANES];
        float[] wa;
        ByteBuffer wb;
        int wo;
        float[] ga;
        ByteBuffer gb;
        int go;
        private final float[] stageW = new float[TILE];
        private final float[] stageG = new float[TILE];
        /** True when w was staged and the op writes it: the traversal stores it after the op. */
        private boolean storeW;

        private void begin(int k) {
            index = k;
            segment = table.tileSegment[k];
            start = table.tileStart[k];
            length = table.length(k);
            storeW = false;
        }

        /**
         * Points wa/wb/wo at this tile's weights, for reading. Arrays are used in place; so are
         * byte buffers in native byte order when {@code kernelsReadByteBuffers} (the op's kernels
         * say so: {@link SquaresKernels#readsByteBuffers}). Anything else (a direct float buffer,
         * a byte buffer in the other order, any byte buffer for kernels that take arrays only) is
         * copied into this worker's stage. Copying costs: a read pass through a 16 KiB stage ran
         * at half the speed of the same pass reading the memory itself (bench/RESULTS.md,
         * "direct buffers").
         */
        void viewW(boolean kernelsReadByteBuffers) {
            float[] a = w.array(segment);
            ByteBuffer b = kernelsReadByteBuffers ? nativeOrder(w.byteBuffer(segment)) : null;
            int o = w.offset(segment) + start;
            if (a == null && b == null) {
                w.read(segment, start, stageW, 0, length);
                a = stageW;
                o = 0;
            }
            wa = a;
            wb = b;
            wo = o;
        }

        /** {@link #viewW}, for an op that writes the weights: staged weights are stored back after it. */
        void viewWForUpdate(boolean kernelsReadByteBuffers) {
            viewW(kernelsReadByteBuffers);
            storeW = wa == stageW;
        }

        /**
         * Points ga/gb/go at this tile's gradients, as {@link #viewW} does for the weights. A
         * segment under gradient centralization is staged and centred ({@link CentredGradients}):
         * what the op reads is then g - mean; under a clip factor other than 1 ({@link #clipBy})
         * every tile is staged and divided by it, after the centring.
         */
        void viewG(boolean kernelsReadByteBuffers) {
            boolean centred = centring != null && centring.centres(segment);
            if (centred || clipDivisor != 1f) {
                g.read(segment, start, stageG, 0, length);
                if (centred) centring.centre(segment, start, stageG, length);
                if (clipDivisor != 1f) {
                    // The global gradient clip: one float division per element, after the centring.
                    final float c = clipDivisor;
                    for (int k = 0; k < length; k++) stageG[k] = stageG[k] / c;
                }
                ga = stageG;
                gb = null;
                go = 0;
                return;
            }
            float[] a = g.array(segment);
            ByteBuffer b = kernelsReadByteBuffers ? nativeOrder(g.byteBuffer(segment)) : null;
            int o = g.offset(segment) + start;
            if (a == null && b == null) {
                g.read(segment, start, stageG, 0, length);
                a = stageG;
                o = 0;
            }
            ga = a;
            gb = b;
            go = o;
        }

        /** The segment's gradient array (null when it lives in a buffer), for a pass that reads whole rows. */
        float[] gArray() { return g.array(segment); }

        /** Where the segment starts in {@link #gArray()}. */
        int gArrayOffset() { return g.offset(segment); }

        /** Copies g[from .. from + n) of the tile's segment (any storage) into {@code dst}. */
        void readG(int from, float[] dst, int n) { g.read(segment, from, dst, 0, n); }

        /** This worker's gradient stage as scratch, for a pass that does not view g itself. */
        float[] scratchG() { return stageG; }

        private void end() {
            if (storeW) w.write(segment, start, stageW, 0, length);
        }
    }

    final TileTable table;
    private final int[] chunkFirstTile;
    private final int nChunks;
    /** Block b holds segments [blockFirstSeg[b], blockFirstSeg[b+1]) and chunks [blockFirstChunk[b], ..). */
    private final int[] blockFirstSeg;
    private final int[] blockFirstChunk;
    final int blockElements;
    private final Tile[] workers;
    private final WorkerPool pool;
    /** Claim counter of each worker's part, {@link #CLAIM_STRIDE} ints apart (a cache line each). */
    private final AtomicIntegerArray claimed;
    private static final int CLAIM_STRIDE = 16;
    /** What the pool runs for every phase: made once, it reads the phase's op and range below. */
    private final WorkerPool.Phase claimAndApply = this::claimTiles;
    // The running phase: its op, chunk range and direction, published by WorkerPool.run.
    private TileOp op;
    private int chunkLo;
    private int chunkHi;
    private boolean backwards;
    private boolean closed;

    /** Gradient centralization of the plan, or null: {@link Tile#viewG} centres its segments. */
    private CentredGradients centring;

    /** The step's tensors, published to the workers by WorkerPool.run. */
    private HostTensors w;
    private HostTensors g;

    TileTraversal(TileTable table, int threads) {
        this(table, threads, Integer.getInteger(BLOCK_PROPERTY, defaultBlockElements(threads)));
    }

    TileTraversal(TileTable table, int threads, int blockElements) {
        if (blockElements < 0) throw new IllegalArgumentException(BLOCK_PROPERTY + " must be >= 0, got " + blockElements);
        this.table = table;
        this.blockElements = blockElements;
        int nSeg = table.segments;
        int tiles = table.tiles();
        // Blocks: greedy runs of whole segments up to blockElements (0: everything in one block).
        int[] bSeg = new int[nSeg + 1];
        int nb = 0;
        long inBlock = 0;
        for (int i = 0; i < nSeg; i++) {
            if (i == 0 || (blockElements > 0 && inBlock + table.segmentLength[i] > blockElements)) {
                bSeg[nb++] = i;
                inBlock = 0;
            }
            inBlock += table.segmentLength[i];
        }
        bSeg[nb] = nSeg;
        blockFirstSeg = Arrays.copyOf(bSeg, nb + 1);
        // Chunks: runs of whole tiles of about CHUNK_ELEMENTS, cut at every block boundary.
        int[] firsts = new int[tiles + 1];
        blockFirstChunk = new int[nb + 1];
        int n = 0;
        for (int b = 0; b < nb; b++) {
            blockFirstChunk[b] = n;
            int elements = 0;
            int end = blockFirstSeg[b + 1] == nSeg ? tiles : table.firstTile[blockFirstSeg[b + 1]];
            for (int k = table.firstTile[blockFirstSeg[b]]; k < end; k++) {
                if (elements == 0) firsts[n++] = k;
                elements += table.length(k);
                if (elements >= CHUNK_ELEMENTS) elements = 0;
            }
        }
        blockFirstChunk[nb] = n;
        firsts[n] = tiles;
        nChunks = n;
        chunkFirstTile = Arrays.copyOf(firsts, n + 1);
        int count = Math.max(1, Math.min(threads, nChunks));
        workers = new Tile[count];
        for (int i = 0; i < count; i++) workers[i] = new Tile();
        claimed = new AtomicIntegerArray(count * CLAIM_STRIDE);
        pool = new WorkerPool(count, "lars4j-cpu");
    }

    /** The clip factor later views of g are divided by (1: none), set by a plan between phases. */
    private float clipDivisor = 1f;

    /** Between phases: every later {@link Tile#viewG} reads g / {@code factor} (1: g as it is). */
    void clipBy(float factor) { clipDivisor = factor; }

    /** Plan time: every later {@link Tile#viewG} of a centred segment reads g - mean (null: none). */
    void centre(CentredGradients c) { centring = c; }

    int blocks() { return blockFirstSeg.length - 1; }

    /** The first segment of block b; the block ends where block b + 1 begins ({@link #blockEnd}). */
    int blockStart(int b) { return blockFirstSeg[b]; }

    /** One past the last segment of block b. */
    int blockEnd(int b) { return blockFirstSeg[b + 1]; }

    /** Blocks and threads, for {@code engineVariant()}. */
    String describe() {
        return (blockElements == 0 ? "whole-model passes" : "blocks of " + blockElements + " elements (" + blocks() + " blocks)")
                + ", " + workers.length + " thread(s)";
    }

    /** The tensors of the step about to run; {@link #unbind} when it is over. */
    void bind(HostTensors weights, HostTensors gradients) {
        w = weights;
        g = gradients;
    }

    /** Drops the step's tensors (the plan keeps no reference to the caller's memory between steps). */
    void unbind() {
        w = null;
        g = null;
    }

    /** Runs {@code op} on every tile, spread over the workers by chunks; returns when all are done. */
    void forEachTile(TileOp op) {
        run(0, nChunks, false, op);
    }

    /**
     * Runs {@code op} on the tiles of block {@code b}. {@code backwards} hands out its chunks last
     * first: a pass that follows a forward pass over the same data then starts on what that pass
     * touched last, which is what is most likely still in cache when a block exceeds the cache.
     */
    void forEachTileOfBlock(int b, boolean backwards, TileOp op) {
        run(blockFirstChunk[b], blockFirstChunk[b + 1], backwards, op);
    }

    private void run(int lo, int hi, boolean back, TileOp phaseOp) {
        op = phaseOp;
        chunkLo = lo;
        chunkHi = hi;
        backwards = back;
        for (int t = 0; t < workers.length; t++) claimed.set(t * CLAIM_STRIDE, 0);
        try {
            pool.run(claimAndApply);
        } finally {
            op = null;
        }
    }

    /**
     * One worker's share of a phase: claim chunks of this worker's own part (in the phase's
     * direction), then of the other parts, and apply the op to their tiles. Part t of a range is
     * always the same chunks, whatever the phase, which is what keeps a block's chunks on one core.
     */
    private void claimTiles(int worker) {
        Tile tile = workers[worker];
        TileOp f = op;
        int parts = workers.length;
        long count = chunkHi - chunkLo;
        for (int p = 0, part = worker; p < parts; p++, part = part + 1 == parts ? 0 : part + 1) {
            int first = chunkLo + (int) (count * part / parts);
            int n = chunkLo + (int) (count * (part + 1) / parts) - first;
            int slot = part * CLAIM_STRIDE;
            for (int i = claimed.getAndIncrement(slot); i < n; i = claimed.getAndIncrement(slot)) {
                int c = backwards ? first + n - 1 - i : first + i;
                for (int k = chunkFirstTile[c]; k < chunkFirstTile[c + 1]; k++) {
                    tile.begin(k);
                    f.apply(tile);
                    tile.end();
                }
            }
        }
    }

    /** {@code b} if it is in native byte order, else null (the tile is staged instead). */
    private static ByteBuffer nativeOrder(ByteBuffer b) {
        return b != null && b.order() == ByteOrder.nativeOrder() ? b : null;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            pool.close();
        }
    }
}

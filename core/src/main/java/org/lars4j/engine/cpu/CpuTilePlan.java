package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;
import static org.lars4j.engine.cpu.CanonicalOrder.THREADS;
import static org.lars4j.engine.cpu.CanonicalOrder.TILE;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.lars4j.engine.EnginePlan;
import org.lars4j.engine.HostTensors;

/**
 * What every Java-engine plan shares: the tile table (4096-element tiles of every segment), the
 * chunks of whole tiles that worker threads claim, the worker pool, per-worker scratch, and the
 * access to the step's host tensors (arrays and, for the Vector API kernels, native-order byte
 * buffers in place; other buffers staged tile by tile).
 * Tiles are the unit of the canonical order, so results never depend on which thread ran a tile.
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
abstract class CpuTilePlan implements EnginePlan {
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

    /** Work on one tile, with the worker's scratch. */
    interface TileBody {
        void run(int tile, Scratch sc);
    }

    /**
     * Per-worker scratch: lanes, staging for buffers the kernels do not read in place, and the
     * current tile's views: w at element wo of the array wa or (wa null) of the byte buffer wb;
     * g likewise.
     */
    static final class Scratch {
        final float[] l0 = new float[LANES];
        final float[] l1 = new float[LANES];
        final float[] l2 = new float[LANES];
        final float[] l3 = new float[LANES];
        final float[] stageW = new float[TILE];
        final float[] stageG = new float[TILE];
        float[] wa;
        ByteBuffer wb;
        int wo;
        boolean wStaged;
        float[] ga;
        ByteBuffer gb;
        int go;
    }

    final int nSeg;
    final int[] segLen;
    final int[] segFirstTile;
    final int[] segTiles;
    final int[] tileSeg;
    final int[] tileStart;
    private final int[] chunkFirstTile;
    private final int nChunks;
    /** Block b holds segments [blockFirstSeg[b], blockFirstSeg[b+1]) and chunks [blockFirstChunk[b], ..). */
    final int[] blockFirstSeg;
    private final int[] blockFirstChunk;
    final int blockElements;
    /** The tile loops (Vector API or scalar), chosen when the plan is made. */
    final TileKernels kernels = TileKernels.select();
    final Scratch[] scratch;
    private final WorkerPool pool;
    /**
     * System property: {@code parts} (default: each worker its own part first, see the class
     * comment) or {@code shared} (one queue, first come first served: the pre-affinity schedule,
     * kept for A/B measurements).
     */
    static final String CLAIMS_PROPERTY = "lars4j.cpu.claims";
    /** True: one shared queue of chunks instead of one part per worker. */
    private final boolean sharedQueue;
    /** Claim counter of each worker's part, {@link #CLAIM_STRIDE} ints apart (a cache line each). */
    private final AtomicIntegerArray claimed;
    private static final int CLAIM_STRIDE = 16;
    // The chunk range of the running phase and its direction, published by WorkerPool.run.
    private int chunkLo;
    private int chunkHi;
    private boolean backwards;
    final double[] acc = new double[THREADS];
    private boolean closed;

    /** The step's tensors, published to the workers by WorkerPool.run. */
    HostTensors w;
    HostTensors g;

    CpuTilePlan(int[] lengths, int threads) {
        this(lengths, threads, Integer.getInteger(BLOCK_PROPERTY, defaultBlockElements(threads)));
    }

    CpuTilePlan(int[] lengths, int threads, int blockElements) {
        if (blockElements < 0) throw new IllegalArgumentException(BLOCK_PROPERTY + " must be >= 0, got " + blockElements);
        nSeg = lengths.length;
        this.blockElements = blockElements;
        segLen = lengths.clone();
        segFirstTile = new int[nSeg];
        segTiles = new int[nSeg];
        int tiles = 0;
        for (int i = 0; i < nSeg; i++) {
            segFirstTile[i] = tiles;
            segTiles[i] = (segLen[i] + TILE - 1) / TILE;
            tiles += segTiles[i];
        }
        tileSeg = new int[tiles];
        tileStart = new int[tiles];
        for (int i = 0; i < nSeg; i++) {
            for (int k = 0; k < segTiles[i]; k++) {
                tileSeg[segFirstTile[i] + k] = i;
                tileStart[segFirstTile[i] + k] = k * TILE;
            }
        }
        // Blocks: greedy runs of whole segments up to blockElements (0: everything in one block).
        int[] bSeg = new int[nSeg + 1];
        int nb = 0;
        long inBlock = 0;
        for (int i = 0; i < nSeg; i++) {
            if (i == 0 || (blockElements > 0 && inBlock + segLen[i] > blockElements)) {
                bSeg[nb++] = i;
                inBlock = 0;
            }
            inBlock += segLen[i];
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
            int end = blockFirstSeg[b + 1] == nSeg ? tiles : segFirstTile[blockFirstSeg[b + 1]];
            for (int k = segFirstTile[blockFirstSeg[b]]; k < end; k++) {
                if (elements == 0) firsts[n++] = k;
                elements += tileLength(k);
                if (elements >= CHUNK_ELEMENTS) elements = 0;
            }
        }
        blockFirstChunk[nb] = n;
        firsts[n] = tiles;
        nChunks = n;
        chunkFirstTile = Arrays.copyOf(firsts, n + 1);
        int workers = Math.max(1, Math.min(threads, nChunks));
        scratch = new Scratch[workers];
        for (int i = 0; i < workers; i++) scratch[i] = new Scratch();
        claimed = new AtomicIntegerArray(workers * CLAIM_STRIDE);
        String claims = System.getProperty(CLAIMS_PROPERTY, "parts");
        if (!claims.equals("parts") && !claims.equals("shared")) {
            throw new IllegalArgumentException(CLAIMS_PROPERTY + " must be parts or shared, got " + claims);
        }
        sharedQueue = claims.equals("shared");
        pool = new WorkerPool(workers, "lars4j-cpu");
    }

    final int tiles() { return tileSeg.length; }

    final int tileLength(int k) { return Math.min(TILE, segLen[tileSeg[k]] - tileStart[k]); }

    final int blocks() { return blockFirstSeg.length - 1; }

    @Override
    public String variant() {
        return (blockElements == 0 ? "whole-model passes" : "blocks of " + blockElements + " elements (" + blocks() + " blocks)")
                + ", " + scratch.length + " thread(s)" + (sharedQueue ? " (one shared chunk queue)" : "") + ", " + kernels.name();
    }

    /** Runs a phase on every tile, spread over the workers by chunks; returns when all are done. */
    final void forEachTile(WorkerPool.Phase phase) {
        runChunks(0, nChunks, false, phase);
    }

    /**
     * Runs a phase on the tiles of block {@code b}. {@code backwards} hands out its chunks last
     * first: a pass that follows a forward pass over the same data then starts on what that pass
     * touched last, which is what is most likely still in cache when a block exceeds the cache.
     */
    final void forEachTileOfBlock(int b, boolean backwards, WorkerPool.Phase phase) {
        runChunks(blockFirstChunk[b], blockFirstChunk[b + 1], backwards, phase);
    }

    private void runChunks(int lo, int hi, boolean back, WorkerPool.Phase phase) {
        chunkLo = lo;
        chunkHi = hi;
        backwards = back;
        for (int t = 0; t < scratch.length; t++) claimed.set(t * CLAIM_STRIDE, 0);
        pool.run(phase);
    }

    /**
     * The loop of a phase: claim chunks of this worker's own part (in the phase's direction), then
     * of the other parts, and run {@code body} on their tiles. Part t of a range is always the
     * same chunks, whatever the phase, which is what keeps a block's chunks on one core.
     */
    final void claimTiles(int worker, TileBody body) {
        Scratch sc = scratch[worker];
        int parts = sharedQueue ? 1 : scratch.length;
        long count = chunkHi - chunkLo;
        for (int p = 0, part = sharedQueue ? 0 : worker; p < parts; p++, part = part + 1 == parts ? 0 : part + 1) {
            int first = chunkLo + (int) (count * part / parts);
            int n = chunkLo + (int) (count * (part + 1) / parts) - first;
            int slot = part * CLAIM_STRIDE;
            for (int i = claimed.getAndIncrement(slot); i < n; i = claimed.getAndIncrement(slot)) {
                int c = backwards ? first + n - 1 - i : first + i;
                for (int k = chunkFirstTile[c]; k < chunkFirstTile[c + 1]; k++) body.run(k, sc);
            }
        }
    }

    /**
     * Points sc.wa/sc.wb/sc.wo at tile k's weights. Arrays are used in place; so are byte buffers
     * in native byte order when {@code inPlace} and the kernels read them
     * ({@link TileKernels#readsByteBuffers}: the Vector API kernels). Anything else (a direct
     * float buffer, a byte buffer in the other order, or any byte buffer for the scalar kernels or
     * LAMB's moments/apply kernels) is copied into sc.stageW, and {@link #storeW} writes it back.
     * Copying costs: a read pass through a 16 KiB stage ran at half the speed of the same pass
     * reading the memory itself (bench/RESULTS.md, "direct buffers").
     */
    final void viewW(int k, Scratch sc, boolean inPlace) {
        int seg = tileSeg[k];
        int o = w.offset(seg) + tileStart[k];
        float[] a = w.array(seg);
        ByteBuffer b = inPlace ? kernelView(w.byteBuffer(seg)) : null;
        sc.wStaged = a == null && b == null;
        if (sc.wStaged) {
            w.read(seg, tileStart[k], sc.stageW, 0, tileLength(k));
            a = sc.stageW;
            o = 0;
        }
        sc.wa = a;
        sc.wb = b;
        sc.wo = o;
    }

    /** Points sc.ga/sc.gb/sc.go at tile k's gradients, as {@link #viewW} does for the weights. */
    final void viewG(int k, Scratch sc, boolean inPlace) {
        int seg = tileSeg[k];
        int o = g.offset(seg) + tileStart[k];
        float[] a = g.array(seg);
        ByteBuffer b = inPlace ? kernelView(g.byteBuffer(seg)) : null;
        if (a == null && b == null) {
            g.read(seg, tileStart[k], sc.stageG, 0, tileLength(k));
            a = sc.stageG;
            o = 0;
        }
        sc.ga = a;
        sc.gb = b;
        sc.go = o;
    }

    /** {@code b} if the kernels can read and write it in place, else null. */
    private ByteBuffer kernelView(ByteBuffer b) {
        return b != null && kernels.readsByteBuffers() && b.order() == ByteOrder.nativeOrder() ? b : null;
    }

    /** Writes tile k's weights back from sc.stageW if {@link #viewW} staged them. */
    final void storeW(int k, Scratch sc) {
        if (sc.wStaged) w.write(tileSeg[k], tileStart[k], sc.stageW, 0, tileLength(k));
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            pool.close();
        }
    }
}

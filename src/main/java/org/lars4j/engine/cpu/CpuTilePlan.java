package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;
import static org.lars4j.engine.cpu.CanonicalOrder.THREADS;
import static org.lars4j.engine.cpu.CanonicalOrder.TILE;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.lars4j.engine.EnginePlan;
import org.lars4j.engine.HostTensors;

/**
 * What every Java-engine plan shares: the tile table (4096-element tiles of every segment), the
 * chunks of whole tiles that worker threads claim, the worker pool, per-worker scratch, and the
 * access to the step's host tensors (arrays directly; direct buffers staged tile by tile).
 * Tiles are the unit of the canonical order, so results never depend on which thread ran a tile.
 */
abstract class CpuTilePlan implements EnginePlan {
    /** A chunk (unit of work claimed by a thread) holds whole tiles, about this many elements. */
    private static final int CHUNK_ELEMENTS = 32 * 1024;

    /** Work on one tile, with the worker's scratch. */
    interface TileBody {
        void run(int tile, Scratch sc);
    }

    /** Per-worker scratch: lanes, fold buffer, staging for direct buffers, the current tile's views. */
    static final class Scratch {
        final float[] l0 = new float[LANES];
        final float[] l1 = new float[LANES];
        final float[] l2 = new float[LANES];
        final float[] fold = new float[THREADS];
        final float[] l3 = new float[LANES];
        final float[] stageW = new float[TILE];
        final float[] stageG = new float[TILE];
        float[] wa;
        int wo;
        float[] ga;
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
    final Scratch[] scratch;
    private final WorkerPool pool;
    private final AtomicInteger nextChunk = new AtomicInteger();
    final double[] acc = new double[THREADS];
    private boolean closed;

    /** The step's tensors, published to the workers by WorkerPool.run. */
    HostTensors w;
    HostTensors g;

    CpuTilePlan(int[] lengths, int threads) {
        nSeg = lengths.length;
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
        int[] firsts = new int[tiles + 1];
        int n = 0;
        int elements = 0;
        for (int k = 0; k < tiles; k++) {
            if (elements == 0) firsts[n++] = k;
            elements += tileLength(k);
            if (elements >= CHUNK_ELEMENTS) elements = 0;
        }
        firsts[n] = tiles;
        nChunks = n;
        chunkFirstTile = Arrays.copyOf(firsts, n + 1);
        int workers = Math.max(1, Math.min(threads, nChunks));
        scratch = new Scratch[workers];
        for (int i = 0; i < workers; i++) scratch[i] = new Scratch();
        pool = new WorkerPool(workers, "lars4j-cpu");
    }

    final int tiles() { return tileSeg.length; }

    final int tileLength(int k) { return Math.min(TILE, segLen[tileSeg[k]] - tileStart[k]); }

    /** Runs a phase on every tile, spread over the workers by chunks; returns when all are done. */
    final void forEachTile(WorkerPool.Phase phase) {
        nextChunk.set(0);
        pool.run(phase);
    }

    /** The loop of a phase: claim chunks, run {@code body} on their tiles. */
    final void claimTiles(int worker, TileBody body) {
        Scratch sc = scratch[worker];
        for (int c = nextChunk.getAndIncrement(); c < nChunks; c = nextChunk.getAndIncrement()) {
            for (int k = chunkFirstTile[c]; k < chunkFirstTile[c + 1]; k++) body.run(k, sc);
        }
    }

    /** Points sc.wa/sc.wo at tile k's weights (staging them from a direct buffer if needed). */
    final void viewW(int k, Scratch sc) {
        int seg = tileSeg[k];
        float[] a = w.array(seg);
        int o = w.offset(seg) + tileStart[k];
        if (a == null) {
            w.buffer(seg).get(o, sc.stageW, 0, tileLength(k));
            a = sc.stageW;
            o = 0;
        }
        sc.wa = a;
        sc.wo = o;
    }

    /** Points sc.ga/sc.go at tile k's gradients. */
    final void viewG(int k, Scratch sc) {
        int seg = tileSeg[k];
        float[] a = g.array(seg);
        int o = g.offset(seg) + tileStart[k];
        if (a == null) {
            g.buffer(seg).get(o, sc.stageG, 0, tileLength(k));
            a = sc.stageG;
            o = 0;
        }
        sc.ga = a;
        sc.go = o;
    }

    /** Writes tile k's staged weights back to their direct buffer (no-op for arrays). */
    final void storeW(int k, Scratch sc) {
        int seg = tileSeg[k];
        FloatBuffer b = w.buffer(seg);
        if (b != null) b.put(w.offset(seg) + tileStart[k], sc.stageW, 0, tileLength(k));
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            pool.close();
        }
    }
}

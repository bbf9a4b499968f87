package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.LANES;
import static org.lars4j.engine.cpu.CanonicalOrder.THREADS;
import static org.lars4j.engine.cpu.CanonicalOrder.TILE;
import static org.lars4j.engine.LarsSegmentPlan.NORM_G;
import static org.lars4j.engine.LarsSegmentPlan.NORM_NONE;
import static org.lars4j.engine.LarsSegmentPlan.NORM_WG;
import static org.lars4j.engine.LarsSegmentPlan.NORM_WGU;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.lars4j.LarsConfig;
import org.lars4j.LrPlacement;
import org.lars4j.TrustRatioForm;
import org.lars4j.engine.EnginePlan;
import org.lars4j.engine.HostTensors;
import org.lars4j.engine.LarsSegmentPlan;
import org.lars4j.engine.StepScalars;
import org.lars4j.layout.ParamLayout;

/**
 * The LARS family planned on the Java engine. A step is three phases:
 * <ol>
 * <li>norms (parallel over tiles): tile partials of sum(w^2), sum(g^2), sum(u^2);</li>
 * <li>finalisation (caller thread, per segment): double totals in the canonical order, trust
 *     ratio and the float scalars of the update;</li>
 * <li>update (parallel over tiles): one pass reading w, g, v and writing w, v.</li>
 * </ol>
 * Threads claim chunks of whole tiles; a tile's result does not depend on which thread computed
 * it and totals are formed serially, so results are the same bits for any thread count.
 */
final class CpuLarsPlan implements EnginePlan {

    /** A chunk (unit of work claimed by a thread) holds whole tiles, about this many elements. */
    private static final int CHUNK_ELEMENTS = 32 * 1024;

    private final LarsConfig cfg;
    private final int nSeg;
    private final int[] segLen;
    private final int[] segFirstTile;
    private final int[] segTiles;
    private final int[] normMode;
    private final double[] lamD;
    private final int[] tileSeg;
    private final int[] tileStart;
    private final int[] chunkFirstTile;
    private final int nChunks;

    private final float[] partW;
    private final float[] partG;
    private final float[] partU;
    private final double[] normW;
    private final double[] normG;
    private final double[] trust;
    private final float[] lamEff;
    private final float[] scale;
    private final float[][] momentum;

    private final Scratch[] scratch;
    private final WorkerPool pool;
    private final AtomicInteger nextChunk = new AtomicInteger();
    private final WorkerPool.Phase normPhase = this::normWorker;
    private final WorkerPool.Phase updatePhase = this::updateWorker;

    // Per-step inputs, published to the workers by WorkerPool.run.
    private HostTensors w;
    private HostTensors g;
    private float muF;
    private float damp1F;
    private float negLrF;
    private boolean first;
    private boolean closed;

    /** Per-worker scratch: lanes, fold buffer, staging for direct buffers. */
    private static final class Scratch {
        final float[] lw = new float[LANES];
        final float[] lg = new float[LANES];
        final float[] lu = new float[LANES];
        final float[] fold = new float[THREADS];
        final float[] stageW = new float[TILE];
        final float[] stageG = new float[TILE];
    }

    CpuLarsPlan(LarsConfig cfg, ParamLayout layout, int threads) {
        this.cfg = cfg;
        LarsSegmentPlan seg = new LarsSegmentPlan(cfg, layout);
        nSeg = seg.segments();
        segLen = seg.lengths();
        normMode = seg.normModes();
        lamD = seg.lambdas();
        segFirstTile = new int[nSeg];
        segTiles = new int[nSeg];
        momentum = new float[nSeg][];
        int tiles = 0;
        for (int i = 0; i < nSeg; i++) {
            segFirstTile[i] = tiles;
            segTiles[i] = (segLen[i] + TILE - 1) / TILE;
            tiles += segTiles[i];
            momentum[i] = new float[segLen[i]];
        }
        tileSeg = new int[tiles];
        tileStart = new int[tiles];
        for (int i = 0; i < nSeg; i++) {
            for (int k = 0; k < segTiles[i]; k++) {
                tileSeg[segFirstTile[i] + k] = i;
                tileStart[segFirstTile[i] + k] = k * TILE;
            }
        }
        // Chunks: consecutive whole tiles, about CHUNK_ELEMENTS elements each.
        int[] firsts = new int[tiles + 1];
        int n = 0;
        int acc = 0;
        for (int k = 0; k < tiles; k++) {
            if (acc == 0) firsts[n++] = k;
            acc += Math.min(TILE, segLen[tileSeg[k]] - tileStart[k]);
            if (acc >= CHUNK_ELEMENTS) acc = 0;
        }
        firsts[n] = tiles;
        nChunks = n;
        chunkFirstTile = Arrays.copyOf(firsts, n + 1);

        partW = new float[tiles];
        partG = new float[tiles];
        partU = new float[tiles];
        normW = new double[nSeg];
        normG = new double[nSeg];
        trust = new double[nSeg];
        lamEff = new float[nSeg];
        scale = new float[nSeg];
        int workers = Math.max(1, Math.min(threads, Math.max(1, nChunks)));
        scratch = new Scratch[workers];
        for (int i = 0; i < workers; i++) scratch[i] = new Scratch();
        pool = new WorkerPool(workers, "lars4j-cpu");
    }

    @Override
    public boolean step(HostTensors params, HostTensors grads, StepScalars sc, boolean skipNonFinite) {
        this.w = params;
        this.g = grads;
        try {
            nextChunk.set(0);
            pool.run(normPhase);
            boolean finite = finalizeSegments(sc);
            if (!finite && skipNonFinite) return false;
            muF = (float) sc.momentum();
            damp1F = (float) (1.0 - cfg.dampening());
            negLrF = -(float) sc.learningRate();
            first = sc.firstStep();
            nextChunk.set(0);
            pool.run(updatePhase);
            return true;
        } finally {
            this.w = null;
            this.g = null;
        }
    }

    // ---- phase 1: tile partials -------------------------------------------------------------

    private void normWorker(int worker) {
        Scratch sc = scratch[worker];
        for (int c = nextChunk.getAndIncrement(); c < nChunks; c = nextChunk.getAndIncrement()) {
            for (int k = chunkFirstTile[c]; k < chunkFirstTile[c + 1]; k++) normTile(k, sc);
        }
    }

    private void normTile(int k, Scratch sc) {
        int seg = tileSeg[k];
        int mode = normMode[seg];
        if (mode == NORM_NONE) return;
        int start = tileStart[k];
        int n = Math.min(TILE, segLen[seg] - start);
        float[] ga = g.array(seg);
        int go = g.offset(seg) + start;
        if (ga == null) {
            g.buffer(seg).get(go, sc.stageG, 0, n);
            ga = sc.stageG;
            go = 0;
        }
        boolean full = n == TILE;
        if (mode == NORM_G) {
            if (full) LarsKernels.fullTileG(sc.lg, ga, go);
            else CanonicalOrder.accumulate(sc.lg, ga, go, n);
            partG[k] = CanonicalOrder.foldLanes(sc.lg, sc.fold);
            return;
        }
        float[] wa = w.array(seg);
        int wo = w.offset(seg) + start;
        if (wa == null) {
            w.buffer(seg).get(wo, sc.stageW, 0, n);
            wa = sc.stageW;
            wo = 0;
        }
        if (mode == NORM_WG) {
            if (full) LarsKernels.fullTileWG(sc.lw, sc.lg, wa, wo, ga, go);
            else LarsKernels.accumulateWG(sc.lw, sc.lg, wa, wo, ga, go, n);
        } else {
            if (full) LarsKernels.fullTileWGU(sc.lw, sc.lg, sc.lu, wa, wo, ga, go, (float) lamD[seg]);
            else LarsKernels.accumulateWGU(sc.lw, sc.lg, sc.lu, wa, wo, ga, go, n, (float) lamD[seg]);
            partU[k] = CanonicalOrder.foldLanes(sc.lu, sc.fold);
        }
        partW[k] = CanonicalOrder.foldLanes(sc.lw, sc.fold);
        partG[k] = CanonicalOrder.foldLanes(sc.lg, sc.fold);
    }

    // ---- phase 2: per-segment scalars (float64, docs/CANONICAL_ORDER.md section 4) ----------

    private boolean finalizeSegments(StepScalars sc) {
        double[] acc = accScratch;
        boolean finite = true;
        double lr = sc.learningRate();
        double phi = sc.phi();
        boolean inside = cfg.placement() == LrPlacement.INSIDE;
        double eps = cfg.eps();
        double eta = cfg.trustCoefficient();
        double clamp = cfg.normClamp();
        for (int i = 0; i < nSeg; i++) {
            int mode = normMode[i];
            int f = segFirstTile[i];
            int t = segTiles[i];
            double sg = mode == NORM_NONE ? Double.NaN : CanonicalOrder.segmentSum(partG, f, t, acc);
            if (mode != NORM_NONE && !Double.isFinite(sg)) finite = false;
            normG[i] = Math.sqrt(sg);
            double lam = lamD[i];
            double tr = 1.0;
            if (mode == NORM_WG || mode == NORM_WGU) {
                double wNorm = Math.sqrt(CanonicalOrder.segmentSum(partW, f, t, acc));
                normW[i] = wNorm;
                double nNorm = mode == NORM_WGU ? Math.sqrt(CanonicalOrder.segmentSum(partU, f, t, acc)) : normG[i];
                double wc = wNorm > clamp ? clamp : wNorm; // NaN stays NaN, as in the kernels
                double nc = nNorm > clamp ? clamp : nNorm;
                if (wc > 0 && nc > 0) {
                    double den = cfg.form() == TrustRatioForm.SUM_OF_NORMS ? (nc + lam * wc) + eps : nc + eps;
                    tr = eta * wc / den * phi;
                    if (cfg.clip()) {
                        double x = tr / lr;
                        tr = x > 1.0 ? 1.0 : x;
                    }
                } else if (cfg.zeroNormSkipsDecay()) {
                    lam = 0.0;
                }
            } else {
                normW[i] = Double.NaN;
            }
            trust[i] = tr;
            lamEff[i] = (float) lam;
            scale[i] = (float) (inside ? lr * tr : tr);
        }
        return finite;
    }

    private final double[] accScratch = new double[THREADS];

    // ---- phase 3: the fused update ----------------------------------------------------------

    private void updateWorker(int worker) {
        Scratch sc = scratch[worker];
        boolean inside = cfg.placement() == LrPlacement.INSIDE;
        boolean nesterov = cfg.nesterov();
        for (int c = nextChunk.getAndIncrement(); c < nChunks; c = nextChunk.getAndIncrement()) {
            for (int k = chunkFirstTile[c]; k < chunkFirstTile[c + 1]; k++) {
                int seg = tileSeg[k];
                int start = tileStart[k];
                int n = Math.min(TILE, segLen[seg] - start);
                float[] wa = w.array(seg);
                int wo = w.offset(seg) + start;
                FloatBuffer wb = w.buffer(seg); // non-null: stage the tile, update, write back
                int wbIndex = wo;
                if (wa == null) {
                    wb.get(wbIndex, sc.stageW, 0, n);
                    wa = sc.stageW;
                    wo = 0;
                }
                float[] ga = g.array(seg);
                int go = g.offset(seg) + start;
                if (ga == null) {
                    g.buffer(seg).get(go, sc.stageG, 0, n);
                    ga = sc.stageG;
                    go = 0;
                }
                if (inside) {
                    LarsKernels.updateInside(wa, wo, ga, go, momentum[seg], start, n,
                            lamEff[seg], scale[seg], muF, nesterov);
                } else {
                    LarsKernels.updateOutside(wa, wo, ga, go, momentum[seg], start, n,
                            lamEff[seg], scale[seg], muF, damp1F, negLrF, first, nesterov);
                }
                if (wb != null) wb.put(wbIndex, sc.stageW, 0, n);
            }
        }
    }

    // ---- state and diagnostics --------------------------------------------------------------

    @Override
    public void readState(int buffer, int segment, float[] dst) {
        checkBuffer(buffer);
        System.arraycopy(momentum[segment], 0, dst, 0, segLen[segment]);
    }

    @Override
    public void writeState(int buffer, int segment, float[] src) {
        checkBuffer(buffer);
        System.arraycopy(src, 0, momentum[segment], 0, segLen[segment]);
    }

    @Override
    public void resetState() {
        for (float[] m : momentum) Arrays.fill(m, 0f);
    }

    private static void checkBuffer(int buffer) {
        if (buffer != 0) throw new IndexOutOfBoundsException("LARS has one state buffer (momentum_buffer), asked for #" + buffer);
    }

    @Override public double lastWeightNorm(int segment) { return normW[segment]; }
    @Override public double lastGradNorm(int segment) { return normG[segment]; }
    @Override public double lastTrustRatio(int segment) { return trust[segment]; }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            pool.close();
        }
    }
}

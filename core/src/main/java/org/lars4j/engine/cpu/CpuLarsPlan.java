package org.lars4j.engine.cpu;

import static org.lars4j.rule.lars.LarsSegments.NORM_G;
import static org.lars4j.rule.lars.LarsSegments.NORM_NONE;
import static org.lars4j.rule.lars.LarsSegments.NORM_WG;
import static org.lars4j.rule.lars.LarsSegments.NORM_WGU;

import java.util.Arrays;
import org.lars4j.engine.EnginePlan;
import org.lars4j.engine.HostTensors;
import org.lars4j.engine.WeightsTracker;
import org.lars4j.engine.cpu.TileTraversal.Tile;
import org.lars4j.engine.cpu.TileTraversal.TileOp;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.StepValues;
import org.lars4j.rule.lars.LarsConfig;
import org.lars4j.rule.lars.LarsSegments;
import org.lars4j.rule.lars.LarsStepValues;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.rule.stage.Lookahead;

/**
 * The LARS family planned on the Java engine. A step is three phases:
 * <ol>
 * <li>norms (parallel over tiles): tile partials of sum(w^2), sum(g^2), sum(u^2);</li>
 * <li>finalisation (caller thread, per segment): double totals in the canonical order, trust
 *     ratio and the float scalars of the update;</li>
 * <li>update (parallel over tiles): one pass reading w, g, v and writing w, v.</li>
 * </ol>
 * Phases 1 and 3 are {@link TileOp}s on the shared {@link TileTraversal}; phase 1 and the totals
 * of phase 2 are the shared {@link SegmentedSumOfSquares}; the update loops are {@link LarsKernels}.
 * The phases run block by block ({@link TileTraversal}): a block's update follows its norms while
 * its w and g are still in cache, so w and g come from DRAM once per step (for a segment longer
 * than the cache holds, only its tail is still there). The non-finite check
 * (SKIP_STEP) must see every gradient before anything is written, so with more than one block it
 * first runs a gradient-only norm pass over the whole model, then the blocks last to first (the
 * end of g is what that pass left in cache): 24 bytes per parameter instead of 20, still 4 fewer
 * than two whole-model passes. PROPAGATE needs no such pass.
 * Threads claim chunks of whole tiles; a tile's result does not depend on which thread computed
 * it or in which block order, and totals are formed serially, so results are the same bits for
 * any thread count and any block size.
 * With the global gradient clip (a stage), every step starts with the gradient-only pass over the
 * whole model (the clip factor needs every segment's sum(g^2) before any update); the later
 * passes read g / factor ({@link TileTraversal#clipBy}) and ||g'|| is ||g|| / factor in float64.
 * With Lookahead around the rule, its copy and sync run inside the update phase, tile by tile
 * ({@link LookaheadSlowWeights}); the carried weight partials are those of the weights as stored,
 * after a sync.
 */
final class CpuLarsPlan implements EnginePlan {
    private final LarsConfig cfg;
    private final TileTable table;
    private final TileTraversal tiles;
    private final SegmentedSumOfSquares sums;
    private final LarsKernels kernels = LarsKernels.select();
    private final int nSeg;
    private final int[] segLen;
    private final int[] normMode;
    private final double[] lamD;

    private final float[] partW;
    private final float[] partG;
    private final float[] partU;
    private final double[] normW;
    private final double[] normG;
    private final double[] trust;
    private final float[] lamEff;
    private final float[] scale;
    // Momentum: one flat array at the layout's offsets when the model fits one Java array (so the
    // flat form's w, g and v share one index and the update loop vectorises), else one per segment.
    private final float[][] momentum;
    private final int[] momentumOff;
    /** Lookahead's slow weights (state buffer 1), or null without Lookahead. */
    private final LookaheadSlowWeights slow;

    private final CentredGradients centring;
    /** The global gradient clip stage, or null; with it, every step starts with the gradient pre-pass. */
    private final GlobalGradientClip clip;
    /** Float64 sum(g^2) per segment from the pre-pass, for the clip's global norm. */
    private final double[] sumG;
    private final TileOp normPhase = new NormPhase();
    private final TileOp updatePhase = new UpdatePhase();

    // Carried weight norms (LarsConfig.carryWeightNorms): partW holds the tile partials of the weights the
    // last update wrote; used when the caller says the weights are as that step left them.
    private final boolean carry;
    private final WeightsTracker weights;
    private boolean carryReady;
    private boolean useCarried;
    // True while the norm phase runs after the gradient-only pre-pass (g partials already there).
    private boolean gradDone;
    private boolean gradOnly;

    // Per-step update constants, published to the workers by WorkerPool.run.
    private float muF;
    private float damp1F;
    private float negLrF;
    private boolean first;

    /**
     * The rule with its stages: Lookahead ({@code lookahead} null: none) and gradient
     * centralization ({@code centring} null: none; it starts every step: see {@link CentredGradients#startStep}).
     */
    CpuLarsPlan(LarsConfig cfg, Lookahead lookahead, GlobalGradientClip clip, ParamLayout layout, int threads,
                CentredGradients centring) {
        this(cfg, lookahead, clip, new LarsSegments(cfg, layout, clip != null), threads, centring);
    }

    private CpuLarsPlan(LarsConfig cfg, Lookahead lookahead, GlobalGradientClip clip, LarsSegments seg, int threads,
                        CentredGradients centring) {
        this.cfg = cfg;
        this.clip = clip;
        this.centring = centring;
        table = new TileTable(seg.lengths());
        tiles = new TileTraversal(table, threads);
        tiles.centre(centring);
        sums = new SegmentedSumOfSquares(table, SquaresKernels.select());
        nSeg = table.segments;
        segLen = table.segmentLength;
        normMode = seg.normModes();
        lamD = seg.lambdas();
        carry = cfg.carryWeightNorms();
        weights = new WeightsTracker(nSeg);
        momentum = new float[nSeg][];
        momentumOff = new int[nSeg];
        long total = 0;
        for (int len : segLen) total += len;
        float[] flat = total <= org.lars4j.layout.ParamLayout.MAX_SEGMENT_LENGTH ? new float[(int) total] : null;
        for (int i = 0, at = 0; i < nSeg; at += segLen[i], i++) {
            momentum[i] = flat != null ? flat : new float[segLen[i]];
            momentumOff[i] = flat != null ? at : 0;
        }
        partW = new float[table.tiles()];
        partG = new float[table.tiles()];
        partU = new float[table.tiles()];
        normW = new double[nSeg];
        normG = new double[nSeg];
        sumG = new double[nSeg];
        trust = new double[nSeg];
        lamEff = new float[nSeg];
        scale = new float[nSeg];
        slow = LookaheadSlowWeights.of(lookahead, segLen);
    }

    @Override
    public boolean step(HostTensors params, HostTensors grads, StepValues values, boolean skipNonFinite) {
        LarsStepValues sc = (LarsStepValues) values;
        tiles.bind(params, grads);
        try {
            useCarried = carry && weights.hostStep(params) && carryReady;
            carryReady = false;
            if (centring != null) centring.startStep(tiles);   // every later view of g is centred
            int nb = tiles.blocks();
            boolean prePass = (skipNonFinite && nb > 1) || clip != null;
            if (prePass) {
                gradOnly = true;
                tiles.forEachTile(normPhase);
                gradOnly = false;
                boolean finite = gradNorms(0, nSeg);
                float factor = 1f;
                if (clip != null) {
                    double global = Math.sqrt(sums.sumOfTotals(sumG, nSeg));
                    if (!Double.isFinite(global)) finite = false;
                    factor = (float) clip.factor(global);
                }
                if (!finite && skipNonFinite) {
                    carryReady = useCarried; // weights untouched: carried partials still hold
                    weights.stepDone();
                    return false;
                }
                if (clip != null) clipNorms(factor);
            }
            muF = (float) sc.momentum();
            damp1F = (float) (1.0 - cfg.dampening());
            negLrF = -(float) sc.learningRate();
            first = sc.firstStep();
            if (slow != null) slow.startStep(sc);
            gradDone = prePass;
            for (int i = 0; i < nb; i++) {
                int b = prePass ? nb - 1 - i : i;
                int s0 = tiles.blockStart(b);
                int s1 = tiles.blockEnd(b);
                tiles.forEachTileOfBlock(b, false, normPhase);
                if (!prePass && !gradNorms(s0, s1) && skipNonFinite) {
                    carryReady = carry; // one block (no pre-pass): partW holds these weights' partials
                    weights.stepDone();
                    return false;
                }
                trustRatios(s0, s1, sc);
                tiles.forEachTileOfBlock(b, true, updatePhase);
            }
            carryReady = carry;   // the update left the new weights' partials in partW
            weights.stepDone();
            return true;
        } finally {
            gradOnly = false;
            tiles.clipBy(1f);
            tiles.unbind();
        }
    }

    // ---- phase 1: tile partials -------------------------------------------------------------

    /** Tile partials of sum(w^2), sum(g^2), sum(u^2), as the segment's norm mode asks. */
    private final class NormPhase implements TileOp {
        @Override
        public void apply(Tile t) {
            int mode = normMode[t.segment];
            if (mode == NORM_NONE) return;
            boolean inPlace = sums.readsByteBuffers();
            if (gradOnly) {
                // The SKIP_STEP pre-pass: every gradient partial before any block is updated.
                t.viewG(inPlace);
                partG[t.index] = sums.partialG(t);
                return;
            }
            boolean wCarried = mode == NORM_WG && useCarried;
            if (gradDone && (mode == NORM_G || wCarried)) return;
            if (gradDone && mode == NORM_WG) {
                t.viewW(inPlace);
                partW[t.index] = sums.partialW(t);
                return;
            }
            t.viewG(inPlace);
            if (mode == NORM_G || wCarried) {
                // g only: a segment that is not adapted, or ||w|| partials carried from the last update.
                partG[t.index] = sums.partialG(t);
                return;
            }
            t.viewW(inPlace);
            if (mode == NORM_WG) sums.partialsWG(t, partW, partG);
            else sums.partialsWGU(t, (float) lamD[t.segment], partW, partG, partU);
        }
    }

    // ---- phase 2: per-segment scalars (float64, docs/CANONICAL_ORDER.md section 4) ----------

    /** normG of segments [s0, s1) from the tile partials; false if any sum of squares is not finite. */
    private boolean gradNorms(int s0, int s1) {
        boolean finite = true;
        for (int i = s0; i < s1; i++) {
            if (normMode[i] == NORM_NONE) {
                normG[i] = Double.NaN;
                continue;
            }
            double sg = sums.total(partG, i);
            sumG[i] = sg;
            if (!Double.isFinite(sg)) finite = false;
            normG[i] = Math.sqrt(sg);
        }
        return finite;
    }

    /**
     * The clip stage after the pre-pass: every later view of g is g / factor (the traversal
     * divides where the norm and update passes read g), and ||g'|| of each segment is its
     * pre-pass norm divided in float64 by the same float factor, so g is not read again for it.
     */
    private void clipNorms(float factor) {
        tiles.clipBy(factor);
        if (factor == 1f) return;
        for (int i = 0; i < nSeg; i++) normG[i] = normG[i] / (double) factor;
    }

    /** Trust ratio and the update's float scalars of segments [s0, s1); normG must be there. */
    private void trustRatios(int s0, int s1, LarsStepValues sc) {
        double lr = sc.learningRate();
        double phi = sc.phi();
        boolean inside = cfg.placement() == LrPlacement.INSIDE;
        double eps = cfg.eps();
        double eta = cfg.trustCoefficient();
        double clamp = cfg.normClamp();
        for (int i = s0; i < s1; i++) {
            int mode = normMode[i];
            double lam = lamD[i];
            double tr = 1.0;
            if (mode == NORM_WG || mode == NORM_WGU) {
                double wNorm = Math.sqrt(sums.total(partW, i));
                normW[i] = wNorm;
                double nNorm = mode == NORM_WGU ? Math.sqrt(sums.total(partU, i)) : normG[i];
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
    }

    // ---- phase 3: the fused update ----------------------------------------------------------

    /** The fused update of one tile; under carried norms also the new weights' partials. */
    private final class UpdatePhase implements TileOp {
        @Override
        public void apply(Tile t) {
            int seg = t.segment;
            int n = t.length;
            boolean inPlace = kernels.readsByteBuffers();
            t.viewWForUpdate(inPlace);
            t.viewG(inPlace);
            int vo = momentumOff[seg] + t.start;
            if (slow != null) slow.beforeUpdate(t);
            if (cfg.placement() == LrPlacement.INSIDE) {
                kernels.updateInside(t.wa, t.wb, t.wo, t.ga, t.gb, t.go, momentum[seg], vo, n, lamEff[seg], scale[seg], muF, cfg.nesterov());
            } else {
                kernels.updateOutside(t.wa, t.wb, t.wo, t.ga, t.gb, t.go, momentum[seg], vo, n,
                        lamEff[seg], scale[seg], muF, damp1F, negLrF, first, cfg.nesterov());
            }
            if (slow != null) slow.afterUpdate(t);
            if (carry && normMode[seg] == NORM_WG) {
                // The new weights' partials for the next step, from the tile still in L1 (same order).
                partW[t.index] = sums.partialW(t);
            }
        }
    }

    // ---- state and diagnostics --------------------------------------------------------------

    @Override
    public void readState(int buffer, int segment, float[] dst) {
        checkBuffer(buffer);
        if (buffer == 1) slow.read(segment, dst);
        else System.arraycopy(momentum[segment], momentumOff[segment], dst, 0, segLen[segment]);
    }

    @Override
    public void writeState(int buffer, int segment, float[] src) {
        checkBuffer(buffer);
        if (buffer == 1) slow.write(segment, src);
        else System.arraycopy(src, 0, momentum[segment], momentumOff[segment], segLen[segment]);
    }

    @Override
    public void resetState() {
        weights.changed();
        for (int i = 0; i < nSeg; i++) Arrays.fill(momentum[i], momentumOff[i], momentumOff[i] + segLen[i], 0f);
        if (slow != null) slow.reset();
    }

    @Override public void weightsChanged() { weights.changed(); }

    private void checkBuffer(int buffer) {
        if (buffer == 0 || (buffer == 1 && slow != null)) return;
        throw new IndexOutOfBoundsException(slow == null ? "LARS has one state buffer (momentum_buffer), asked for #" + buffer
                : "LARS with Lookahead has two state buffers (momentum_buffer, lookahead_slow), asked for #" + buffer);
    }

    @Override public double lastWeightNorm(int segment) { return normW[segment]; }
    @Override public double lastGradNorm(int segment) { return normG[segment]; }
    @Override public double lastTrustRatio(int segment) { return trust[segment]; }

    @Override
    public String variant() {
        return tiles.describe() + ", " + kernels.name() + (centring != null ? ", " + centring.describe() : "");
    }

    @Override
    public void close() {
        tiles.close();
    }
}

package org.lars4j.engine.cpu;

import java.util.Arrays;
import org.lars4j.engine.EnginePlan;
import org.lars4j.engine.HostTensors;
import org.lars4j.engine.cpu.TileTraversal.Tile;
import org.lars4j.engine.cpu.TileTraversal.TileOp;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.StepValues;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lamb.LambSegments;
import org.lars4j.rule.lamb.LambStepValues;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.rule.stage.Lookahead;

/**
 * LAMB planned on the Java engine. A step is five phases (the CUDA plan has the same passes):
 * <ol>
 * <li>gradient norms (parallel over tiles; only with a global clip or the non-finite check);</li>
 * <li>serial: segment totals, the global norm over all segments, the clip factor, the skip decision;</li>
 * <li>moments (parallel): m, v written; tile partials of r^2 and w^2 for adapted segments;</li>
 * <li>serial: ||w||, ||r||, trust ratio per segment;</li>
 * <li>apply (parallel): w updated with the r the moments pass stored.</li>
 * </ol>
 * Phases 1, 3 and 5 are {@link TileOp}s on the shared {@link TileTraversal}; the partials and
 * totals are the shared {@link SegmentedSumOfSquares} (the moments pass accumulates the r and w
 * lanes itself, fused with its element math, and folds them there); the element loops are
 * {@link LambKernels}.
 * Phases 3-5 run block by block ({@link TileTraversal}): the moments pass stores r in a buffer one
 * block long ({@link #rBlock}), and the block's apply pass reads r and w back while they are
 * still in the last-level cache, so a step moves about 32 bytes per parameter from DRAM instead
 * of 44 (g once for the global norm; w, g, m, v in and m, v out for the moments; w out) and
 * computes its divisions and square roots once. The CUDA plan recomputes r from m' and v' in its
 * apply pass instead; both give the same r, bit for bit. Phases 1-2 stay whole-model: the global
 * norm and the skip decision come before any write. Blocks change which tiles run when, never
 * what a tile computes.
 * With Lookahead around the rule, its copy and sync run inside the apply phase, tile by tile
 * ({@link LookaheadSlowWeights}).
 */
final class CpuLambPlan implements EnginePlan {
    private final LambConfig cfg;
    private final LambSegments seg;
    private final TileTable table;
    private final TileTraversal tiles;
    private final SegmentedSumOfSquares sums;
    private final LambKernels kernels = LambKernels.select();
    private final int nSeg;
    private final int[] segLen;
    private final float[] partG;
    private final float[] partR;
    private final float[] partW;
    private final double[] sumG;
    private final double[] normW;
    private final double[] normG;
    private final double[] trust;
    private final float[] lamF;
    private final float[] negScale;
    private final float[][] m;
    private final float[][] v;
    /** r of the block in flight, written by the moments pass, read by the apply pass (one block long). */
    private final float[] rBlock;
    /** Where segment i's r starts in rBlock: its offset inside its block. */
    private final int[] rOff;
    private final LambKernels.Consts consts = new LambKernels.Consts();
    /** Lookahead's slow weights (state buffer 2), or null without Lookahead. */
    private final LookaheadSlowWeights slow;

    private final CentredGradients centring;
    /** The global gradient clip stage (LAMB's maxGradNorm, or a stage's), or null. */
    private final GlobalGradientClip clip;
    private final boolean gradNormPass;
    private final TileOp gradPhase = new GradNormPhase();
    private final TileOp momentsPhase = new MomentsPhase();
    private final TileOp applyPhase = new ApplyPhase();

    /**
     * The rule with its stages: Lookahead ({@code lookahead} null: none) and gradient
     * centralization ({@code centring} null: none; it starts every step: see {@link CentredGradients#startStep}).
     */
    CpuLambPlan(LambConfig cfg, Lookahead lookahead, GlobalGradientClip clip, ParamLayout layout, int threads,
                CentredGradients centring) {
        this(cfg, lookahead, clip, new LambSegments(cfg, layout), threads, centring);
    }

    private CpuLambPlan(LambConfig cfg, Lookahead lookahead, GlobalGradientClip clip, LambSegments seg, int threads,
                        CentredGradients centring) {
        this.cfg = cfg;
        this.seg = seg;
        this.clip = clip;
        gradNormPass = seg.gradNormPass() || clip != null;
        this.centring = centring;
        table = new TileTable(seg.lengths());
        tiles = new TileTraversal(table, threads);
        tiles.centre(centring);
        sums = new SegmentedSumOfSquares(table, SquaresKernels.select());
        nSeg = table.segments;
        segLen = table.segmentLength;
        partG = new float[table.tiles()];
        partR = new float[table.tiles()];
        partW = new float[table.tiles()];
        sumG = new double[nSeg];
        normW = new double[nSeg];
        normG = new double[nSeg];
        trust = new double[nSeg];
        lamF = new float[nSeg];
        negScale = new float[nSeg];
        m = new float[nSeg][];
        v = new float[nSeg][];
        for (int i = 0; i < nSeg; i++) {
            m[i] = new float[segLen[i]];
            v[i] = new float[segLen[i]];
            lamF[i] = (float) seg.lambda(i);
        }
        rOff = new int[nSeg];
        long longest = 0;
        for (int b = 0; b < tiles.blocks(); b++) {
            long at = 0;
            for (int i = tiles.blockStart(b); i < tiles.blockEnd(b); i++) {
                rOff[i] = (int) at;
                at += segLen[i];
            }
            longest = Math.max(longest, at);
        }
        if (longest > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(TileTraversal.BLOCK_PROPERTY + ": a LAMB block of " + longest + " elements does not fit one array");
        }
        rBlock = new float[(int) longest];
        consts.b1 = (float) cfg.beta1();
        consts.b3 = (float) (cfg.gradAveraging() ? 1.0 - cfg.beta1() : 1.0);
        consts.b2 = (float) cfg.beta2();
        consts.omb2 = (float) (1.0 - cfg.beta2());
        consts.eps = (float) cfg.eps();
        consts.adamW = cfg.adamWMode();
        slow = LookaheadSlowWeights.of(lookahead, segLen);
    }

    @Override
    public boolean step(HostTensors params, HostTensors grads, StepValues values, boolean skipNonFinite) {
        LambStepValues sc = (LambStepValues) values;
        tiles.bind(params, grads);
        try {
            double factor = 1.0;
            Arrays.fill(normG, Double.NaN);
            if (centring != null) centring.startStep(tiles);   // every later view of g is centred
            if (gradNormPass) {
                tiles.forEachTile(gradPhase);
                boolean finite = sums.totals(partG, 0, nSeg, sumG);
                for (int i = 0; i < nSeg; i++) normG[i] = Math.sqrt(sumG[i]);
                double global = Math.sqrt(sums.sumOfTotals(sumG, nSeg));
                if (!Double.isFinite(global)) finite = false;
                if (!finite && skipNonFinite) return false;
                if (clip != null) factor = clip.factor(global);
            }
            // The clip stage fused into the moments pass: its kernels read g / (float) factor (1: exact).
            consts.clip = (float) factor;
            // (1 - beta1^t) / rect: the rectification rides on m's divisor (exact with rect = 1).
            consts.bc1 = (float) sc.momentDivisor();
            consts.momentumOnly = sc.momentumOnly();
            consts.bc2 = (float) sc.biasCorrection2();
            double lr = sc.learningRate();
            if (slow != null) slow.startStep(sc);
            int nb = tiles.blocks();
            for (int i = 0; i < nb; i++) {
                // After a gradient pass the last blocks' g is what the cache still holds: start there.
                int b = gradNormPass ? nb - 1 - i : i;
                tiles.forEachTileOfBlock(b, false, momentsPhase);
                trustRatios(tiles.blockStart(b), tiles.blockEnd(b), lr);
                tiles.forEachTileOfBlock(b, true, applyPhase);
            }
            return true;
        } finally {
            tiles.unbind();
        }
    }

    /** Phase 4 for segments [s0, s1): ||w||, ||r||, the trust ratio and the apply pass's scale. */
    private void trustRatios(int s0, int s1, double lr) {
        for (int i = s0; i < s1; i++) {
            double tr = 1.0;
            normW[i] = Double.NaN;
            if (seg.adapt(i)) {
                double wNorm = Math.sqrt(sums.total(partW, i));
                double rNorm = Math.sqrt(sums.total(partR, i));
                normW[i] = wNorm;
                if (wNorm > 0 && rNorm > 0) {
                    double phi = wNorm;
                    if (cfg.phiClamp()) phi = phi < cfg.gammaLower() ? cfg.gammaLower() : (phi > cfg.gammaUpper() ? cfg.gammaUpper() : phi);
                    tr = phi / rNorm;
                    if (cfg.trustClip() && tr > 1.0) tr = 1.0;
                }
            }
            trust[i] = tr;
            negScale[i] = -(float) (lr * tr);
        }
    }

    /** Phase 1: the tile partials of sum(g^2). */
    private final class GradNormPhase implements TileOp {
        @Override
        public void apply(Tile t) {
            t.viewG(sums.readsByteBuffers());
            partG[t.index] = sums.partialG(t);
        }
    }

    /** Phase 3: m and v, r stored for the apply pass, and for adapted segments the partials of r^2 and w^2. */
    private final class MomentsPhase implements TileOp {
        @Override
        public void apply(Tile t) {
            int s = t.segment;
            t.viewW(false);   // the moments and apply kernels take arrays: byte buffers are copied
            t.viewG(false);
            Arrays.fill(t.l0, 0f);   // the moments loops accumulate their lanes from +0
            Arrays.fill(t.l1, 0f);
            kernels.moments(t.wa, t.wo, t.ga, t.go, m[s], v[s], t.start, t.length, lamF[s], consts, t.l0, t.l1,
                    t.l2, t.l3, rBlock, rOff[s] + t.start);
            if (seg.adapt(s)) {
                partR[t.index] = SegmentedSumOfSquares.fold(t.l0);
                partW[t.index] = SegmentedSumOfSquares.fold(t.l1);
            }
        }
    }

    /** Phase 5: w from the stored r. */
    private final class ApplyPhase implements TileOp {
        @Override
        public void apply(Tile t) {
            int s = t.segment;
            t.viewWForUpdate(false);
            if (slow != null) slow.beforeUpdate(t);   // w as the moments pass read it: not yet written
            kernels.apply(t.wa, t.wo, rBlock, rOff[s] + t.start, t.length, negScale[s]);
            if (slow != null) slow.afterUpdate(t);
        }
    }

    @Override
    public void readState(int buffer, int segment, float[] dst) {
        if (buffer == 2 && slow != null) slow.read(segment, dst);
        else System.arraycopy(buffer(buffer)[segment], 0, dst, 0, segLen[segment]);
    }

    @Override
    public void writeState(int buffer, int segment, float[] src) {
        if (buffer == 2 && slow != null) slow.write(segment, src);
        else System.arraycopy(src, 0, buffer(buffer)[segment], 0, segLen[segment]);
    }

    private float[][] buffer(int b) {
        if (b == 0) return m;
        if (b == 1) return v;
        throw new IndexOutOfBoundsException(slow == null ? "LAMB has two state buffers (exp_avg, exp_avg_sq), asked for #" + b
                : "LAMB with Lookahead has three state buffers (exp_avg, exp_avg_sq, lookahead_slow), asked for #" + b);
    }

    @Override
    public void resetState() {
        for (float[] x : m) Arrays.fill(x, 0f);
        for (float[] x : v) Arrays.fill(x, 0f);
        if (slow != null) slow.reset();
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

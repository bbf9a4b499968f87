package org.lars4j.engine.cpu;

import java.util.Arrays;
import org.lars4j.engine.HostTensors;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.StepValues;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lamb.LambSegments;
import org.lars4j.rule.lamb.LambStepValues;

/**
 * LAMB planned on the Java engine. A step is five phases (the CUDA plan has the same passes):
 * <ol>
 * <li>gradient norms (parallel over tiles; only with a global clip or the non-finite check);</li>
 * <li>serial: segment totals, the global norm over all segments, the clip factor, the skip decision;</li>
 * <li>moments (parallel): m, v written; tile partials of r^2 and w^2 for adapted segments;</li>
 * <li>serial: ||w||, ||r||, trust ratio per segment;</li>
 * <li>apply (parallel): w updated with the r the moments pass stored.</li>
 * </ol>
 * Phases 3-5 run block by block ({@link CpuTilePlan}): the moments pass stores r in a buffer one
 * block long ({@link #rBlock}), and the block's apply pass reads r and w back while they are
 * still in the last-level cache, so a step moves about 32 bytes per parameter from DRAM instead
 * of 44 (g once for the global norm; w, g, m, v in and m, v out for the moments; w out) and
 * computes its divisions and square roots once. The CUDA plan recomputes r from m' and v' in its
 * apply pass instead; both give the same r, bit for bit. Phases 1-2 stay whole-model: the global
 * norm and the skip decision come before any write. Blocks change which tiles run when, never
 * what a tile computes.
 */
final class CpuLambPlan extends CpuTilePlan {
    private final LambConfig cfg;
    private final LambSegments seg;
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

    private final TileBody gradTile = this::gradTile;
    private final TileBody momentsTile = this::momentsTile;
    private final TileBody applyTile = this::applyTile;
    private final WorkerPool.Phase gradPhase = worker -> claimTiles(worker, gradTile);
    private final WorkerPool.Phase momentsPhase = worker -> claimTiles(worker, momentsTile);
    private final WorkerPool.Phase applyPhase = worker -> claimTiles(worker, applyTile);

    CpuLambPlan(LambConfig cfg, ParamLayout layout, int threads) {
        this(cfg, new LambSegments(cfg, layout), threads);
    }

    private CpuLambPlan(LambConfig cfg, LambSegments seg, int threads) {
        super(seg.lengths(), threads);
        this.cfg = cfg;
        this.seg = seg;
        partG = new float[tiles()];
        partR = new float[tiles()];
        partW = new float[tiles()];
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
        for (int b = 0; b < blocks(); b++) {
            long at = 0;
            for (int i = blockFirstSeg[b]; i < blockFirstSeg[b + 1]; i++) {
                rOff[i] = (int) at;
                at += segLen[i];
            }
            longest = Math.max(longest, at);
        }
        if (longest > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(BLOCK_PROPERTY + ": a LAMB block of " + longest + " elements does not fit one array");
        }
        rBlock = new float[(int) longest];
        consts.b1 = (float) cfg.beta1();
        consts.b3 = (float) (cfg.gradAveraging() ? 1.0 - cfg.beta1() : 1.0);
        consts.b2 = (float) cfg.beta2();
        consts.omb2 = (float) (1.0 - cfg.beta2());
        consts.eps = (float) cfg.eps();
        consts.adamW = cfg.adamWMode();
    }

    @Override
    public boolean step(HostTensors params, HostTensors grads, StepValues values, boolean skipNonFinite) {
        LambStepValues sc = (LambStepValues) values;
        this.w = params;
        this.g = grads;
        try {
            double clip = 1.0;
            Arrays.fill(normG, Double.NaN);
            if (seg.gradNormPass()) {
                forEachTile(gradPhase);
                boolean finite = true;
                for (int i = 0; i < nSeg; i++) {
                    sumG[i] = CanonicalOrder.segmentSum(partG, segFirstTile[i], segTiles[i], acc);
                    normG[i] = Math.sqrt(sumG[i]);
                    if (!Double.isFinite(sumG[i])) finite = false;
                }
                double global = Math.sqrt(CanonicalOrder.sumDoubles(sumG, nSeg, acc));
                if (!Double.isFinite(global)) finite = false;
                if (!finite && skipNonFinite) return false;
                if (cfg.maxGradNorm() > 0) {
                    double x = global / cfg.maxGradNorm();
                    clip = x > 1.0 ? x : 1.0;
                }
            }
            consts.clip = (float) clip;
            consts.bc1 = (float) sc.biasCorrection1();
            consts.bc2 = (float) sc.biasCorrection2();
            double lr = sc.learningRate();
            int nb = blocks();
            for (int i = 0; i < nb; i++) {
                // After a gradient pass the last blocks' g is what the cache still holds: start there.
                int b = seg.gradNormPass() ? nb - 1 - i : i;
                forEachTileOfBlock(b, false, momentsPhase);
                trustRatios(blockFirstSeg[b], blockFirstSeg[b + 1], lr);
                forEachTileOfBlock(b, true, applyPhase);
            }
            return true;
        } finally {
            this.w = null;
            this.g = null;
        }
    }

    /** Phase 4 for segments [s0, s1): ||w||, ||r||, the trust ratio and the apply pass's scale. */
    private void trustRatios(int s0, int s1, double lr) {
        for (int i = s0; i < s1; i++) {
            double tr = 1.0;
            normW[i] = Double.NaN;
            if (seg.adapt(i)) {
                double wNorm = Math.sqrt(CanonicalOrder.segmentSum(partW, segFirstTile[i], segTiles[i], acc));
                double rNorm = Math.sqrt(CanonicalOrder.segmentSum(partR, segFirstTile[i], segTiles[i], acc));
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

    private void gradTile(int k, Scratch sc) {
        viewG(k, sc, true);
        partG[k] = kernels.tilePartial(sc.l1, sc.ga, sc.gb, sc.go, tileLength(k));
    }

    private void momentsTile(int k, Scratch sc) {
        int s = tileSeg[k];
        viewW(k, sc, false);   // the moments and apply kernels take arrays: byte buffers are copied
        viewG(k, sc, false);
        Arrays.fill(sc.l0, 0f);   // the moments loops accumulate their lanes from +0
        Arrays.fill(sc.l1, 0f);
        kernels.lambMoments(sc.wa, sc.wo, sc.ga, sc.go, m[s], v[s], tileStart[k], tileLength(k), lamF[s], consts, sc.l0, sc.l1,
                sc.l2, sc.l3, rBlock, rOff[s] + tileStart[k]);
        if (seg.adapt(s)) {
            partR[k] = CanonicalOrder.foldLanes(sc.l0);
            partW[k] = CanonicalOrder.foldLanes(sc.l1);
        }
    }

    private void applyTile(int k, Scratch sc) {
        int s = tileSeg[k];
        viewW(k, sc, false);
        kernels.lambApply(sc.wa, sc.wo, rBlock, rOff[s] + tileStart[k], tileLength(k), negScale[s]);
        storeW(k, sc);
    }

    @Override
    public void readState(int buffer, int segment, float[] dst) {
        System.arraycopy(buffer(buffer)[segment], 0, dst, 0, segLen[segment]);
    }

    @Override
    public void writeState(int buffer, int segment, float[] src) {
        System.arraycopy(src, 0, buffer(buffer)[segment], 0, segLen[segment]);
    }

    private float[][] buffer(int b) {
        if (b == 0) return m;
        if (b == 1) return v;
        throw new IndexOutOfBoundsException("LAMB has two state buffers (exp_avg, exp_avg_sq), asked for #" + b);
    }

    @Override
    public void resetState() {
        for (float[] x : m) Arrays.fill(x, 0f);
        for (float[] x : v) Arrays.fill(x, 0f);
    }

    @Override public double lastWeightNorm(int segment) { return normW[segment]; }
    @Override public double lastGradNorm(int segment) { return normG[segment]; }
    @Override public double lastTrustRatio(int segment) { return trust[segment]; }
}

package org.lars4j.engine.cuda;

import org.bytedeco.javacpp.Pointer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.StepValues;
import org.lars4j.rule.lars.LarsConfig;
import org.lars4j.rule.lars.LarsSegments;
import org.lars4j.rule.lars.LarsStepValues;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.rule.stage.Lookahead;

/** LARS on the native engines: {@code LarsConsts} and {@code LarsStepValues} of src/main/cuda/rules/lars.cuh. */
final class NativeLarsRule extends NativeRule {
    private final LarsConfig config;
    private final LarsSegments segments;
    private final NativeLars.LarsConsts constants = new NativeLars.LarsConsts();
    private final NativeLars.LarsStepValues values = new NativeLars.LarsStepValues();

    NativeLarsRule(LarsConfig c, Lookahead lookahead, GlobalGradientClip clip, ParamLayout layout) {
        super(lookahead);
        config = c;
        segments = new LarsSegments(c, layout, clip != null);
        constants.eta(c.trustCoefficient()).eps(c.eps()).normClamp(c.normClamp()).dampening(c.dampening())
                .sumOfNorms(flag(c.form() == TrustRatioForm.SUM_OF_NORMS))
                .lrInside(flag(c.placement() == LrPlacement.INSIDE))
                .clip(flag(c.clip()))
                .zeroNormSkipsDecay(flag(c.zeroNormSkipsDecay()))
                .nesterov(flag(c.nesterov()))
                .skipNonFinite(flag(c.nonFinitePolicy() == NonFinitePolicy.SKIP_STEP))
                .vectorLoads(flag(NativeEnginePlan.VECTOR_LOADS))
                .carryW(flag(c.carryWeightNorms()))
                .grouped(flag(Boolean.parseBoolean(System.getProperty(NativeEnginePlan.COOPERATIVE_PROPERTY, "true"))))
                .groupElements(NativeEnginePlan.groupElements())
                .lookahead(lookaheadOn()).lookaheadAlpha(lookaheadAlpha())
                .clipOn(flag(clip != null)).maxGradNorm(clip != null ? clip.maxNorm() : 0.0);
    }

    @Override int id() { return NativeLars.ruleLars(); }
    @Override Pointer constants() { return constants; }
    @Override int[] modes() { return segments.normModes(); }
    @Override double[] lambdas() { return segments.lambdas(); }
    @Override boolean carriesWeights() { return config.carryWeightNorms(); }

    @Override
    Pointer stepValues(StepValues v, boolean first, boolean weightsAsLeft) {
        LarsStepValues s = (LarsStepValues) v;
        return values.lr(s.learningRate()).mu(s.momentum()).phi(s.phi()).first(flag(first)).weightsAsLeft(flag(weightsAsLeft))
                .lookaheadCopy(lookaheadCopy(first)).lookaheadSync(lookaheadSync(v));
    }

    @Override
    String launches(NativeLars.NativePlan plan) {
        int coop = plan.cooperativeBlocks();
        if (coop == 0) return "three launches";
        int groups = plan.groups();
        return "one cooperative launch of " + coop + " blocks, "
                + (groups == 1 ? "one group" : groups + " groups of up to " + plan.groupElements() + " elements");
    }
}

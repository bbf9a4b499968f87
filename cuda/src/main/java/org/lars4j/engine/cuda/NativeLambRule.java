package org.lars4j.engine.cuda;

import org.bytedeco.javacpp.Pointer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.StepValues;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lamb.LambSegments;
import org.lars4j.rule.lamb.LambStepValues;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.rule.stage.Lookahead;

/**
 * LAMB on the native engines: {@code LambConsts} and {@code LambStepValues} of
 * src/main/cuda/rules/lamb.cuh. The float constants are rounded once here, from float64.
 */
final class NativeLambRule extends NativeRule {
    private final LambSegments segments;
    private final NativeLars.LambConsts constants = new NativeLars.LambConsts();
    private final NativeLars.LambStepValues values = new NativeLars.LambStepValues();

    NativeLambRule(LambConfig c, Lookahead lookahead, GlobalGradientClip clip, ParamLayout layout) {
        super(lookahead);
        segments = new LambSegments(c, layout);
        constants.b1((float) c.beta1()).b2((float) c.beta2()).eps((float) c.eps())
                .b3((float) (c.gradAveraging() ? 1.0 - c.beta1() : 1.0)).omb2((float) (1.0 - c.beta2()))
                .gammaLower(c.gammaLower()).gammaUpper(c.gammaUpper()).maxGradNorm(clip != null ? clip.maxNorm() : 0.0)
                .adamW(flag(c.adamWMode()))
                .phiClamp(flag(c.phiClamp()))
                .trustClip(flag(c.trustClip()))
                .skipNonFinite(flag(c.nonFinitePolicy() == NonFinitePolicy.SKIP_STEP))
                .clipOn(flag(clip != null))
                .gradNormPass(flag(segments.gradNormPass() || clip != null))
                .vectorLoads(flag(NativeEnginePlan.VECTOR_LOADS))
                .lookahead(lookaheadOn()).lookaheadAlpha(lookaheadAlpha());
    }

    @Override int id() { return NativeLars.ruleLamb(); }
    @Override Pointer constants() { return constants; }
    @Override int[] modes() { return segments.adaptFlags(); }
    @Override double[] lambdas() { return segments.lambdas(); }

    @Override
    Pointer stepValues(StepValues v, boolean first, boolean weightsAsLeft) {
        LambStepValues s = (LambStepValues) v;
        return values.lr(s.learningRate()).bc1(s.biasCorrection1()).bc2(s.biasCorrection2())
                .rect(s.rectification()).momentumOnly(flag(s.momentumOnly()))
                .lookaheadCopy(lookaheadCopy(first)).lookaheadSync(lookaheadSync(v));
    }

    @Override String launches(NativeLars.NativePlan plan) { return "LAMB launches"; }
}

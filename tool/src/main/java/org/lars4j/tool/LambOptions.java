package org.lars4j.tool;

import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.rule.lamb.LambPreset;

/** The LAMB side of {@link OptimizerOptions}. */
final class LambOptions {
    private LambOptions() {}

    static Lamb.Builder builder(OptimizerOptions o, Backend backend) {
        Object[][] larsOnly = {{"--momentum", o.momentum}, {"--trust-coefficient", o.trustCoefficient}, {"--dampening", o.dampening},
            {"--tv-alpha", o.tvAlpha}, {"--tv-lambda", o.tvLambda}, {"--tv-delay", o.tvDelay}, {"--tv-gamma-min", o.tvGammaMin}};
        for (Object[] f : larsOnly) {
            if (f[1] != null) throw new IllegalArgumentException(f[0] + " applies only to --optimizer lars");
        }
        if (o.nesterov) throw new IllegalArgumentException("--nesterov applies only to --optimizer lars");
        Lamb.Builder b = Lamb.builder(LambPreset.parse(o.preset == null ? "paper" : o.preset))
                .learningRate(o.lr == null ? 1e-3 : o.lr).backend(backend);
        if (o.weightDecay != null) b.weightDecay(o.weightDecay);
        if (o.eps != null) b.eps(o.eps);
        if (o.beta1 != null) b.beta1(o.beta1);
        if (o.beta2 != null) b.beta2(o.beta2);
        if (o.maxGradNorm != null) b.maxGradNorm(o.maxGradNorm);
        if (o.noBiasCorrection) b.biasCorrection(false);
        if (o.rectify) b.rectify(true);
        if (o.threads != null) b.threads(o.threads);
        return b;
    }
}

package org.lars4j.tool;

import java.util.ArrayList;
import java.util.List;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LarsPreset;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import picocli.CommandLine.Option;

/** The optimizer flags shared by step, bench and verify. Unset flags keep the preset's defaults. */
final class OptimizerOptions {
    @Option(names = "--optimizer", defaultValue = "lars", description = "lars or lamb (default: ${DEFAULT-VALUE})")
    String optimizer;

    @Option(names = "--preset", description = "lars: paper mlperf optax timm larc-clip larc-scale tvlars (default timm); lamb: paper optax apex (default paper)")
    String preset;

    @Option(names = "--lr", description = "learning rate (constant); default 0.1 for lars, 0.001 for lamb")
    Double lr;

    @Option(names = "--momentum") Double momentum;
    @Option(names = "--weight-decay") Double weightDecay;
    @Option(names = "--trust-coefficient", description = "eta") Double trustCoefficient;
    @Option(names = "--eps") Double eps;
    @Option(names = "--nesterov") boolean nesterov;
    @Option(names = "--dampening") Double dampening;
    @Option(names = "--beta1") Double beta1;
    @Option(names = "--beta2") Double beta2;
    @Option(names = "--max-grad-norm") Double maxGradNorm;
    @Option(names = "--no-bias-correction") boolean noBiasCorrection;
    @Option(names = "--tv-alpha") Double tvAlpha;
    @Option(names = "--tv-lambda") Double tvLambda;
    @Option(names = "--tv-delay") Double tvDelay;
    @Option(names = "--tv-gamma-min") Double tvGammaMin;

    @Option(names = "--exclude-from-weight-decay", paramLabel = "REGEX", description = "Java regex, find() on the tensor name; repeatable")
    List<String> excludeFromWeightDecay = new ArrayList<>();

    @Option(names = "--exclude-from-adaptation", paramLabel = "REGEX", description = "Java regex, find() on the tensor name; repeatable")
    List<String> excludeFromAdaptation = new ArrayList<>();

    @Option(names = "--backend", defaultValue = "auto", description = "auto, cpu, cuda or cuda-emulator (default: ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--threads", description = "Java engine threads (default: all processors)")
    Integer threads;

    /** Applies the regex rules to a layout builder. */
    ParamLayout.Builder applyRules(ParamLayout.Builder b) {
        excludeFromWeightDecay.forEach(b::excludeFromWeightDecay);
        excludeFromAdaptation.forEach(b::excludeFromAdaptation);
        return b;
    }

    Backend backend() { return Backend.parse(backend); }

    /** Builds the optimizer for {@code layout} with {@code backendOverride} (null: --backend). */
    LayerwiseOptimizer build(ParamLayout layout, Backend backendOverride) {
        Backend be = backendOverride != null ? backendOverride : backend();
        if (optimizer.equals("lars")) {
            for (Object[] lambOnly : new Object[][] {{"--beta1", beta1}, {"--beta2", beta2}, {"--max-grad-norm", maxGradNorm}}) {
                if (lambOnly[1] != null) throw new IllegalArgumentException(lambOnly[0] + " applies only to --optimizer lamb");
            }
            if (noBiasCorrection) throw new IllegalArgumentException("--no-bias-correction applies only to --optimizer lamb");
            LarsPreset p = LarsPreset.parse(preset == null ? "timm" : preset);
            Lars.Builder b = Lars.builder(p).learningRate(lr == null ? 0.1 : lr).backend(be);
            if (momentum != null) b.momentum(momentum);
            if (weightDecay != null) b.weightDecay(weightDecay);
            if (trustCoefficient != null) b.trustCoefficient(trustCoefficient);
            if (eps != null) b.eps(eps);
            if (nesterov) b.nesterov(true);
            if (dampening != null) b.dampening(dampening);
            if (tvAlpha != null || tvLambda != null || tvDelay != null || tvGammaMin != null) {
                var base = b.config();
                b.tvlars(tvAlpha != null ? tvAlpha : base.tvAlpha(), tvLambda != null ? tvLambda : base.tvLambda(),
                        tvDelay != null ? tvDelay : base.tvDelay(), tvGammaMin != null ? tvGammaMin : base.tvGammaMin());
            }
            if (threads != null) b.threads(threads);
            return b.build(layout);
        }
        if (optimizer.equals("lamb")) return LambOptions.build(this, layout, be);
        throw new IllegalArgumentException("unknown optimizer '" + optimizer + "' (expected lars or lamb)");
    }
}

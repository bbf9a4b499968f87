package org.lars4j.tool;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.stage.Lookahead;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The optimizer flags shared by step, bench and verify. Unset flags keep the preset's defaults. */
final class OptimizerOptions {
    @Option(names = "--optimizer", defaultValue = "lars", description = "lars or lamb (default: ${DEFAULT-VALUE})")
    String optimizer;

    @Option(names = "--preset", description = "lars: paper mlperf optax timm larc-clip larc-scale tvlars (default: timm); lamb: paper optax apex ranger-lars (default: paper)")
    String preset;

    @Option(names = "--lr", description = "learning rate, constant (default: 0.1 for lars, 0.001 for lamb)")
    Double lr;

    @Option(names = "--momentum", description = "lars: momentum mu (default: the preset's, 0.9)") Double momentum;
    @Option(names = "--weight-decay", description = "weight decay lambda (default: the preset's: 0, apex lamb 0.01); "
            + "with 0, timm (lars) and apex (lamb) adapt no tensor") Double weightDecay;
    @Option(names = "--trust-coefficient", description = "lars: eta (default: the preset's, 0.001; larc-* 0.02)") Double trustCoefficient;
    @Option(names = "--eps", description = "epsilon (default: the preset's: lars 0, timm/larc-* 1e-8; lamb 1e-6)") Double eps;
    @Option(names = "--nesterov", description = "lars: Nesterov momentum (default: off)") boolean nesterov;
    @Option(names = "--dampening", description = "lars, lr placement outside: momentum dampening (default: 0)") Double dampening;
    @Option(names = "--beta1", description = "lamb: beta1 (default: 0.9)") Double beta1;
    @Option(names = "--beta2", description = "lamb: beta2 (default: 0.999)") Double beta2;
    @Option(names = "--max-grad-norm", description = "global gradient clip of every rule: g / max(1, ||g||_global / N) before the rule, 0 = none "
            + "(default: the preset's: lamb apex 1.0, else none)") Double maxGradNorm;
    @Option(names = "--no-bias-correction", description = "lamb: turn bias correction off (default: on)") boolean noBiasCorrection;
    @Option(names = "--rectify", description = "lamb: RAdam's rectification of the direction (default: the preset's, on for ranger-lars)") boolean rectify;
    @Option(names = "--tv-alpha", description = "tvlars: alpha (default: 0.1)") Double tvAlpha;
    @Option(names = "--tv-lambda", description = "tvlars: lambda (default: 0.001)") Double tvLambda;
    @Option(names = "--tv-delay", description = "tvlars: delay d_e (default: -1)") Double tvDelay;
    @Option(names = "--tv-gamma-min", description = "tvlars: gamma_min (default: 0)") Double tvGammaMin;

    @Option(names = "--lookahead-k", paramLabel = "N", description = "Lookahead around the rule: sync the slow weights every N applied steps "
            + "(default: none; lamb ranger-lars: 6)") Integer lookaheadK;
    @Option(names = "--lookahead-alpha", paramLabel = "F", description = "Lookahead: how far the slow weights move at a sync, in (0, 1] "
            + "(default: 0.5)") Double lookaheadAlpha;
    @Option(names = "--gradient-centralization", description = "centre each output row of the gradient of every tensor of rank > 1 "
            + "(default: off)") boolean gradientCentralization;
    @Option(names = "--gc-conv-only", description = "with --gradient-centralization: only tensors of rank > 3 (default: off)") boolean gcConvOnly;

    @Option(names = "--exclude-from-weight-decay", paramLabel = "REGEX", description = "Java regex, find() on the tensor name; repeatable (default: none)")
    List<String> excludeFromWeightDecay = new ArrayList<>();

    @Option(names = "--exclude-from-adaptation", paramLabel = "REGEX", description = "Java regex, find() on the tensor name; repeatable (default: none)")
    List<String> excludeFromAdaptation = new ArrayList<>();

    @Option(names = "--backend", defaultValue = "auto", description = "auto, cpu, cuda or cuda-emulator (default: ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--threads", description = "Java engine threads, 1.." + MAX_THREADS + " (default: all processors)")
    Integer threads;

    /** A sanity bound: each thread is a worker of the Java engine, and more are never faster. */
    static final int MAX_THREADS = 1024;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    /** A usage error (exit 2) of the command this mixin belongs to. */
    ParameterException usage(String message) {
        return new ParameterException(command.commandLine(), message);
    }

    /**
     * Checks every flag before any file is read or any work is done: names (optimizer, preset,
     * backend), regexes, the thread count, and the hyperparameters at the precision they are
     * used. Each problem is a usage error (exit 2) naming the flag or value.
     */
    void validate() {
        if (threads != null && (threads < 1 || threads > MAX_THREADS)) {
            throw usage("--threads must be in 1.." + MAX_THREADS + ", got " + threads);
        }
        try {
            backend();
            applyRules(ParamLayout.builder());
            if (optimizer.equals("lars")) larsBuilder(Backend.CPU).rule();
            else if (optimizer.equals("lamb")) lambBuilder(Backend.CPU).rule();
            else throw new IllegalArgumentException("unknown optimizer '" + optimizer + "' (expected lars or lamb)");
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
    }

    /** Applies the regex rules to a layout builder. */
    ParamLayout.Builder applyRules(ParamLayout.Builder b) {
        excludeFromWeightDecay.forEach(b::excludeFromWeightDecay);
        excludeFromAdaptation.forEach(b::excludeFromAdaptation);
        return b;
    }

    Backend backend() { return Backend.parse(backend); }

    /** Builds the optimizer for {@code layout} with {@code backendOverride} (null: --backend). */
    LayerwiseOptimizer build(ParamLayout layout, Backend backendOverride) {
        validate();
        Backend be = backendOverride != null ? backendOverride : backend();
        if (optimizer.equals("lamb")) return lambBuilder(be).build(layout);
        return larsBuilder(be).build(layout);
    }

    private Lamb.Builder lambBuilder(Backend be) {
        Lamb.Builder b = LambOptions.builder(this, be);
        stages(b::lookahead, b::gradientCentralization, b.rule().stages().lookahead());
        return b;
    }

    /**
     * The stages the flags ask for, applied through the builder's methods: Lookahead from
     * --lookahead-k/--lookahead-alpha (alpha alone changes a preset's Lookahead, or needs -k),
     * gradient centralization from --gradient-centralization/--gc-conv-only.
     */
    private void stages(BiConsumer<Integer, Double> lookahead, Consumer<Boolean> centralization, Lookahead presets) {
        if (lookaheadK != null || lookaheadAlpha != null) {
            if (lookaheadK == null && presets == null) throw new IllegalArgumentException("--lookahead-alpha needs --lookahead-k");
            int k = lookaheadK != null ? lookaheadK : presets.k();
            double alpha = lookaheadAlpha != null ? lookaheadAlpha : presets != null ? presets.alpha() : 0.5;
            // Said here with the flag's name: the stage's own check names its field, not the flag.
            if (k < 1) throw new IllegalArgumentException("--lookahead-k must be >= 1, got " + k);
            if (!(alpha > 0 && alpha <= 1)) throw new IllegalArgumentException("--lookahead-alpha must be in (0, 1], got " + alpha);
            // The engines sync in float32: an alpha that rounds to 0 there would make every sync a no-op.
            if (!((float) alpha > 0)) throw new IllegalArgumentException("--lookahead-alpha " + alpha + " rounds to 0 as a float32");
            lookahead.accept(k, alpha);
        }
        if (gcConvOnly && !gradientCentralization) throw new IllegalArgumentException("--gc-conv-only needs --gradient-centralization");
        if (gradientCentralization) centralization.accept(gcConvOnly);
    }

    private Lars.Builder larsBuilder(Backend be) {
        for (Object[] lambOnly : new Object[][] {{"--beta1", beta1}, {"--beta2", beta2}}) {
            if (lambOnly[1] != null) throw new IllegalArgumentException(lambOnly[0] + " applies only to --optimizer lamb");
        }
        if (noBiasCorrection) throw new IllegalArgumentException("--no-bias-correction applies only to --optimizer lamb");
        if (rectify) throw new IllegalArgumentException("--rectify applies only to --optimizer lamb");
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
        if (maxGradNorm != null && maxGradNorm != 0) b.gradientClip(maxGradNorm);   // the stage, as for lamb
        stages(b::lookahead, b::gradientCentralization, b.rule().stages().lookahead());
        return b;
    }
}

package org.lars4j;

import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.Rule;
import org.lars4j.rule.Staged;
import org.lars4j.rule.lars.LarsConfig;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;
import org.lars4j.rule.stage.GradientCentralization;
import org.lars4j.rule.stage.Lookahead;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.rule.stage.Stages;
import org.lars4j.schedule.LrSchedule;

/**
 * Entry point for the LARS family. Pick a preset, override what you need, build once per model:
 * <pre>{@code
 * try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM)
 *         .learningRate(LrSchedule.constant(0.1))
 *         .weightDecay(1e-4)
 *         .build(layout)) {
 *     opt.step(params, grads);   // flat float[] / FloatBuffer, or lists of them
 * }
 * }</pre>
 */
public final class Lars {
    private Lars() {}

    /** A builder holding the defaults of {@code preset}; every setter overrides one of them. */
    public static Builder builder(LarsPreset preset) { return new Builder(preset); }

    /** Mutable; {@link #config()} and {@link #build(ParamLayout)} validate. */
    public static final class Builder {
        final LarsPreset preset;
        TrustRatioForm form = TrustRatioForm.SUM_OF_NORMS;
        LrPlacement placement = LrPlacement.INSIDE;
        LrSchedule learningRate;
        double momentum = 0.9;
        double dampening = 0;
        boolean nesterov;
        double weightDecay = 0;
        double trustCoefficient = 0.001;
        double eps = 0;
        boolean clip;
        double normClamp = Double.POSITIVE_INFINITY;
        boolean zeroNormSkipsDecay;
        boolean excludeOneDimensional;
        boolean adaptOnlyWithDecay;
        boolean tvlarsPhi;
        double tvAlpha = 0.1;
        double tvLambda = 0.001;
        double tvDelay = -1;
        double tvGammaMin = 0;
        boolean momentumCorrection;
        boolean carryWeightNorms;
        NonFinitePolicy nonFinitePolicy = NonFinitePolicy.SKIP_STEP;
        Backend backend = Backend.AUTO;
        int threads = Runtime.getRuntime().availableProcessors();
        Stages stages = Stages.NONE;

        Builder(LarsPreset preset) {
            if (preset == null) throw new InvalidHyperparameterException("preset is null");
            this.preset = preset;
            switch (preset) {
                case PAPER:
                    break;
                case MLPERF:
                    excludeOneDimensional = true;
                    break;
                case OPTAX:
                    form = TrustRatioForm.NORM_OF_SUM;
                    break;
                case TIMM:
                    placement = LrPlacement.OUTSIDE;
                    eps = 1e-8;
                    adaptOnlyWithDecay = true;
                    break;
                case LARC_CLIP:
                case LARC_SCALE:
                    placement = LrPlacement.OUTSIDE;
                    eps = 1e-8;
                    trustCoefficient = 0.02;
                    clip = preset == LarsPreset.LARC_CLIP;
                    zeroNormSkipsDecay = true;
                    break;
                case TVLARS:
                    form = TrustRatioForm.NORM_OF_SUM;
                    placement = LrPlacement.OUTSIDE;
                    tvlarsPhi = true;
                    normClamp = 10;
                    break;
                default:
                    throw new AssertionError(preset);
            }
        }

        public Builder learningRate(LrSchedule schedule) { this.learningRate = schedule; return this; }
        public Builder learningRate(double lr) { return learningRate(LrSchedule.constant(lr)); }
        public Builder momentum(double v) { this.momentum = v; return this; }
        public Builder dampening(double v) { this.dampening = v; return this; }
        public Builder nesterov(boolean v) { this.nesterov = v; return this; }
        public Builder weightDecay(double v) { this.weightDecay = v; return this; }
        /** eta, the trust coefficient. */
        public Builder trustCoefficient(double v) { this.trustCoefficient = v; return this; }
        public Builder eps(double v) { this.eps = v; return this; }
        public Builder trustRatioForm(TrustRatioForm v) { this.form = v; return this; }
        public Builder lrPlacement(LrPlacement v) { this.placement = v; return this; }
        /** LARC clipping {@code tr = min(tr / lr, 1)}. */
        public Builder clip(boolean v) { this.clip = v; return this; }
        /** Clamp both norms to at most {@code c} before forming the ratio; infinity disables. */
        public Builder normClamp(double c) { this.normClamp = c; return this; }
        /** apex LARC's quirk: a zero norm means neither decay nor ratio that step. */
        public Builder zeroNormSkipsDecay(boolean v) { this.zeroNormSkipsDecay = v; return this; }
        /** MLPerf: rank-0/1 segments get decay=false, adapt=false. */
        public Builder excludeOneDimensional(boolean v) { this.excludeOneDimensional = v; return this; }
        /** timm: adapt only where decay applies with weightDecay != 0. {@code alwaysAdapt} is its negation. */
        public Builder adaptOnlyWithDecay(boolean v) { this.adaptOnlyWithDecay = v; return this; }
        /** timm's {@code always_adapt=True}. */
        public Builder alwaysAdapt(boolean v) { this.adaptOnlyWithDecay = !v; return this; }
        /** TVLARS phi(t) = 1 / (alpha + exp(lambda * (t - delay))) + gammaMin, and turns it on. */
        public Builder tvlars(double alpha, double lambda, double delay, double gammaMin) {
            this.tvlarsPhi = true;
            this.tvAlpha = alpha;
            this.tvLambda = lambda;
            this.tvDelay = delay;
            this.tvGammaMin = gammaMin;
            return this;
        }
        /** Turns TVLARS' phi(t) on or off, keeping its parameters. */
        public Builder tvlarsPhi(boolean v) { this.tvlarsPhi = v; return this; }
        /** MLPerf momentum correction {@code mu_eff = mu * lr_t / lr_(t-1)} (INSIDE only). */
        public Builder momentumCorrection(boolean v) { this.momentumCorrection = v; return this; }
        /**
         * Carried weight norms, opt-in: the update pass also computes ||w|| of the weights it
         * writes, and the next step uses it instead of re-reading w (4 bytes per parameter less
         * for segments whose ratio needs ||w|| and ||g||). Same bits either way. Valid while the
         * weights are exactly as the last step left them: passing other arrays, buffers or
         * addresses invalidates it automatically; after writing into the same memory yourself
         * (loading a checkpoint, averaging weights), call {@link LayerwiseOptimizer#weightsChanged()}.
         */
        public Builder carryWeightNorms(boolean v) { this.carryWeightNorms = v; return this; }
        public Builder nonFinitePolicy(NonFinitePolicy v) { this.nonFinitePolicy = v; return this; }
        public Builder backend(Backend v) { this.backend = v; return this; }
        /** Worker threads of the Java engine (default: available processors). */
        public Builder threads(int n) { this.threads = n; return this; }

        /** The global gradient-norm clip: g' = g / max(1, ||g||_global / maxNorm) before the rule reads g (docs/MATH.md section 14). */
        public Builder gradientClip(double maxNorm) { this.stages = stages.withClip(new GlobalGradientClip(maxNorm)); return this; }

        /** No global gradient clip. */
        public Builder noGradientClip() { this.stages = stages.withClip(null); return this; }

        /** Lookahead around the rule: slow weights synced every {@code k} applied steps with {@code alpha}. */
        public Builder lookahead(int k, double alpha) { this.stages = stages.withLookahead(new Lookahead(k, alpha)); return this; }

        /** No Lookahead (a preset's included). */
        public Builder noLookahead() { this.stages = stages.withLookahead(null); return this; }

        /** Gradient centralization of every segment of rank > 1 (rank > 3 with {@code convOnly}). */
        public Builder gradientCentralization(boolean convOnly) {
            this.stages = stages.withCentralization(new GradientCentralization(convOnly));
            return this;
        }

        /** The validated, immutable rule. */
        public LarsConfig config() {
            return new LarsConfig(preset, form, placement, learningRate, momentum, dampening, nesterov, weightDecay, trustCoefficient,
                    eps, clip, normClamp, zeroNormSkipsDecay, excludeOneDimensional, adaptOnlyWithDecay, tvlarsPhi, tvAlpha, tvLambda,
                    tvDelay, tvGammaMin, momentumCorrection, carryWeightNorms, nonFinitePolicy);
        }

        /** The rule with its stages: {@link #config()} alone, or wrapped in {@link Staged}. */
        public Rule rule() {
            Rule core = config();
            return stages.isEmpty() ? core : new Staged(core, stages);
        }

        /** Plans the optimizer for {@code layout}: every table and buffer is made here, once. */
        public LayerwiseOptimizer build(ParamLayout layout) {
            return new LayerwiseOptimizer(rule(), layout, backend, threads);
        }
    }
}

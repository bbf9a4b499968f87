package org.lars4j;

import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.Rule;
import org.lars4j.rule.Staged;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.stage.GradientCentralization;
import org.lars4j.rule.stage.Lookahead;
import org.lars4j.rule.stage.Stages;
import org.lars4j.schedule.LrSchedule;

/**
 * Entry point for LAMB (You et al. 2019, Alg. 2):
 * <pre>{@code
 * try (LayerwiseOptimizer opt = Lamb.builder(LambPreset.APEX).learningRate(1e-3).build(layout)) {
 *     opt.step(params, grads);
 * }
 * }</pre>
 */
public final class Lamb {
    private Lamb() {}

    public static Builder builder(LambPreset preset) { return new Builder(preset); }

    /** Mutable; {@link #config()} and {@link #build(ParamLayout)} validate. */
    public static final class Builder {
        final LambPreset preset;
        LrSchedule learningRate;
        double beta1 = 0.9;
        double beta2 = 0.999;
        double eps = 1e-6;
        double weightDecay = 0;
        boolean biasCorrection = true;
        boolean gradAveraging = true;
        boolean adamWMode = true;
        boolean rectify;
        boolean phiClamp;
        double gammaLower = 0;
        double gammaUpper = Double.POSITIVE_INFINITY;
        boolean trustClip;
        double maxGradNorm = 0;     // 0: no global clip
        boolean nvlamb;
        NonFinitePolicy nonFinitePolicy = NonFinitePolicy.SKIP_STEP;
        Backend backend = Backend.AUTO;
        int threads = Runtime.getRuntime().availableProcessors();
        Stages stages = Stages.NONE;

        Builder(LambPreset preset) {
            if (preset == null) throw new InvalidHyperparameterException("preset is null");
            this.preset = preset;
            if (preset == LambPreset.APEX) {
                maxGradNorm = 1.0;
                weightDecay = 0.01;
            }
            if (preset == LambPreset.RANGER_LARS) {
                // over9000's RangerLars: Ralamb's eps, its weight-norm clamp to [0, 10], and
                // Lookahead's defaults; weightDecay 0 and no global clip, as there.
                rectify = true;
                eps = 1e-8;
                phiClamp(0, 10);
                lookahead(6, 0.5);
            }
        }

        public Builder learningRate(LrSchedule schedule) { this.learningRate = schedule; return this; }
        public Builder learningRate(double lr) { return learningRate(LrSchedule.constant(lr)); }
        public Builder beta1(double v) { this.beta1 = v; return this; }
        public Builder beta2(double v) { this.beta2 = v; return this; }
        public Builder eps(double v) { this.eps = v; return this; }
        public Builder weightDecay(double v) { this.weightDecay = v; return this; }
        /** Divide m and v by (1 - beta^t) (default on). */
        public Builder biasCorrection(boolean v) { this.biasCorrection = v; return this; }
        /** m = b1 m + (1 - b1) g (default); off: m = b1 m + g. */
        public Builder gradAveraging(boolean v) { this.gradAveraging = v; return this; }
        /** Decoupled weight decay added to r (default); off: L2, lam*w added to g before m and v. */
        public Builder adamWMode(boolean v) { this.adamWMode = v; return this; }
        /**
         * RAdam's rectification of the direction (default off; on with RANGER_LARS): momentum only
         * while rho_t <= 5, then the Adam direction scaled by the rectification term. Needs gradAveraging.
         */
        public Builder rectify(boolean v) { this.rectify = v; return this; }
        /** phi(W) = clamp(W, lower, upper) instead of the identity. */
        public Builder phiClamp(double lower, double upper) {
            this.phiClamp = true;
            this.gammaLower = lower;
            this.gammaUpper = upper;
            return this;
        }
        /** LAMBC: tr = min(tr, 1). */
        public Builder trustClip(boolean v) { this.trustClip = v; return this; }
        /**
         * apex: g /= max(1, ||g||_global / maxGradNorm); 0 disables. The global gradient clip stage
         * of every rule ({@link #gradientClip}), kept in LambConfig as apex's hyperparameter.
         */
        public Builder maxGradNorm(double v) { this.maxGradNorm = v; return this; }

        /** The global gradient-norm clip stage (docs/MATH.md section 14); for LAMB the same as {@link #maxGradNorm}. */
        public Builder gradientClip(double maxNorm) {
            new org.lars4j.rule.stage.GlobalGradientClip(maxNorm);   // validated as for any rule
            return maxGradNorm(maxNorm);
        }

        /** No global gradient clip (apex's preset has one). */
        public Builder noGradientClip() { return maxGradNorm(0); }
        /** apex nvlamb: adapt every segment, also those without weight decay. */
        public Builder nvlamb(boolean v) { this.nvlamb = v; return this; }
        public Builder nonFinitePolicy(NonFinitePolicy v) { this.nonFinitePolicy = v; return this; }
        public Builder backend(Backend v) { this.backend = v; return this; }
        public Builder threads(int n) { this.threads = n; return this; }

        /** Lookahead around the rule: slow weights synced every {@code k} applied steps with {@code alpha}. */
        public Builder lookahead(int k, double alpha) { this.stages = stages.withLookahead(new Lookahead(k, alpha)); return this; }

        /** No Lookahead (where a preset includes one). */
        public Builder noLookahead() { this.stages = stages.withLookahead(null); return this; }

        /** Gradient centralization of every segment of rank > 1 (rank > 3 with {@code convOnly}). */
        public Builder gradientCentralization(boolean convOnly) {
            this.stages = stages.withCentralization(new GradientCentralization(convOnly));
            return this;
        }

        public LambConfig config() {
            return new LambConfig(preset, learningRate, beta1, beta2, eps, weightDecay, biasCorrection, gradAveraging, adamWMode,
                    rectify, phiClamp, gammaLower, gammaUpper, trustClip, maxGradNorm, nvlamb, nonFinitePolicy);
        }

        /** The rule with its stages: {@link #config()} alone, or wrapped in {@link Staged}. */
        public Rule rule() {
            Rule core = config();
            return stages.isEmpty() ? core : new Staged(core, stages);
        }

        public LayerwiseOptimizer build(ParamLayout layout) {
            return new LayerwiseOptimizer(rule(), layout, backend, threads);
        }
    }
}

package org.lars4j.rule.lamb;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.rule.Hyperparameters;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.Rule;
import org.lars4j.rule.StepValues;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.schedule.LrSchedule;

/**
 * One fully resolved LAMB rule (docs/MATH.md section 4), validated when made. Usually made by
 * {@code org.lars4j.Lamb.Builder}, which starts from a preset's values.
 *
 * @param presetEnum     the preset the values started from
 * @param biasCorrection divide m and v by {@code 1 - beta^t}
 * @param gradAveraging  {@code m = b1 m + (1 - b1) g}; off: {@code m = b1 m + g}
 * @param adamWMode      decoupled weight decay added to r; off: L2, {@code lam * w} added to g before m and v
 * @param rectify        RAdam's rectification of the direction (docs/MATH.md section 4.4); needs gradAveraging
 * @param phiClamp       {@code phi(W) = clamp(W, gammaLower, gammaUpper)} instead of the identity
 * @param trustClip      LAMBC: {@code tr = min(tr, 1)}
 * @param maxGradNorm    apex: {@code g /= max(1, ||g||_global / maxGradNorm)}; 0 disables. The engines run it as the
 *                       {@link GlobalGradientClip} stage ({@link #gradientClip()}), the clip of every rule
 * @param nvlamb         apex nvlamb: adapt every segment, also those without weight decay
 */
public record LambConfig(LambPreset presetEnum, LrSchedule learningRate, double beta1, double beta2, double eps,
                         double weightDecay, boolean biasCorrection, boolean gradAveraging, boolean adamWMode,
                         boolean rectify, boolean phiClamp, double gammaLower, double gammaUpper, boolean trustClip, double maxGradNorm,
                         boolean nvlamb, NonFinitePolicy nonFinitePolicy) implements Rule {

    /** Validates every value; a bad one is named in an {@link InvalidHyperparameterException}. */
    public LambConfig {
        if (presetEnum == null) throw new InvalidHyperparameterException("preset is null");
        if (learningRate == null) throw new InvalidHyperparameterException("learningRate is not set");
        // The first step's rate, checked here so that learningRate(-1) fails in build(), not at step 1.
        Hyperparameters.learningRate(learningRate, 1);
        unit("beta1", beta1);
        unit("beta2", beta2);
        Hyperparameters.nonNegative("eps", eps);
        Hyperparameters.nonNegative("weightDecay", weightDecay);
        Hyperparameters.nonNegative("maxGradNorm (0: no clip)", maxGradNorm);
        if (phiClamp && !(gammaLower >= 0 && gammaUpper >= gammaLower)) {
            throw new InvalidHyperparameterException("phiClamp needs 0 <= lower <= upper, got [" + gammaLower + ", " + gammaUpper + "]");
        }
        // The upper bound may be +infinity (no clamp); the lower one is a float32 in the kernels.
        if (phiClamp) Hyperparameters.nonNegative("phiClamp lower", gammaLower);
        if (nonFinitePolicy == null) throw new InvalidHyperparameterException("nonFinitePolicy is null");
        // RAdam's moments are both averages: its mh estimates E[g], which the momentum-only phase
        // steps along as it is. m = b1 m + g would make those steps 1/(1 - b1) times larger.
        if (rectify && !gradAveraging) {
            throw new InvalidHyperparameterException("rectify needs gradAveraging on (RAdam's m is an exponential average), got gradAveraging false");
        }
    }

    private static void unit(String name, double v) {
        if (!(v >= 0 && v < 1)) throw new InvalidHyperparameterException(name + " must be in [0, 1), got " + v);
    }

    @Override public String algorithm() { return "lamb"; }
    @Override public String preset() { return presetEnum.cliName(); }

    @Override
    public ParamLayout resolveFlags(ParamLayout layout) {
        boolean[] decay = new boolean[layout.size()];
        boolean[] adapt = new boolean[layout.size()];
        for (int i = 0; i < layout.size(); i++) {
            Segment s = layout.segment(i);
            decay[i] = s.decay();
            adapt[i] = s.adapt();
            if (presetEnum == LambPreset.PAPER && !layout.adaptationRulesGiven()) adapt[i] = decay[i];
            if (presetEnum == LambPreset.APEX && !nvlamb) adapt[i] = adapt[i] && decay[i] && weightDecay != 0;
        }
        return layout.withFlags(decay, adapt);
    }

    /** The global gradient clip {@code maxGradNorm} asks for (null when 0): the engines run it as every rule's clip stage. */
    @Override public GlobalGradientClip gradientClip() { return maxGradNorm > 0 ? new GlobalGradientClip(maxGradNorm) : null; }

    @Override public List<String> stateNames() { return List.of("exp_avg", "exp_avg_sq"); }

    @Override public StepValues newStepValues() { return new LambStepValues(); }

    /**
     * Step values: lr, and the bias corrections {@code 1 - beta1^t}, {@code 1 - beta2^t}
     * (StrictMath.pow, host side; 1 when bias correction is off); with {@code rectify}, RAdam's
     * rho_t and rectification term (docs/MATH.md section 4.4), in float64 with StrictMath.
     */
    @Override
    public void fillStepValues(long t, StepValues values) {
        LambStepValues out = (LambStepValues) values;
        double lr = Hyperparameters.learningRate(learningRate, t);
        double bc1 = biasCorrection ? 1.0 - StrictMath.pow(beta1, t) : 1.0;
        double bc2 = biasCorrection ? 1.0 - StrictMath.pow(beta2, t) : 1.0;
        if (!rectify) {
            out.set(t, lr, bc1, bc2);
            return;
        }
        double rhoInf = 2.0 / (1.0 - beta2) - 1.0;
        double beta2t = StrictMath.pow(beta2, t);
        // rho_t does not depend on the bias-correction option: it describes v's average, not mh or vh.
        double rho = rhoInf - 2.0 * t * beta2t / (1.0 - beta2t);
        if (rho > RECTIFY_THRESHOLD) {
            double rect = StrictMath.sqrt((rho - 4.0) * (rho - 2.0) * rhoInf / ((rhoInf - 4.0) * (rhoInf - 2.0) * rho));
            out.set(t, lr, bc1, bc2, rho, rect, false);
        } else {
            out.set(t, lr, bc1, bc2, rho, 1.0, true);
        }
    }

    /** rho_t above which the direction is rectified; at or below, momentum only (PyTorch's {@code RAdam}). */
    public static final double RECTIFY_THRESHOLD = 5.0;

    @Override
    public Map<String, String> hyperparameters() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("preset", preset());
        m.put("lr", learningRate.toString());
        m.put("beta1", Double.toString(beta1));
        m.put("beta2", Double.toString(beta2));
        m.put("eps", Double.toString(eps));
        m.put("weight_decay", Double.toString(weightDecay));
        m.put("bias_correction", Boolean.toString(biasCorrection));
        m.put("grad_averaging", Boolean.toString(gradAveraging));
        m.put("adam_w_mode", Boolean.toString(adamWMode));
        m.put("rectify", Boolean.toString(rectify));
        m.put("phi_clamp", phiClamp ? "[" + gammaLower + ", " + gammaUpper + "]" : "identity");
        m.put("trust_clip", Boolean.toString(trustClip));
        m.put("max_grad_norm", Double.toString(maxGradNorm));
        m.put("nvlamb", Boolean.toString(nvlamb));
        m.put("non_finite_policy", nonFinitePolicy.name());
        return m;
    }

    @Override
    public String toString() { return "LambConfig" + hyperparameters(); }
}

package org.lars4j;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lars4j.engine.StepScalars;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.schedule.LrSchedule;

/** One fully resolved LAMB rule (docs/MATH.md section 4). Immutable; made by {@link Lamb.Builder}. */
public final class LambConfig implements OptimizerConfig {
    private final LambPreset preset;
    private final LrSchedule learningRate;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final boolean biasCorrection;
    private final boolean gradAveraging;
    private final boolean adamWMode;
    private final boolean phiClamp;
    private final double gammaLower;
    private final double gammaUpper;
    private final boolean trustClip;
    private final double maxGradNorm;
    private final boolean nvlamb;
    private final NonFinitePolicy nonFinitePolicy;

    LambConfig(Lamb.Builder b) {
        preset = b.preset;
        learningRate = b.learningRate;
        beta1 = b.beta1;
        beta2 = b.beta2;
        eps = b.eps;
        weightDecay = b.weightDecay;
        biasCorrection = b.biasCorrection;
        gradAveraging = b.gradAveraging;
        adamWMode = b.adamWMode;
        phiClamp = b.phiClamp;
        gammaLower = b.gammaLower;
        gammaUpper = b.gammaUpper;
        trustClip = b.trustClip;
        maxGradNorm = b.maxGradNorm;
        nvlamb = b.nvlamb;
        nonFinitePolicy = b.nonFinitePolicy;
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
    }

    private static void unit(String name, double v) {
        if (!(v >= 0 && v < 1)) throw new InvalidHyperparameterException(name + " must be in [0, 1), got " + v);
    }

    @Override public String algorithm() { return "lamb"; }
    @Override public String preset() { return preset.cliName(); }
    public LambPreset presetEnum() { return preset; }
    @Override public LrSchedule learningRate() { return learningRate; }
    public double beta1() { return beta1; }
    public double beta2() { return beta2; }
    public double eps() { return eps; }
    public double weightDecay() { return weightDecay; }
    public boolean biasCorrection() { return biasCorrection; }
    public boolean gradAveraging() { return gradAveraging; }
    public boolean adamWMode() { return adamWMode; }
    public boolean phiClamp() { return phiClamp; }
    public double gammaLower() { return gammaLower; }
    public double gammaUpper() { return gammaUpper; }
    public boolean trustClip() { return trustClip; }
    /** 0 when there is no global clip. */
    public double maxGradNorm() { return maxGradNorm; }
    public boolean nvlamb() { return nvlamb; }
    @Override public NonFinitePolicy nonFinitePolicy() { return nonFinitePolicy; }

    @Override
    public ParamLayout resolveFlags(ParamLayout layout) {
        boolean[] decay = new boolean[layout.size()];
        boolean[] adapt = new boolean[layout.size()];
        for (int i = 0; i < layout.size(); i++) {
            Segment s = layout.segment(i);
            decay[i] = s.decay();
            adapt[i] = s.adapt();
            if (preset == LambPreset.PAPER && !layout.adaptationRulesGiven()) adapt[i] = decay[i];
            if (preset == LambPreset.APEX && !nvlamb) adapt[i] = adapt[i] && decay[i] && weightDecay != 0;
        }
        return layout.withFlags(decay, adapt);
    }

    @Override public List<String> stateNames() { return List.of("exp_avg", "exp_avg_sq"); }

    /**
     * Step values: lr, and the bias corrections {@code 1 - beta1^t}, {@code 1 - beta2^t}
     * (StrictMath.pow, host side; 1 when bias correction is off).
     */
    @Override
    public void stepScalars(long t, StepScalars out) {
        double lr = Hyperparameters.learningRate(learningRate, t);
        double bc1 = biasCorrection ? 1.0 - StrictMath.pow(beta1, t) : 1.0;
        double bc2 = biasCorrection ? 1.0 - StrictMath.pow(beta2, t) : 1.0;
        out.set(t, lr, 0.0, 1.0);
        out.setBiasCorrections(bc1, bc2);
    }

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

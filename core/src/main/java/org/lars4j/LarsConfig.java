package org.lars4j;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lars4j.engine.StepScalars;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.schedule.LrSchedule;

/**
 * One fully resolved LARS-family rule (docs/MATH.md section 3): every axis of the rule with its
 * value. Immutable; made by {@link Lars.Builder}.
 */
public final class LarsConfig implements OptimizerConfig {
    private final LarsPreset preset;
    private final TrustRatioForm form;
    private final LrPlacement placement;
    private final LrSchedule learningRate;
    private final double momentum;
    private final double dampening;
    private final boolean nesterov;
    private final double weightDecay;
    private final double trustCoefficient;
    private final double eps;
    private final boolean clip;
    private final double normClamp;
    private final boolean zeroNormSkipsDecay;
    private final boolean excludeOneDimensional;
    private final boolean adaptOnlyWithDecay;
    private final boolean tvlarsPhi;
    private final double tvAlpha;
    private final double tvLambda;
    private final double tvDelay;
    private final double tvGammaMin;
    private final boolean momentumCorrection;
    private final boolean carryWeightNorms;
    private final NonFinitePolicy nonFinitePolicy;

    LarsConfig(Lars.Builder b) {
        preset = b.preset;
        form = b.form;
        placement = b.placement;
        learningRate = b.learningRate;
        momentum = b.momentum;
        dampening = b.dampening;
        nesterov = b.nesterov;
        weightDecay = b.weightDecay;
        trustCoefficient = b.trustCoefficient;
        eps = b.eps;
        clip = b.clip;
        normClamp = b.normClamp;
        zeroNormSkipsDecay = b.zeroNormSkipsDecay;
        excludeOneDimensional = b.excludeOneDimensional;
        adaptOnlyWithDecay = b.adaptOnlyWithDecay;
        tvlarsPhi = b.tvlarsPhi;
        tvAlpha = b.tvAlpha;
        tvLambda = b.tvLambda;
        tvDelay = b.tvDelay;
        tvGammaMin = b.tvGammaMin;
        momentumCorrection = b.momentumCorrection;
        carryWeightNorms = b.carryWeightNorms;
        nonFinitePolicy = b.nonFinitePolicy;
        validate();
    }

    private void validate() {
        if (learningRate == null) throw new InvalidHyperparameterException("learningRate is not set");
        // The first step's rate, checked here so that learningRate(-1) fails in build(), not at step 1.
        Hyperparameters.learningRate(learningRate, 1);
        Hyperparameters.nonNegative("momentum", momentum);
        Hyperparameters.nonNegative("weightDecay", weightDecay);
        Hyperparameters.nonNegative("eps", eps);
        if (!(trustCoefficient > 0) || !Hyperparameters.finiteAsFloat(trustCoefficient)) {
            throw new InvalidHyperparameterException("trustCoefficient must be finite and > 0, got " + trustCoefficient);
        }
        if (!(dampening >= 0 && dampening <= 1)) {
            throw new InvalidHyperparameterException("dampening must be in [0, 1], got " + dampening);
        }
        if (dampening != 0 && placement == LrPlacement.INSIDE) {
            throw new InvalidHyperparameterException("dampening applies only with LrPlacement.OUTSIDE (PyTorch buffer semantics), got "
                    + dampening + " with INSIDE");
        }
        if (nesterov && (momentum == 0 || dampening != 0)) {
            throw new InvalidHyperparameterException("nesterov needs momentum > 0 and dampening 0 (as in PyTorch), got momentum "
                    + momentum + ", dampening " + dampening);
        }
        if (!(normClamp > 0)) throw new InvalidHyperparameterException("normClamp must be > 0 (infinity: no clamp), got " + normClamp);
        if (momentumCorrection && placement != LrPlacement.INSIDE) {
            throw new InvalidHyperparameterException("momentumCorrection (MLPerf) needs LrPlacement.INSIDE");
        }
        if (nonFinitePolicy == null) throw new InvalidHyperparameterException("nonFinitePolicy is null");
        if (form == null) throw new InvalidHyperparameterException("trustRatioForm is null");
        if (placement == null) throw new InvalidHyperparameterException("lrPlacement is null");
        if (tvlarsPhi) {
            Hyperparameters.nonNegative("tvAlpha", tvAlpha);
            Hyperparameters.finite("tvLambda", tvLambda);
            Hyperparameters.finite("tvDelay", tvDelay);
            Hyperparameters.nonNegative("tvGammaMin", tvGammaMin);
        }
    }

    @Override public String algorithm() { return "lars"; }
    @Override public String preset() { return preset.cliName(); }
    public LarsPreset presetEnum() { return preset; }
    public TrustRatioForm form() { return form; }
    public LrPlacement placement() { return placement; }
    @Override public LrSchedule learningRate() { return learningRate; }
    public double momentum() { return momentum; }
    public double dampening() { return dampening; }
    public boolean nesterov() { return nesterov; }
    public double weightDecay() { return weightDecay; }
    public double trustCoefficient() { return trustCoefficient; }
    public double eps() { return eps; }
    /** LARC clipping: {@code tr = min(tr / lr, 1)}. */
    public boolean clip() { return clip; }
    /** Upper bound applied to both norms before the ratio; +infinity means none. */
    public double normClamp() { return normClamp; }
    /** apex LARC: where ||w|| or the update norm is 0, neither decay nor ratio is applied that step. */
    public boolean zeroNormSkipsDecay() { return zeroNormSkipsDecay; }
    public boolean excludeOneDimensional() { return excludeOneDimensional; }
    /** timm: a segment is adapted only where it is decayed with weightDecay != 0. */
    public boolean adaptOnlyWithDecay() { return adaptOnlyWithDecay; }
    public boolean tvlarsPhi() { return tvlarsPhi; }
    public double tvAlpha() { return tvAlpha; }
    public double tvLambda() { return tvLambda; }
    public double tvDelay() { return tvDelay; }
    public double tvGammaMin() { return tvGammaMin; }
    /** MLPerf: {@code mu_eff = mu * lr_t / lr_(t-1)}. */
    public boolean momentumCorrection() { return momentumCorrection; }
    /** Carry ||w|| from each update pass to the next step (opt-in; same bits). */
    public boolean carryWeightNorms() { return carryWeightNorms; }
    @Override public NonFinitePolicy nonFinitePolicy() { return nonFinitePolicy; }

    @Override
    public ParamLayout resolveFlags(ParamLayout layout) {
        boolean[] decay = new boolean[layout.size()];
        boolean[] adapt = new boolean[layout.size()];
        for (int i = 0; i < layout.size(); i++) {
            Segment s = layout.segment(i);
            boolean oneDim = excludeOneDimensional && s.rank() <= 1;
            decay[i] = s.decay() && !oneDim;
            adapt[i] = s.adapt() && !oneDim;
            if (adaptOnlyWithDecay) adapt[i] = adapt[i] && decay[i] && weightDecay != 0;
        }
        return layout.withFlags(decay, adapt);
    }

    @Override public List<String> stateNames() { return List.of("momentum_buffer"); }

    /** TVLARS phi(t) = 1 / (alpha + exp(lambda * (t - d_e))) + gamma_min, with StrictMath. */
    public double phi(long t) {
        if (!tvlarsPhi) return 1.0;
        return 1.0 / (tvAlpha + StrictMath.exp(tvLambda * (t - tvDelay))) + tvGammaMin;
    }

    @Override
    public void stepScalars(long t, StepScalars out) {
        double lr = checkedLr(t);
        double mu = momentum;
        if (momentumCorrection && t > 1) {
            double prev = checkedLr(t - 1);
            if (prev > 0) mu = momentum * lr / prev;
        }
        if (!Hyperparameters.finiteAsFloat(mu)) throw new InvalidHyperparameterException("effective momentum at step " + t + " is " + mu);
        double phi = phi(t);
        if (!Hyperparameters.finiteAsFloat(phi)) throw new InvalidHyperparameterException("TVLARS phi at step " + t + " is " + phi);
        out.set(t, lr, mu, phi);
    }

    private double checkedLr(long t) {
        return Hyperparameters.learningRate(learningRate, t);
    }

    @Override
    public Map<String, String> hyperparameters() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("preset", preset());
        m.put("form", form.name());
        m.put("placement", placement.name());
        m.put("lr", learningRate.toString());
        m.put("momentum", Double.toString(momentum));
        m.put("dampening", Double.toString(dampening));
        m.put("nesterov", Boolean.toString(nesterov));
        m.put("weight_decay", Double.toString(weightDecay));
        m.put("trust_coefficient", Double.toString(trustCoefficient));
        m.put("eps", Double.toString(eps));
        m.put("clip", Boolean.toString(clip));
        m.put("norm_clamp", Double.toString(normClamp));
        m.put("zero_norm_skips_decay", Boolean.toString(zeroNormSkipsDecay));
        m.put("exclude_one_dimensional", Boolean.toString(excludeOneDimensional));
        m.put("adapt_only_with_decay", Boolean.toString(adaptOnlyWithDecay));
        m.put("tvlars_phi", Boolean.toString(tvlarsPhi));
        if (tvlarsPhi) {
            m.put("tv_alpha", Double.toString(tvAlpha));
            m.put("tv_lambda", Double.toString(tvLambda));
            m.put("tv_delay", Double.toString(tvDelay));
            m.put("tv_gamma_min", Double.toString(tvGammaMin));
        }
        m.put("momentum_correction", Boolean.toString(momentumCorrection));
        m.put("carry_weight_norms", Boolean.toString(carryWeightNorms));
        m.put("non_finite_policy", nonFinitePolicy.name());
        return m;
    }

    @Override
    public String toString() { return "LarsConfig" + hyperparameters(); }
}

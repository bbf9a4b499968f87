package org.lars4j.rule.lars;

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
import org.lars4j.schedule.LrSchedule;

/**
 * One fully resolved LARS-family rule (docs/MATH.md section 3): every axis of the rule with its
 * value, validated when made. Usually made by {@code org.lars4j.Lars.Builder}, which starts from
 * a preset's values.
 *
 * @param presetEnum            the preset the values started from
 * @param form                  where weight decay enters the trust ratio's norms
 * @param placement             whether lr multiplies inside the momentum buffer (paper, MLPerf) or outside (PyTorch, timm)
 * @param clip                  LARC clipping: {@code tr = min(tr / lr, 1)}
 * @param normClamp             upper bound applied to both norms before the ratio; +infinity means none
 * @param zeroNormSkipsDecay    apex LARC: where ||w|| or the update norm is 0, neither decay nor ratio is applied that step
 * @param adaptOnlyWithDecay    timm: a segment is adapted only where it is decayed with weightDecay != 0
 * @param momentumCorrection    MLPerf: {@code mu_eff = mu * lr_t / lr_(t-1)}
 * @param carryWeightNorms      carry ||w|| from each update pass to the next step (opt-in; same bits)
 */
public record LarsConfig(LarsPreset presetEnum, TrustRatioForm form, LrPlacement placement, LrSchedule learningRate,
                         double momentum, double dampening, boolean nesterov, double weightDecay, double trustCoefficient,
                         double eps, boolean clip, double normClamp, boolean zeroNormSkipsDecay,
                         boolean excludeOneDimensional, boolean adaptOnlyWithDecay, boolean tvlarsPhi, double tvAlpha,
                         double tvLambda, double tvDelay, double tvGammaMin, boolean momentumCorrection,
                         boolean carryWeightNorms, NonFinitePolicy nonFinitePolicy) implements Rule {

    /** Validates every value; a bad one is named in an {@link InvalidHyperparameterException}. */
    public LarsConfig {
        if (presetEnum == null) throw new InvalidHyperparameterException("preset is null");
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
    @Override public String preset() { return presetEnum.cliName(); }

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

    @Override public StepValues newStepValues() { return new LarsStepValues(); }

    /** lr from the schedule, the effective momentum (MLPerf's correction) and TVLARS' phi. */
    @Override
    public void fillStepValues(long t, StepValues values) {
        LarsStepValues out = (LarsStepValues) values;
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

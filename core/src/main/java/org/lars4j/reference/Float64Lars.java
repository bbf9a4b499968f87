package org.lars4j.reference;

import java.util.List;
import org.lars4j.rule.lars.LarsConfig;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;

/**
 * docs/MATH.md section 3 (the LARS family) in float64, line by line: update direction (3.1),
 * trust ratio (3.2), momentum and the weight update in both placements (3.3), MLPerf's momentum
 * correction and TVLARS' phi(t). State: {@code momentum_buffer}.
 */
final class Float64Lars extends Float64Reference {
    private final LarsConfig c;
    private final double[][] v;

    Float64Lars(LarsConfig c, boolean[] decay, boolean[] adapt, float[][] initialWeights) {
        super(decay, adapt, initialWeights);
        this.c = c;
        v = new double[w.length][];
        for (int i = 0; i < w.length; i++) v[i] = new double[w[i].length];
    }

    @Override
    public List<String> stateNames() { return List.of("momentum_buffer"); }

    @Override
    public double[][] state(String name) {
        if (name.equals("momentum_buffer")) return v;
        throw new IllegalArgumentException("LARS has no state " + name);
    }

    /** phi(t) = 1 / (alpha + exp(lambda * (t - d_e))) + gamma_min with TVLARS, else 1 (section 3.2). */
    private double phi(long t) {
        if (!c.tvlarsPhi()) return 1.0;
        return 1.0 / (c.tvAlpha() + StrictMath.exp(c.tvLambda() * (t - c.tvDelay()))) + c.tvGammaMin();
    }

    @Override
    void step(long t, double[][] grads) {
        double lr = c.learningRate().at(t);
        // mu_eff(t) = mu * lr(t) / lr(t-1) for t > 1 and lr(t-1) > 0; otherwise mu (section 3.3)
        double mu = c.momentum();
        if (c.momentumCorrection() && t > 1) {
            double prev = c.learningRate().at(t - 1);
            if (prev > 0) mu = c.momentum() * lr / prev;
        }
        double phi = phi(t);
        boolean sumOfNorms = c.form() == TrustRatioForm.SUM_OF_NORMS;
        for (int i = 0; i < w.length; i++) {
            double[] wi = w[i];
            int n = wi.length;
            double[] g = grads[i];
            // 3.1: u = g + lam * w
            double lam = decay[i] ? c.weightDecay() : 0;
            double tr = 1;
            if (adapt[i]) {
                // 3.2: the norms, clamped, then the ratio
                double[] u = new double[n];
                for (int k = 0; k < n; k++) u[k] = g[k] + lam * wi[k];
                double wn = Math.min(norm(wi), c.normClamp());
                double nn = Math.min(sumOfNorms ? norm(g) : norm(u), c.normClamp());
                if (wn > 0 && nn > 0) {
                    double den = sumOfNorms ? nn + lam * wn + c.eps() : nn + c.eps();
                    tr = c.trustCoefficient() * wn / den * phi;
                    if (c.clip()) tr = Math.min(tr / lr, 1);
                } else if (c.zeroNormSkipsDecay()) {
                    lam = 0;   // apex LARC: neither ratio nor decay this step
                }
            }
            trust[i] = tr;
            double[] vi = v[i];
            for (int k = 0; k < n; k++) {
                double u = g[k] + lam * wi[k];
                if (c.placement() == LrPlacement.INSIDE) {
                    double s = lr * tr * u;
                    vi[k] = mu * vi[k] + s;
                    wi[k] -= c.nesterov() ? mu * vi[k] + s : vi[k];
                } else {
                    double d = tr * u;
                    vi[k] = t == 1 ? d : mu * vi[k] + (1 - c.dampening()) * d;
                    wi[k] -= lr * (c.nesterov() ? d + mu * vi[k] : vi[k]);
                }
            }
        }
    }
}

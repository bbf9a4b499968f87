package org.lars4j.reference;

import java.util.List;
import org.lars4j.rule.lamb.LambConfig;

/**
 * docs/MATH.md section 4.1 (LAMB) in float64, line by line: the global gradient clip, the
 * moments, the bias-corrected direction with AdamW or L2 decay, the trust ratio with the
 * optional phi clamp and LAMBC clip, the update; section 4.4's rectification (RAdam) of the
 * direction when the configuration rectifies. State: {@code exp_avg} (m), {@code exp_avg_sq} (v).
 */
final class Float64Lamb extends Float64Reference {
    private final LambConfig c;
    private final double[][] m;
    private final double[][] v;

    Float64Lamb(LambConfig c, boolean[] decay, boolean[] adapt, float[][] initialWeights) {
        super(decay, adapt, initialWeights);
        this.c = c;
        m = new double[w.length][];
        v = new double[w.length][];
        for (int i = 0; i < w.length; i++) {
            m[i] = new double[w[i].length];
            v[i] = new double[w[i].length];
        }
    }

    @Override
    public List<String> stateNames() { return List.of("exp_avg", "exp_avg_sq"); }

    @Override
    public double[][] state(String name) {
        switch (name) {
            case "exp_avg": return m;
            case "exp_avg_sq": return v;
            default: throw new IllegalArgumentException("LAMB has no state " + name);
        }
    }

    @Override
    void step(long t, double[][] grads) {
        double lr = c.learningRate().at(t);
        // 0. global clip over all segments
        double clip = 1;
        if (c.maxGradNorm() > 0) {
            double total = 0;
            for (double[] g : grads) for (double x : g) total += x * x;
            clip = Math.max(1, Math.sqrt(total) / c.maxGradNorm());
        }
        double b1 = c.beta1();
        double b2 = c.beta2();
        double b3 = c.gradAveraging() ? 1 - b1 : 1;
        double bc1 = c.biasCorrection() ? 1 - StrictMath.pow(b1, t) : 1;
        double bc2 = c.biasCorrection() ? 1 - StrictMath.pow(b2, t) : 1;
        // 2'. rectified LAMB (section 4.4): RAdam's rho_t and rectification term, or the momentum-only phase
        boolean momentumOnly = false;
        double rect = 1;
        if (c.rectify()) {
            double rhoInf = 2 / (1 - b2) - 1;
            double rhoT = rhoInf - 2 * t * StrictMath.pow(b2, t) / (1 - StrictMath.pow(b2, t));
            if (rhoT > 5) rect = StrictMath.sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
            else momentumOnly = true;
        }
        for (int i = 0; i < w.length; i++) {
            double[] wi = w[i];
            int n = wi.length;
            double lam = decay[i] ? c.weightDecay() : 0;
            double[] r = new double[n];
            for (int k = 0; k < n; k++) {
                // 1. moments (L2 mode folds the decay into the clipped gradient)
                double g = grads[i][k] / clip;
                if (!c.adamWMode()) g += lam * wi[k];
                m[i][k] = b1 * m[i][k] + b3 * g;
                v[i][k] = b2 * v[i][k] + (1 - b2) * g * g;
                // 2. direction (AdamW mode adds the decay after the normalisation)
                double mh = m[i][k] / bc1;
                double vh = v[i][k] / bc2;
                r[k] = momentumOnly ? mh : rect * mh / (Math.sqrt(vh) + c.eps());
                if (c.adamWMode()) r[k] += lam * wi[k];
            }
            // 3. trust ratio
            double tr = 1;
            if (adapt[i]) {
                double wn = norm(wi);
                double rn = norm(r);
                if (wn > 0 && rn > 0) {
                    double phi = c.phiClamp() ? Math.min(Math.max(wn, c.gammaLower()), c.gammaUpper()) : wn;
                    tr = phi / rn;
                    if (c.trustClip()) tr = Math.min(tr, 1);
                }
            }
            trust[i] = tr;
            // 4. update
            for (int k = 0; k < n; k++) wi[k] -= lr * tr * r[k];
        }
    }
}

package org.lars4j.tool;

import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lars.LarsConfig;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;

/**
 * docs/MATH.md sections 3 and 4 in plain float64, straight from the formulas, for
 * `./lars4j verify` to measure how far each engine's float32 result is from exact arithmetic.
 * Uses the optimizer's resolved flags; keeps its own float64 weights and state.
 */
final class Float64Reference {
    private final Object cfg;
    private final ParamLayout layout;
    final double[][] w;
    private final double[][] s1;
    private final double[][] s2;
    private long t;

    Float64Reference(Object cfg, ParamLayout resolved, float[][] w0) {
        this.cfg = cfg;
        this.layout = resolved;
        int n = w0.length;
        w = new double[n][];
        s1 = new double[n][];
        s2 = new double[n][];
        for (int i = 0; i < n; i++) {
            w[i] = new double[w0[i].length];
            for (int k = 0; k < w[i].length; k++) w[i][k] = w0[i][k];
            s1[i] = new double[w[i].length];
            s2[i] = new double[w[i].length];
        }
    }

    private static double norm(double[] x) {
        double s = 0;
        for (double v : x) s += v * v;
        return Math.sqrt(s);
    }

    void step(float[][] g) {
        t++;
        if (cfg instanceof LarsConfig) lars((LarsConfig) cfg, g);
        else lamb((LambConfig) cfg, g);
    }

    private void lars(LarsConfig c, float[][] g) {
        double lr = c.learningRate().at(t);
        double mu = c.momentum();
        if (c.momentumCorrection() && t > 1 && c.learningRate().at(t - 1) > 0) mu = c.momentum() * lr / c.learningRate().at(t - 1);
        double phi = c.phi(t);
        for (int i = 0; i < w.length; i++) {
            int n = w[i].length;
            double lam = layout.segment(i).decay() ? c.weightDecay() : 0;
            double[] u = new double[n];
            double[] gi = new double[n];
            for (int k = 0; k < n; k++) {
                gi[k] = g[i][k];
                u[k] = gi[k] + lam * w[i][k];
            }
            double tr = 1;
            if (layout.segment(i).adapt()) {
                double wn = Math.min(norm(w[i]), c.normClamp());
                double nn = Math.min(c.form() == TrustRatioForm.SUM_OF_NORMS ? norm(gi) : norm(u), c.normClamp());
                if (wn > 0 && nn > 0) {
                    double den = c.form() == TrustRatioForm.SUM_OF_NORMS ? nn + lam * wn + c.eps() : nn + c.eps();
                    tr = c.trustCoefficient() * wn / den * phi;
                    if (c.clip()) tr = Math.min(tr / lr, 1);
                } else if (c.zeroNormSkipsDecay()) {
                    for (int k = 0; k < n; k++) u[k] = gi[k];
                }
            }
            for (int k = 0; k < n; k++) {
                if (c.placement() == LrPlacement.INSIDE) {
                    double s = lr * tr * u[k];
                    s1[i][k] = mu * s1[i][k] + s;
                    w[i][k] -= c.nesterov() ? mu * s1[i][k] + s : s1[i][k];
                } else {
                    double d = tr * u[k];
                    s1[i][k] = t == 1 ? d : mu * s1[i][k] + (1 - c.dampening()) * d;
                    w[i][k] -= lr * (c.nesterov() ? d + mu * s1[i][k] : s1[i][k]);
                }
            }
        }
    }

    private void lamb(LambConfig c, float[][] g) {
        double lr = c.learningRate().at(t);
        double clip = 1;
        if (c.maxGradNorm() > 0) {
            double total = 0;
            for (float[] x : g) for (float v : x) total += (double) v * v;
            clip = Math.max(1, Math.sqrt(total) / c.maxGradNorm());
        }
        double b3 = c.gradAveraging() ? 1 - c.beta1() : 1;
        double bc1 = c.biasCorrection() ? 1 - Math.pow(c.beta1(), t) : 1;
        double bc2 = c.biasCorrection() ? 1 - Math.pow(c.beta2(), t) : 1;
        for (int i = 0; i < w.length; i++) {
            int n = w[i].length;
            double lam = layout.segment(i).decay() ? c.weightDecay() : 0;
            double[] r = new double[n];
            for (int k = 0; k < n; k++) {
                double gs = g[i][k] / clip;
                if (!c.adamWMode()) gs += lam * w[i][k];
                s1[i][k] = c.beta1() * s1[i][k] + b3 * gs;
                s2[i][k] = c.beta2() * s2[i][k] + (1 - c.beta2()) * gs * gs;
                r[k] = (s1[i][k] / bc1) / (Math.sqrt(s2[i][k] / bc2) + c.eps()) + (c.adamWMode() ? lam * w[i][k] : 0);
            }
            double tr = 1;
            if (layout.segment(i).adapt()) {
                double wn = norm(w[i]);
                double rn = norm(r);
                if (wn > 0 && rn > 0) {
                    double phi = c.phiClamp() ? Math.min(Math.max(wn, c.gammaLower()), c.gammaUpper()) : wn;
                    tr = phi / rn;
                    if (c.trustClip()) tr = Math.min(tr, 1);
                }
            }
            for (int k = 0; k < n; k++) w[i][k] -= lr * tr * r[k];
        }
    }
}

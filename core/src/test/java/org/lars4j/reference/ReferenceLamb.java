package org.lars4j.reference;

/**
 * An independent float64 implementation of docs/MATH.md section 4 (LAMB), written from the
 * formulas: plain loops, double everywhere, its own float64 trajectory of w, m and v.
 */
public final class ReferenceLamb {
    /** Every option of the rule, as plain values. */
    public static final class Rule {
        public double beta1 = 0.9, beta2 = 0.999, eps = 1e-6, weightDecay;
        public boolean biasCorrection = true, gradAveraging = true, adamWMode = true;
        public boolean phiClamp;
        public double gammaLower, gammaUpper = Double.POSITIVE_INFINITY;
        public boolean trustClip;
        public double maxGradNorm;   // 0: off
        public java.util.function.LongToDoubleFunction lr = t -> 1e-3;
    }

    private final Rule rule;
    private final boolean[] decay;
    private final boolean[] adapt;
    public final double[][] w, m, v;
    public final double[] trust;
    private long t;

    public ReferenceLamb(Rule rule, boolean[] decay, boolean[] adapt, float[][] initialWeights) {
        this.rule = rule;
        this.decay = decay.clone();
        this.adapt = adapt.clone();
        int n = initialWeights.length;
        w = new double[n][];
        m = new double[n][];
        v = new double[n][];
        trust = new double[n];
        for (int i = 0; i < n; i++) {
            w[i] = new double[initialWeights[i].length];
            for (int k = 0; k < w[i].length; k++) w[i][k] = initialWeights[i][k];
            m[i] = new double[w[i].length];
            v[i] = new double[w[i].length];
        }
    }

    public void step(float[][] grads) {
        t++;
        double lr = rule.lr.applyAsDouble(t);
        double c = 1;
        if (rule.maxGradNorm > 0) {
            double total = 0;
            for (float[] g : grads) for (float x : g) total += (double) x * x;
            c = Math.max(1, Math.sqrt(total) / rule.maxGradNorm);
        }
        double b3 = rule.gradAveraging ? 1 - rule.beta1 : 1;
        double bc1 = rule.biasCorrection ? 1 - Math.pow(rule.beta1, t) : 1;
        double bc2 = rule.biasCorrection ? 1 - Math.pow(rule.beta2, t) : 1;
        for (int i = 0; i < w.length; i++) {
            double lam = decay[i] ? rule.weightDecay : 0;
            int n = w[i].length;
            double[] r = new double[n];
            for (int k = 0; k < n; k++) {
                double g = grads[i][k] / c;
                if (!rule.adamWMode) g += lam * w[i][k];
                m[i][k] = rule.beta1 * m[i][k] + b3 * g;
                v[i][k] = rule.beta2 * v[i][k] + (1 - rule.beta2) * g * g;
                r[k] = (m[i][k] / bc1) / (Math.sqrt(v[i][k] / bc2) + rule.eps);
                if (rule.adamWMode) r[k] += lam * w[i][k];
            }
            double tr = 1;
            if (adapt[i]) {
                double wn = 0, rn = 0;
                for (int k = 0; k < n; k++) {
                    wn += w[i][k] * w[i][k];
                    rn += r[k] * r[k];
                }
                wn = Math.sqrt(wn);
                rn = Math.sqrt(rn);
                if (wn > 0 && rn > 0) {
                    double phi = rule.phiClamp ? Math.min(Math.max(wn, rule.gammaLower), rule.gammaUpper) : wn;
                    tr = phi / rn;
                    if (rule.trustClip) tr = Math.min(tr, 1);
                }
            }
            trust[i] = tr;
            for (int k = 0; k < n; k++) w[i][k] -= lr * tr * r[k];
        }
    }
}

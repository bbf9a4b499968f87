package org.lars4j.reference;

/**
 * An independent float64 implementation of docs/MATH.md section 3, written from the formulas
 * and sharing no code with the engines: plain loops, double everywhere, no canonical order.
 * Holds its own float64 weights and momentum, so multi-step runs follow the exact trajectory.
 */
public final class ReferenceLars {
    /** Every axis of the rule, as plain values. */
    public static final class Rule {
        public boolean sumOfNorms = true;      // SUM_OF_NORMS vs NORM_OF_SUM
        public boolean lrInside = true;        // INSIDE vs OUTSIDE
        public double eps = 0;
        public double eta = 0.001;
        public double momentum = 0.9;
        public double dampening = 0;
        public boolean nesterov;
        public double weightDecay;
        public boolean clip;
        public double normClamp = Double.POSITIVE_INFINITY;
        public boolean zeroNormQuirk;          // apex LARC
        public boolean tvlars;
        public double tvAlpha = 0.1, tvLambda = 0.001, tvDelay = -1, tvGammaMin = 0;
        public boolean momentumCorrection;     // MLPerf
        public java.util.function.LongToDoubleFunction lr = t -> 0.1;
    }

    private final Rule rule;
    private final boolean[] decay;
    private final boolean[] adapt;
    public final double[][] w;
    public final double[][] v;
    public final double[] trust;
    private long t;

    public ReferenceLars(Rule rule, boolean[] decay, boolean[] adapt, float[][] initialWeights) {
        this.rule = rule;
        this.decay = decay.clone();
        this.adapt = adapt.clone();
        int n = initialWeights.length;
        w = new double[n][];
        v = new double[n][];
        trust = new double[n];
        for (int i = 0; i < n; i++) {
            w[i] = new double[initialWeights[i].length];
            for (int k = 0; k < w[i].length; k++) w[i][k] = initialWeights[i][k];
            v[i] = new double[w[i].length];
        }
    }

    private static double norm(double[] x) {
        double s = 0;
        for (double e : x) s += e * e;
        return Math.sqrt(s);
    }

    /** One step with gradients {@code grads}; weights and momentum advance in float64. */
    public void step(float[][] grads) {
        t++;
        double lr = rule.lr.applyAsDouble(t);
        double mu = rule.momentum;
        if (rule.momentumCorrection && t > 1) {
            double prev = rule.lr.applyAsDouble(t - 1);
            if (prev > 0) mu = rule.momentum * lr / prev;
        }
        double phi = rule.tvlars ? 1.0 / (rule.tvAlpha + Math.exp(rule.tvLambda * (t - rule.tvDelay))) + rule.tvGammaMin : 1.0;
        for (int i = 0; i < w.length; i++) {
            double[] wi = w[i];
            int n = wi.length;
            double lam = decay[i] ? rule.weightDecay : 0;
            double[] g = new double[n];
            for (int k = 0; k < n; k++) g[k] = grads[i][k];
            double tr = 1;
            if (adapt[i]) {
                double[] u = new double[n];
                for (int k = 0; k < n; k++) u[k] = g[k] + lam * wi[k];
                double wn = Math.min(norm(wi), rule.normClamp);
                double nn = Math.min(rule.sumOfNorms ? norm(g) : norm(u), rule.normClamp);
                if (wn > 0 && nn > 0) {
                    double den = rule.sumOfNorms ? nn + lam * wn + rule.eps : nn + rule.eps;
                    tr = rule.eta * wn / den * phi;
                    if (rule.clip) tr = Math.min(tr / lr, 1);
                } else if (rule.zeroNormQuirk) {
                    lam = 0;
                }
            }
            trust[i] = tr;
            double[] vi = v[i];
            for (int k = 0; k < n; k++) {
                double u = g[k] + lam * wi[k];
                if (rule.lrInside) {
                    double s = lr * tr * u;
                    vi[k] = mu * vi[k] + s;
                    wi[k] -= rule.nesterov ? mu * vi[k] + s : vi[k];
                } else {
                    double d = tr * u;
                    vi[k] = t == 1 ? d : mu * vi[k] + (1 - rule.dampening) * d;
                    wi[k] -= lr * (rule.nesterov ? d + mu * vi[k] : vi[k]);
                }
            }
        }
    }
}

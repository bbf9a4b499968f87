package org.lars4j.rule.lamb;

import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.rule.NonFinitePolicy;

/** Per-segment decisions of a LAMB plan shared by every engine (docs/CANONICAL_ORDER.md, LAMB). */
public final class LambSegments {
    private final int[] length;
    private final boolean[] adapt;
    private final double[] lambda;
    private final boolean gradNormPass;

    public LambSegments(LambConfig cfg, ParamLayout layout) {
        int n = layout.size();
        length = new int[n];
        adapt = new boolean[n];
        lambda = new double[n];
        for (int i = 0; i < n; i++) {
            Segment s = layout.segment(i);
            length[i] = s.length();
            adapt[i] = s.adapt();
            lambda[i] = s.decay() ? cfg.weightDecay() : 0.0;
        }
        gradNormPass = cfg.maxGradNorm() > 0 || cfg.nonFinitePolicy() == NonFinitePolicy.SKIP_STEP;
    }

    public int segments() { return length.length; }
    public int[] lengths() { return length.clone(); }
    public boolean adapt(int i) { return adapt[i]; }
    public double lambda(int i) { return lambda[i]; }
    public double[] lambdas() { return lambda.clone(); }

    /** 1 where the segment is adapted (needs ||w|| and ||r||), else 0. */
    public int[] adaptFlags() {
        int[] a = new int[adapt.length];
        for (int i = 0; i < a.length; i++) a[i] = adapt[i] ? 1 : 0;
        return a;
    }

    /** Whether a first pass computes every segment's ||g|| (global clip, or the non-finite check). */
    public boolean gradNormPass() { return gradNormPass; }
}

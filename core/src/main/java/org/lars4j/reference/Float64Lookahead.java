package org.lars4j.reference;

import java.util.ArrayList;
import java.util.List;
import org.lars4j.rule.stage.Lookahead;

/**
 * Lookahead (docs/MATH.md, "Lookahead") around any rule's float64 reference, as the paper's
 * Algorithm 1 says: the slow weights are a copy of the weights taken at step 1, before the rule
 * runs; after every k-th step, {@code phi = phi + alpha * (w - phi)} and {@code w = phi}. State:
 * the rule's, then {@code lookahead_slow}.
 */
final class Float64Lookahead extends Float64Reference {
    private final Lookahead lookahead;
    private final Float64Reference inner;
    private final double[][] slow;

    Float64Lookahead(Lookahead lookahead, Float64Reference inner) {
        super(inner);
        this.lookahead = lookahead;
        this.inner = inner;
        slow = new double[w.length][];
        for (int i = 0; i < w.length; i++) slow[i] = new double[w[i].length];
    }

    @Override
    public List<String> stateNames() {
        List<String> names = new ArrayList<>(inner.stateNames());
        names.add(Lookahead.STATE);
        return names;
    }

    @Override
    public double[][] state(String name) {
        return name.equals(Lookahead.STATE) ? slow : inner.state(name);
    }

    @Override
    void step(long t, double[][] grads) {
        if (t == 1) {
            for (int i = 0; i < w.length; i++) slow[i] = w[i].clone();
        }
        inner.step(t, grads);
        if (t % lookahead.k() == 0) {
            double alpha = lookahead.alpha();
            for (int i = 0; i < w.length; i++) {
                for (int e = 0; e < w[i].length; e++) {
                    slow[i][e] = slow[i][e] + alpha * (w[i][e] - slow[i][e]);
                    w[i][e] = slow[i][e];
                }
            }
        }
    }
}

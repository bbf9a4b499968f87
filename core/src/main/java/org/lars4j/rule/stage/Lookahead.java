package org.lars4j.rule.stage;

import org.lars4j.error.InvalidHyperparameterException;

/**
 * Lookahead (Zhang et al. 2019; docs/MATH.md): slow weights {@code phi}, a copy of w taken at the
 * first step; after every {@code k}-th applied step, {@code phi += alpha * (w - phi); w = phi}.
 * A weight stage: engines fuse the sync into the k-th step's update pass. Skipped steps do not
 * count towards k.
 *
 * @param k     applied steps between syncs, at least 1
 * @param alpha how far the slow weights move towards the fast ones at a sync, in (0, 1]
 */
public record Lookahead(int k, double alpha) {
    /** The state buffer of the slow weights, per segment ({@code <param>.lookahead_slow} in checkpoints). */
    public static final String STATE = "lookahead_slow";

    public Lookahead {
        if (k < 1) throw new InvalidHyperparameterException("lookahead k must be >= 1, got " + k);
        // Checked at the precision the engines use: a positive double that rounds to float 0 would
        // make every sync a no-op on the engines while the float64 reference still moved.
        if (!(alpha > 0 && alpha <= 1) || !((float) alpha > 0)) {
            throw new InvalidHyperparameterException("lookahead alpha must be in (0, 1] (and > 0 as a float32), got " + alpha);
        }
    }

    /** Whether step {@code t} (applied steps from 1) ends with a sync. */
    public boolean syncsAt(long t) { return t % k == 0; }
}

package org.lars4j.rule.stage;

import org.lars4j.error.InvalidHyperparameterException;

/**
 * The global gradient-norm clip (apex FusedLAMB's {@code max_grad_norm}, optax's
 * {@code clip_by_global_norm}; docs/MATH.md section 14): {@code g' = g / c} with
 * {@code c = max(1, ||g||_global / maxNorm)}, {@code ||g||_global} the float64 norm over every
 * segment's gradient (after gradient centralization, which is outside it), summed in the
 * canonical order, and {@code c} rounded to float once; each element is divided by that float
 * (one correctly rounded float division). A gradient stage: engines compute {@code c} in a
 * gradient pass over the whole model before anything is written, and divide where the rule
 * reads g.
 *
 * @param maxNorm the largest global norm left unscaled, > 0 and finite
 */
public record GlobalGradientClip(double maxNorm) {
    public GlobalGradientClip {
        // Finite as a float32 too: the engines compare the float64 global norm with it, but a
        // maxNorm beyond float range is a configuration mistake, refused as other rule values are.
        if (!(maxNorm > 0) || Double.isInfinite(maxNorm) || Float.isInfinite((float) maxNorm)) {
            throw new InvalidHyperparameterException("gradient clip maxNorm must be > 0 and finite as a float32 (no clip: no stage), got " + maxNorm);
        }
    }

    /**
     * The clip factor {@code max(1, global / maxNorm)} in float64 ({@code global} NaN gives 1,
     * +infinity gives +infinity: the non-finite check decides about such a step, not the clip).
     */
    public double factor(double global) {
        double x = global / maxNorm;
        return x > 1.0 ? x : 1.0;
    }
}

package org.lars4j.rule;

/** What a step does when a gradient is not finite. */
public enum NonFinitePolicy {
    /**
     * Default. If the sum of squares of any segment's gradient (canonical order, float32 tile
     * partials) is NaN or infinite, the whole step is skipped: weights, state and step count are
     * untouched and the skipped-steps counter advances. This catches every NaN/Inf element, and
     * also a gradient so large that its squares overflow float32 (|g| of about 1e18 and up).
     */
    SKIP_STEP,
    /** Apply the step anyway; NaN/Inf flow into weights and state as IEEE arithmetic dictates. */
    PROPAGATE
}

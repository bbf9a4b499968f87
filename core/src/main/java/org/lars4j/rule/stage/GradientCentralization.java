package org.lars4j.rule.stage;

/**
 * Gradient centralization (Yong et al. 2020; docs/MATH.md): before the rule reads a gradient,
 * each row along the segment's output axis ({@code Segment.outputAxis()}) has its mean removed,
 * the mean computed in float64 in a fixed order and rounded once. Segments of rank 1 are never
 * centred; with {@code convOnly}, only segments of rank 4 and more. A gradient stage: engines
 * apply it where the rule reads g.
 *
 * @param convOnly centre only convolution kernels (rank > 3)
 */
public record GradientCentralization(boolean convOnly) {
    /** Whether a segment of this rank is centred. */
    public boolean centres(int rank) { return convOnly ? rank > 3 : rank > 1; }
}

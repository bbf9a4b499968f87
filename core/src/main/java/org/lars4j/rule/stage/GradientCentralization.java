package org.lars4j.rule.stage;

import org.lars4j.layout.Segment;

/**
 * Gradient centralization (Yong et al. 2020; docs/MATH.md section 13): before the rule reads a
 * gradient, each row along the segment's output axis ({@code Segment.outputAxis()}) has its mean
 * removed, the mean computed in float64 in a fixed order and rounded once. Segments of rank 1 are
 * never centred; with {@code convOnly}, only segments of rank 4 and more. A gradient stage:
 * engines apply it where the rule reads g.
 *
 * <p>A row of a row-major shape {@code [d0, ..., d(r-1)]} with output axis {@code a} is the set of
 * elements whose index along {@code a} is the row's number: {@link #rows} of them per segment,
 * each of {@code length / rows} elements; element {@code p} of the segment (in memory order)
 * belongs to row {@code (p / inner) % rows}, with {@link #inner} the product of the dimensions
 * after {@code a}.
 *
 * @param convOnly centre only convolution kernels (rank > 3)
 */
public record GradientCentralization(boolean convOnly) {
    /** Whether a segment of this rank is centred. */
    public boolean centres(int rank) { return convOnly ? rank > 3 : rank > 1; }

    /**
     * The number of rows of {@code s} (the length of its output axis), 0 when it is not centred:
     * by its rank, or because it has no output axis ({@link Segment#NO_OUTPUT_AXIS}).
     */
    public int rows(Segment s) {
        return centres(s.rank()) && s.outputAxis() >= 0 ? s.shape()[s.outputAxis()] : 0;
    }

    /** Elements between consecutive indices of the output axis: the product of the dimensions after it. */
    public static int inner(Segment s) {
        int[] shape = s.shape();
        int n = 1;
        for (int d = Math.max(0, s.outputAxis() + 1); d < shape.length; d++) n *= shape[d];
        return n;
    }
}

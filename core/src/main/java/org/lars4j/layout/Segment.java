package org.lars4j.layout;

import java.util.Arrays;

/**
 * One parameter tensor ("layer" in the LARS papers): its name, shape, element count and the two
 * per-segment flags of the math contract. {@code decay}: weight decay applies;
 * {@code adapt}: the layer-wise trust ratio applies. Immutable.
 */
public final class Segment {
    private final String name;
    private final int[] shape;
    private final int length;
    private final boolean decay;
    private final boolean adapt;
    private final int outputAxis;

    Segment(String name, int[] shape, int length, boolean decay, boolean adapt, int outputAxis) {
        this.name = name;
        this.shape = shape;
        this.length = length;
        this.decay = decay;
        this.adapt = adapt;
        this.outputAxis = outputAxis;
    }

    public String name() { return name; }

    /** A copy of the shape; an empty array is a scalar (one element). */
    public int[] shape() { return shape.clone(); }

    public int rank() { return shape.length; }

    /** Number of elements (product of the shape). */
    public int length() { return length; }

    public boolean decay() { return decay; }

    public boolean adapt() { return adapt; }

    /**
     * The axis of the shape that indexes the layer's outputs (0 unless the layout said otherwise):
     * gradient centralization removes the mean of each slice along it (docs/MATH.md). The shape
     * is row-major as the bytes are stored, so an integration whose memory holds a weight
     * transposed names the axis its outputs really are on.
     */
    public int outputAxis() { return outputAxis; }

    /** {@link #outputAxis()} of a weight whose outputs lie along no single axis (a depthwise kernel): never centred. */
    public static final int NO_OUTPUT_AXIS = -1;

    /** This segment with other flags (used when an optimizer preset resolves its rules); the output axis is kept. */
    public Segment withFlags(boolean decay, boolean adapt) {
        return new Segment(name, shape, length, decay, adapt, outputAxis);
    }

    /** The shape as PyTorch prints it, e.g. {@code [64, 3, 7, 7]}. */
    public String shapeString() { return Arrays.toString(shape); }

    @Override
    public String toString() {
        return name + shapeString() + (decay ? "" : " no-decay") + (adapt ? "" : " no-adapt");
    }
}

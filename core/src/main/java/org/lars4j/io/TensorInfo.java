package org.lars4j.io;

import java.util.Arrays;

/** One tensor of a safetensors file: name, dtype, shape and its byte range in the data section. */
public final class TensorInfo {
    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final long begin;
    private final long end;

    TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape;
        this.begin = begin;
        this.end = end;
    }

    public String name() { return name; }
    public DType dtype() { return dtype; }
    public long[] shape() { return shape.clone(); }
    /** Number of elements (product of the shape; 1 for a scalar). */
    public long elements() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }
    /** First byte, relative to the start of the data section. */
    public long begin() { return begin; }
    /** One past the last byte, relative to the start of the data section. */
    public long end() { return end; }

    /** The shape as an int[] (for a {@link org.lars4j.layout.ParamLayout}); each dimension must fit. */
    public int[] intShape() {
        int[] s = new int[shape.length];
        for (int i = 0; i < s.length; i++) s[i] = Math.toIntExact(shape[i]);
        return s;
    }

    @Override
    public String toString() { return name + " " + dtype + Arrays.toString(shape); }
}

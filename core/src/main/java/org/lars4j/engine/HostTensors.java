package org.lars4j.engine;

import java.nio.FloatBuffer;
import java.util.List;
import org.lars4j.layout.ParamLayout;

/**
 * Where each segment's host data lives for one step: either a {@code float[]} with an offset, or
 * a {@link FloatBuffer} with an absolute index (direct buffers; heap buffers are unwrapped to
 * their array). One instance per role is made at plan time and re-bound every step, so binding
 * allocates nothing. Binding does not validate: the optimizer validates first.
 */
public final class HostTensors {
    private final ParamLayout layout;
    private final float[][] arrays;
    private final FloatBuffer[] buffers;
    private final int[] offsets;

    public HostTensors(ParamLayout layout) {
        this.layout = layout;
        int n = layout.size();
        this.arrays = new float[n][];
        this.buffers = new FloatBuffer[n];
        this.offsets = new int[n];
    }

    /** One flat array holding every segment at its layout offset. */
    public void bindFlat(float[] flat) {
        for (int i = 0; i < arrays.length; i++) set(i, flat, null, (int) layout.offset(i));
    }

    /** One flat buffer holding every segment at its layout offset, counted from its position. */
    public void bindFlat(FloatBuffer flat) {
        for (int i = 0; i < arrays.length; i++) bind(i, flat, flat.position() + (int) layout.offset(i));
    }

    /** One array per segment, in layout order. */
    public void bindArrays(List<float[]> tensors) {
        for (int i = 0; i < arrays.length; i++) set(i, tensors.get(i), null, 0);
    }

    /** One buffer per segment, in layout order, each counted from its position. */
    public void bindBuffers(List<FloatBuffer> tensors) {
        for (int i = 0; i < arrays.length; i++) {
            FloatBuffer b = tensors.get(i);
            bind(i, b, b.position());
        }
    }

    private void bind(int i, FloatBuffer b, int index) {
        if (b.hasArray()) {
            set(i, b.array(), null, b.arrayOffset() + index);
        } else {
            set(i, null, b, index);
        }
    }

    private void set(int i, float[] a, FloatBuffer b, int off) {
        arrays[i] = a;
        buffers[i] = b;
        offsets[i] = off;
    }

    /** Drops every reference so that the plan does not keep the caller's memory alive. */
    public void clear() {
        java.util.Arrays.fill(arrays, null);
        java.util.Arrays.fill(buffers, null);
    }

    /** The array holding segment {@code i}, or null when it lives in a direct buffer. */
    public float[] array(int i) { return arrays[i]; }

    /** The direct buffer holding segment {@code i}, or null when it lives in an array. */
    public FloatBuffer buffer(int i) { return buffers[i]; }

    /** Index of segment {@code i}'s first element in {@link #array} or {@link #buffer}. */
    public int offset(int i) { return offsets[i]; }
}

package org.lars4j.engine;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.List;
import org.lars4j.layout.ParamLayout;

/**
 * Where each segment's host data lives for one step: a {@code float[]}, a {@link FloatBuffer}
 * (direct; heap buffers are unwrapped to their array) or a {@link ByteBuffer} of float32 values
 * in the buffer's byte order, each with the element index of the segment's first value (for a
 * byte buffer, its byte index is 4 times that). One instance per role is made at plan time and
 * re-bound every step, so binding allocates nothing. Binding does not validate: the optimizer
 * validates first (a byte buffer's position must be a multiple of 4).
 *
 * <p>Why byte buffers: JDK 17's Vector API loads from a {@code ByteBuffer} but not from a
 * {@code FloatBuffer}, and a direct {@code FloatBuffer} does not give its byte buffer back; so
 * the Java engine reads and writes byte buffers in place, and copies a direct float buffer tile by
 * tile into an array (engine/cpu's {@code TileTraversal}).
 */
public final class HostTensors {
    private final ParamLayout layout;
    private final float[][] arrays;
    private final FloatBuffer[] floatBuffers;
    private final ByteBuffer[] byteBuffers;
    private final int[] offsets;

    public HostTensors(ParamLayout layout) {
        this.layout = layout;
        int n = layout.size();
        this.arrays = new float[n][];
        this.floatBuffers = new FloatBuffer[n];
        this.byteBuffers = new ByteBuffer[n];
        this.offsets = new int[n];
    }

    /** One flat array holding every segment at its layout offset. */
    public void bindFlat(float[] flat) {
        for (int i = 0; i < arrays.length; i++) set(i, flat, null, null, (int) layout.offset(i));
    }

    /** One flat buffer holding every segment at its layout offset, counted from its position. */
    public void bindFlat(FloatBuffer flat) {
        for (int i = 0; i < arrays.length; i++) bind(i, flat, flat.position() + (int) layout.offset(i));
    }

    /** One flat byte buffer of float32 holding every segment at its layout offset, from its position. */
    public void bindFlat(ByteBuffer flat) {
        int first = flat.position() / Float.BYTES;
        for (int i = 0; i < arrays.length; i++) set(i, null, null, flat, first + (int) layout.offset(i));
    }

    /** One array per segment, in layout order. */
    public void bindArrays(List<float[]> tensors) {
        for (int i = 0; i < arrays.length; i++) set(i, tensors.get(i), null, null, 0);
    }

    /** One buffer per segment, in layout order, each counted from its position. */
    public void bindBuffers(List<FloatBuffer> tensors) {
        for (int i = 0; i < arrays.length; i++) {
            FloatBuffer b = tensors.get(i);
            bind(i, b, b.position());
        }
    }

    /** One byte buffer of float32 per segment, in layout order, each from its position. */
    public void bindByteBuffers(List<ByteBuffer> tensors) {
        for (int i = 0; i < arrays.length; i++) {
            ByteBuffer b = tensors.get(i);
            set(i, null, null, b, b.position() / Float.BYTES);
        }
    }

    private void bind(int i, FloatBuffer b, int index) {
        if (b.hasArray()) {
            set(i, b.array(), null, null, b.arrayOffset() + index);
        } else {
            set(i, null, b, null, index);
        }
    }

    private void set(int i, float[] a, FloatBuffer fb, ByteBuffer bb, int off) {
        arrays[i] = a;
        floatBuffers[i] = fb;
        byteBuffers[i] = bb;
        offsets[i] = off;
    }

    /** Drops every reference so that the plan does not keep the caller's memory alive. */
    public void clear() {
        java.util.Arrays.fill(arrays, null);
        java.util.Arrays.fill(floatBuffers, null);
        java.util.Arrays.fill(byteBuffers, null);
    }

    /** The array holding segment {@code i}, or null when it lives in a buffer. */
    public float[] array(int i) { return arrays[i]; }

    /** The direct float buffer holding segment {@code i}, or null. */
    public FloatBuffer floatBuffer(int i) { return floatBuffers[i]; }

    /** The byte buffer holding segment {@code i} as float32 in its byte order, or null. */
    public ByteBuffer byteBuffer(int i) { return byteBuffers[i]; }

    /** Whichever of the three holds segment {@code i} (for identity checks). */
    public Object storage(int i) {
        return arrays[i] != null ? arrays[i] : floatBuffers[i] != null ? floatBuffers[i] : byteBuffers[i];
    }

    /**
     * Element index of segment {@code i}'s first value in its array or buffer (in a byte buffer,
     * at byte index {@code 4 * offset}).
     */
    public int offset(int i) { return offsets[i]; }

    /** Copies {@code n} values of segment {@code i} from element {@code from} on into {@code dst[at ..]}. */
    public void read(int i, int from, float[] dst, int at, int n) {
        int o = offsets[i] + from;
        if (arrays[i] != null) {
            System.arraycopy(arrays[i], o, dst, at, n);
        } else if (floatBuffers[i] != null) {
            floatBuffers[i].get(o, dst, at, n);
        } else {
            ByteBuffer b = byteBuffers[i];  // a byte buffer has no bulk get of floats
            for (int k = 0; k < n; k++) dst[at + k] = b.getFloat((o + k) * Float.BYTES);
        }
    }

    /** Copies {@code n} values from {@code src[at ..]} into segment {@code i} from element {@code from} on. */
    public void write(int i, int from, float[] src, int at, int n) {
        int o = offsets[i] + from;
        if (arrays[i] != null) {
            System.arraycopy(src, at, arrays[i], o, n);
        } else if (floatBuffers[i] != null) {
            floatBuffers[i].put(o, src, at, n);
        } else {
            ByteBuffer b = byteBuffers[i];
            for (int k = 0; k < n; k++) b.putFloat((o + k) * Float.BYTES, src[at + k]);
        }
    }
}

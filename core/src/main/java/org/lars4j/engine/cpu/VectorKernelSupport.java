package org.lars4j.engine.cpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * What the Vector API tile loops of every family share: the vector shape (8 float lanes, 256
 * bits), whether this JDK loads vectors from byte buffers, and the scalar element access of
 * their tails. Loaded only after {@link KernelProvider} has checked that the module
 * {@code jdk.incubator.vector} is in the boot layer.
 *
 * <p>Where w and g live: {@code x[i ..]} of an array, or (array null) the float32 values at byte
 * {@code 4 i} of a byte buffer in native byte order. One kernel body serves both: each load and
 * store picks its form with a test that is the same in every iteration, which C2 moves out of the
 * loop (loop unswitching), so each form runs a loop of its own: the array form as fast as the
 * array-only loops, also when both forms run in one JVM; the buffer form's update pass is slower,
 * in its vector stores (bench/RESULTS.md, the ND4J-memory section). Two rules keep the vectors in
 * registers (else each is boxed on the heap: measured, AllocationTest catches it):
 * <ul>
 * <li>the choice is written out at every vector load and store, not in a helper method: C2
 *     compiles a small hot helper on its own, and once that code is big it is no longer inlined
 *     ("already compiled into a big method"), so the vector it returns has to be an object;</li>
 * <li>native order only: on JDK 17 a byte-swapping load allocates (its shuffle is not
 *     intrinsified), so the plan copies buffers of the other order into arrays.</li>
 * </ul>
 */
final class VectorKernelSupport {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_256;
    static final int V = 8;
    static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private VectorKernelSupport() {}

    /** Null when usable; otherwise why not (the provider logs it). */
    static String unusableReason() {
        int bits = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        return bits < 256 ? "this CPU's widest float vectors are " + bits + " bits (the Vector API kernels need 256)" : null;
    }

    /**
     * Whether w and g may be native-order byte buffers, read and written in place: where the
     * JDK's Vector API has {@code FloatVector.fromByteBuffer} (JDK 17 to 19; from JDK 20 on it
     * loads from memory segments instead, so the plan copies byte buffers into arrays there).
     */
    static final boolean HAS_BYTE_BUFFER_LOADS = hasByteBufferLoads();

    private static boolean hasByteBufferLoads() {
        try {
            FloatVector.class.getMethod("fromByteBuffer", VectorSpecies.class, ByteBuffer.class, int.class, ByteOrder.class);
            FloatVector.class.getMethod("intoByteBuffer", ByteBuffer.class, int.class, ByteOrder.class);
            return true;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    static float get(float[] x, ByteBuffer xb, int i) {
        return x != null ? x[i] : xb.getFloat(i * Float.BYTES);
    }

    static void put(float[] x, ByteBuffer xb, int i, float value) {
        if (x != null) x[i] = value;
        else xb.putFloat(i * Float.BYTES, value);
    }
}

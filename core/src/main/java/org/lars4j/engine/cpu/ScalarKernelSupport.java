package org.lars4j.engine.cpu;

import java.nio.ByteBuffer;

/**
 * What every plain-Java kernel family shares ({@link ScalarSquaresKernels}, {@link ScalarLarsKernels},
 * {@link ScalarLambKernels}): its name in the plan's description, and that it reads arrays only
 * (the plan copies byte buffers into arrays for these loops).
 */
abstract class ScalarKernelSupport {
    public String name() {
        return "scalar kernels";
    }

    /** False: the plan copies byte buffers into arrays for these loops. */
    public boolean readsByteBuffers() {
        return false;
    }

    static void arraysOnly(ByteBuffer xb) {
        if (xb != null) throw new IllegalArgumentException("the scalar tile kernels read arrays only");
    }
}

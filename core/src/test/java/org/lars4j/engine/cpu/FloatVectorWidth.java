package org.lars4j.engine.cpu;

/** The CPU's preferred float vector width, for tests (loads the Vector API only when called). */
final class FloatVectorWidth {
    private FloatVectorWidth() {}

    static int bits() {
        return jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }
}

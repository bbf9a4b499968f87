package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Kernel variant (a) of issue 6: the LARS step as one cooperative launch (grid-wide barriers
 * between norms, scalars and update; system property {@code lars4j.cuda.cooperative}). The whole
 * conformance matrix again, on the emulator's cooperative launch (every block on its own OS
 * thread, a real grid barrier): the same bits as the Java engine.
 */
class EmulatedCooperativeConformanceTest extends EmulatedCudaConformanceTest {
    private static final String PROPERTY = "lars4j.cuda.cooperative";

    @BeforeAll
    static void cooperativeOn() { System.setProperty(PROPERTY, "true"); }

    @AfterAll
    static void cooperativeOff() { System.clearProperty(PROPERTY); }

    /** Proof that the matrix above ran the cooperative kernel, not the three launches. */
    @Test
    void theCooperativeKernelIsTheOneInUse() {
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(target()).build(boundaryLayout())) {
            // boundaryLayout has 14 tiles; the emulator's stand-in occupancy limit is 6 blocks.
            assertEquals("one cooperative launch of 6 blocks, float4 loads", opt.engineVariant());
        }
    }
}

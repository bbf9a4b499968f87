package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The cooperative step with the whole model as one group ({@code lars4j.cuda.groupElements=0}):
 * norms, a grid barrier, scalars, a grid barrier, update, in one launch. The whole conformance
 * matrix again, on the emulator's cooperative launch (every block on its own OS thread, a real
 * grid barrier): the same bits as the Java engine.
 */
class EmulatedCooperativeConformanceTest extends EmulatedCudaConformanceTest {
    private static final String PROPERTY = "lars4j.cuda.groupElements";

    @BeforeAll
    static void oneGroup() { System.setProperty(PROPERTY, "0"); }

    @AfterAll
    static void defaultGroups() { System.clearProperty(PROPERTY); }

    @Override
    void assertVariant(String variant) {
        // boundaryLayout has 14 tiles; the emulator's stand-in occupancy limit is 6 blocks.
        assertEquals("one cooperative launch of 6 blocks, one group, float4 loads", variant);
    }
}

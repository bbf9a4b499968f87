package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The three-launch step over the whole model ({@code lars4j.cuda.cooperative=false}; also what a
 * plan falls back to where the device refuses cooperative launches): blocks walk work items of
 * several small tiles and segment items of several segments. The whole matrix again.
 */
class EmulatedThreeLaunchConformanceTest extends EmulatedCudaConformanceTest {
    private static final String PROPERTY = "lars4j.cuda.cooperative";

    @BeforeAll
    static void threeLaunches() { System.setProperty(PROPERTY, "false"); }

    @AfterAll
    static void defaultStep() { System.clearProperty(PROPERTY); }

    @Override
    void assertVariant(String variant) {
        assertEquals("three launches, float4 loads", variant);
    }
}

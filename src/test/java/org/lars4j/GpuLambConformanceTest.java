package org.lars4j;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeEach;
import org.lars4j.engine.Engines;

/** The LAMB conformance matrix on a real GPU; skipped (with the reason) where CUDA cannot run. */
class GpuLambConformanceTest extends EmulatedLambConformanceTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() {
        String why = Engines.unavailableReason(Backend.CUDA);
        assumeTrue(why == null, "no GPU here: " + why);
    }
}

package org.lars4j;

import org.junit.jupiter.api.BeforeEach;

/** The LAMB conformance matrix on a real GPU; skipped (with the reason) where CUDA cannot run. */
class GpuLambConformanceTest extends EmulatedLambConformanceTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() { TestModels.assumeCudaDevice(); }
}

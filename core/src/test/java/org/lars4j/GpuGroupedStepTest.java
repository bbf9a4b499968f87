package org.lars4j;

import org.junit.jupiter.api.BeforeEach;

/** The grouped step's boundary cases on a real GPU; skipped where none is usable (every CI run). */
class GpuGroupedStepTest extends EmulatedGroupedStepTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    void targetPresent() { TestModels.assumeCudaDevice(); }
}

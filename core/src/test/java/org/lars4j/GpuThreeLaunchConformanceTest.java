package org.lars4j;

import org.junit.jupiter.api.BeforeEach;

/** The three-launch step's matrix on a real GPU; skipped where none is usable (every CI run). */
class GpuThreeLaunchConformanceTest extends EmulatedThreeLaunchConformanceTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() { TestModels.assumeCudaDevice(); }
}

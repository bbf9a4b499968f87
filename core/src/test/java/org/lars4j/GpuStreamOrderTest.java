package org.lars4j;

import org.junit.jupiter.api.BeforeEach;

/** The stream-ordering cases on a real GPU; skipped where none is usable (every CI run). */
class GpuStreamOrderTest extends EmulatedStreamOrderTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() { TestModels.assumeCudaDevice(); }
}

package org.lars4j;

import org.junit.jupiter.api.BeforeEach;

/** The NaN-payload cases on a real GPU; skipped where none is usable (every CI run). */
class GpuNanPayloadTest extends EmulatedNanPayloadTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() { TestModels.assumeCudaDevice(); }
}

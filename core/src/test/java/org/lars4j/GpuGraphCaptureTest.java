package org.lars4j;

import org.junit.jupiter.api.BeforeEach;

/** The graph-capture cases on a real GPU (a real capture and replays); skipped where none is usable (every CI run). */
class GpuGraphCaptureTest extends EmulatedGraphCaptureTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() { TestModels.assumeCudaDevice(); }
}

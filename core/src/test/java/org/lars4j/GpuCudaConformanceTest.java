package org.lars4j;

import org.junit.jupiter.api.BeforeEach;

/**
 * The emulator's conformance matrix on a real GPU: CUDA engine == Java engine, bit for bit.
 * Skipped (and reported as skipped, with the reason) where no CUDA device is usable, which is
 * every CI run; bench/gpu/run-gpu-checks.sh runs it on a lent GPU machine.
 */
class GpuCudaConformanceTest extends EmulatedCudaConformanceTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() { TestModels.assumeCudaDevice(); }
}

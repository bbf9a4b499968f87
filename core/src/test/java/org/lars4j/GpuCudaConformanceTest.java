package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;

/**
 * The emulator's conformance matrix on a real GPU: CUDA engine == Java engine, bit for bit.
 * Skipped (and reported as skipped, with the reason) where no CUDA device is usable, which is
 * every CI run; bench/gpu/run-gpu-session.sh runs it on a lent GPU machine.
 */
class GpuCudaConformanceTest extends EmulatedCudaConformanceTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() { TestModels.assumeCudaDevice(); }

    /** The default on a GPU: the grouped step (how many groups depends on the device's L2). */
    @Override
    void assertVariant(String variant) {
        assertTrue(variant.startsWith("one cooperative launch of ") && variant.contains("group"), variant);
    }
}

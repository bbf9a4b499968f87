package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;

/** The one-group cooperative step's matrix on a real GPU; skipped where none is usable (every CI run). */
class GpuCooperativeConformanceTest extends EmulatedCooperativeConformanceTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() { TestModels.assumeCudaDevice(); }

    @Override
    void assertVariant(String variant) {
        assertTrue(variant.startsWith("one cooperative launch of ") && variant.contains("one group"), variant);
    }
}

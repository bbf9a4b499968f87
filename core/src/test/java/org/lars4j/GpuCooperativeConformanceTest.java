package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The cooperative variant's matrix on a real GPU; skipped where none is usable (every CI run). */
class GpuCooperativeConformanceTest extends EmulatedCooperativeConformanceTest {
    @Override
    Backend target() { return Backend.CUDA; }

    @BeforeEach
    @Override
    void targetPresent() { TestModels.assumeCudaDevice(); }

    @Test
    @Override
    void theCooperativeKernelIsTheOneInUse() {
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(target()).build(boundaryLayout())) {
            assertTrue(opt.engineVariant().startsWith("one cooperative launch of "), opt.engineVariant());
        }
    }
}

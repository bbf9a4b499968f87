package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The Java engine's two tile-kernel implementations (Vector API and scalar, property
 * {@code lars4j.cpu.kernels}) give the same bits for whole optimizer runs: every LARS preset,
 * skipped steps, weights written from outside, other memory (CarryWeightNormsTest's scenario).
 */
class KernelChoiceTest {
    private static List<int[]> withKernels(String kernels, LarsPreset preset, boolean carry) {
        System.setProperty("lars4j.cpu.kernels", kernels);
        try {
            return CarryWeightNormsTest.scenario(preset, Backend.CPU, carry, true);
        } finally {
            System.clearProperty("lars4j.cpu.kernels");
        }
    }

    @ParameterizedTest
    @EnumSource(LarsPreset.class)
    void scalarAndVectorKernelsGiveTheSameBits(LarsPreset preset) {
        try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(0.1).backend(Backend.CPU).build(CarryWeightNormsTest.layout())) {
            assertTrue(opt.engineVariant().contains("kernels"), opt.engineVariant());
        }
        for (boolean carry : new boolean[] {false, true}) {
            CarryWeightNormsTest.assertSame(withKernels("scalar", preset, carry), withKernels("auto", preset, carry),
                    preset + (carry ? " carry" : ""));
        }
    }
}

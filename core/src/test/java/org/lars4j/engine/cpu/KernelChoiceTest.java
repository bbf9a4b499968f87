package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.lars4j.Backend;
import org.lars4j.engine.CarryWeightNormsTest;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lamb.LambTest;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.testing.TestModels;

/**
 * The Java engine's two tile-kernel implementations (Vector API and scalar, property
 * {@code lars4j.cpu.kernels}) give the same bits for whole optimizer runs: every LARS preset,
 * skipped steps, weights written from outside, other memory (CarryWeightNormsTest's scenario);
 * every LAMB preset over a few steps, one of them skipped.
 */
class KernelChoiceTest {
    private static List<int[]> withKernels(String kernels, LarsPreset preset, boolean carry) {
        return BlockedPassesTest.withProperty("lars4j.cpu.kernels", kernels,
                () -> CarryWeightNormsTest.scenario(preset, Backend.CPU, carry, true));
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

    private static List<int[]> lambRun(String kernels, LambPreset preset) {
        return BlockedPassesTest.withProperty("lars4j.cpu.kernels", kernels, () -> {
            ParamLayout layout = CarryWeightNormsTest.layout();
            float[][] w = TestModels.gaussian(layout, 3, 0.5);
            try (LayerwiseOptimizer opt = LambTest.builder(preset).learningRate(1e-3).weightDecay(0.01)
                    .backend(Backend.CPU).threads(2).build(layout)) {
                // Eight calls, one skipped: rectified LAMB (RANGER_LARS) reaches its rectified phase at t = 6.
                for (int s = 0; s < 8; s++) {
                    float[][] g = TestModels.gaussian(layout, 20 + s, 0.01);
                    if (s == 1) g[1][7] = Float.POSITIVE_INFINITY;   // a skipped step
                    opt.step(Arrays.asList(w), Arrays.asList(g));
                }
                return BlockedPassesTest.lambRecords(opt, w);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(LambPreset.class)
    void lambGivesTheSameBitsWithEitherKernels(LambPreset preset) {
        CarryWeightNormsTest.assertSame(lambRun("scalar", preset), lambRun("auto", preset), "LAMB " + preset);
    }
}

package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.engine.cuda.CudaEmulatorEngine.Schedule;
import org.lars4j.engine.cuda.CudaEmulatorEngine;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.lamb.LambPreset;

/** LAMB's CUDA kernels on the SIMT emulator == the Java engine, bit for bit: presets, options, layouts, schedules. */
class EmulatedLambConformanceTest {

    Backend target() { return Backend.CUDA_EMULATOR; }

    @BeforeEach
    void targetPresent() {
        assertNull(Engines.unavailableReason(Backend.CUDA_EMULATOR), "the cuda-emulator engine must build and load in CI");
    }

    @AfterAll
    static void restoreSchedule() {
        CudaEmulatorEngine.setSchedule(Schedule.FORWARD, 1);
    }

    static Stream<Arguments> presetsAndOptions() {
        List<Arguments> out = new ArrayList<>();
        List<UnaryOperator<Lamb.Builder>> options = List.of(
                b -> b,
                b -> b.biasCorrection(false).gradAveraging(false),
                b -> b.adamWMode(false).trustClip(true),
                b -> b.phiClamp(0.5, 3.0).maxGradNorm(0.05),
                b -> b.nonFinitePolicy(NonFinitePolicy.PROPAGATE));
        for (LambPreset p : LambPreset.values()) {
            for (int i = 0; i < options.size(); i++) out.add(Arguments.of(p, i, options.get(i)));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} option {1}")
    @MethodSource("presetsAndOptions")
    void boundaryLayoutEveryPresetAndOption(LambPreset preset, int index, UnaryOperator<Lamb.Builder> option) {
        ParamLayout layout = EmulatedCudaConformanceTest.boundaryLayout();
        Schedule s = Schedule.values()[(preset.ordinal() + index) % 3];
        CudaEmulatorEngine.setSchedule(s, index + 3);
        EmulatedCudaConformanceTest.assertSameBits(LambTest.runBits(Backend.CPU, preset, layout, 3, option),
                LambTest.runBits(target(), preset, layout, 3, option), preset + " option " + index + " schedule " + s);
    }

    @Test
    void manyTinySegments() {
        ParamLayout layout = EmulatedCudaConformanceTest.manyTinySegments();
        CudaEmulatorEngine.setSchedule(Schedule.SHUFFLED, 9);
        EmulatedCudaConformanceTest.assertSameBits(LambTest.runBits(Backend.CPU, LambPreset.APEX, layout, 2, b -> b),
                LambTest.runBits(target(), LambPreset.APEX, layout, 2, b -> b), "apex, 300 tiny segments");
    }
}

package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.lars4j.engine.CarryWeightNormsTest.assertSame;
import static org.lars4j.engine.CarryWeightNormsTest.scenario;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.lars4j.Backend;
import org.lars4j.rule.lars.LarsPreset;

/**
 * Carried weight norms on the CUDA kernels (emulator): the same bits as the Java engine without
 * them, across a skipped step; and the stale norm in use when a change is not declared, which
 * proves the carry is active. The scenario is lars4j-core's CarryWeightNormsTest.
 */
class CarriedNormsOnNativeEnginesTest {

    @ParameterizedTest
    @EnumSource(value = LarsPreset.class, names = {"PAPER", "TIMM", "LARC_CLIP", "OPTAX", "MLPERF"})
    void carriedNormsGiveTheJavaEnginesBits(LarsPreset preset) {
        List<int[]> plain = scenario(preset, Backend.CPU, false, true);
        assertSame(plain, scenario(preset, Backend.CUDA_EMULATOR, true, true), preset + " cuda-emulator, carry");
        assertSame(plain, scenario(preset, Backend.CUDA_EMULATOR, false, true), preset + " cuda-emulator");
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"CUDA_EMULATOR"})
    void undeclaredChangesUseTheStaleNorm(Backend backend) {
        List<int[]> plain = scenario(LarsPreset.PAPER, Backend.CPU, false, false);
        List<int[]> stale = scenario(LarsPreset.PAPER, backend, true, false);
        boolean differ = false;
        for (int i = 0; i < plain.size(); i++) differ |= !Arrays.equals(plain.get(i), stale.get(i));
        assertFalse(!differ, "a weight changed without weightsChanged() must leave the stale norm in use");
    }
}

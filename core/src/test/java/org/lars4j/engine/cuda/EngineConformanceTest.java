package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.TestModels.Form;
import org.lars4j.TestModels.Tensors;
import org.lars4j.engine.cuda.CudaEmulatorEngine.Schedule;
import org.lars4j.engine.cuda.CudaEmulatorEngine;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;
import org.lars4j.schedule.LrSchedule;

/**
 * The CUDA kernels, run on the SIMT emulator, give bitwise the Java engine's weights, momentum,
 * norms and trust ratios: every preset, nesterov on/off, tile boundaries, length-1 segments,
 * ragged tails, many tiny segments, one long segment, under three fiber schedules. This class
 * runs the default step (the grouped step; the emulated L2 of 128 KiB cuts the boundary layout
 * into 4 groups); subclasses run the one-group cooperative step and the three launches.
 */
class EmulatedCudaConformanceTest {

    /** The engine held to the Java engine's bits; {@link GpuCudaConformanceTest} runs the same matrix on a GPU. */
    Backend target() { return Backend.CUDA_EMULATOR; }

    @BeforeEach
    void targetPresent() {
        assertNull(Engines.unavailableReason(Backend.CUDA_EMULATOR), "the cuda-emulator engine must build and load in CI");
    }

    @AfterAll
    static void restoreSchedule() {
        CudaEmulatorEngine.setSchedule(Schedule.FORWARD, 1);
    }

    /** Proof of which step the matrix ran (the variant reported by the plan). */
    @Test
    void theStepInUse() {
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(target()).build(boundaryLayout())) {
            assertVariant(opt.engineVariant());
        }
    }

    /** The default: the grouped step; 14 tiles, 8192-element groups: {1, 4095, 64x64}, {4097}, {long}, {17, 1}. */
    void assertVariant(String variant) {
        assertEquals("one cooperative launch of 6 blocks, 4 groups of up to 8192 elements, float4 loads", variant);
    }

    static ParamLayout boundaryLayout() {
        return ParamLayout.builder()
                .add("len1", 1)
                .add("len4095.weight", 4095, 1)
                .add("len4096.weight", 64, 64)
                .add("len4097.weight", 4097, 1)
                .add("long.weight", 6 * 4096 + 123, 1)   // seven tiles, ragged tail
                .add("bias", 17)
                .add("scalar")
                .excludeFromWeightDecay("bias")
                .build();
    }

    static ParamLayout manyTinySegments() {
        ParamLayout.Builder b = ParamLayout.builder();
        for (int i = 0; i < 300; i++) b.add("t" + i + (i % 3 == 0 ? ".bias" : ".weight"), 1 + (i * 7) % 50, 1);
        return b.excludeFromWeightDecay("bias").build();
    }

    /** Bits of weights, momentum, norms and ratios after {@code steps} steps on {@code backend}. */
    static List<long[]> run(Backend backend, LarsPreset preset, boolean nesterov, ParamLayout layout, Form form,
                            int steps, UnaryOperator<Lars.Builder> extra) {
        LrSchedule lr = LrSchedule.linearWarmup(1.5, 2).then(2, LrSchedule.cosine(1.5, 0.1, 5));
        Lars.Builder b = Lars.builder(preset).learningRate(lr).weightDecay(0.02).nesterov(nesterov)
                .momentumCorrection(preset == LarsPreset.MLPERF).backend(backend).threads(2);
        List<long[]> out = new ArrayList<>();
        try (LayerwiseOptimizer opt = extra.apply(b).build(layout)) {
            assertEquals(backend.cliName(), opt.engineName());
            Tensors p = new Tensors(form, layout, TestModels.gaussian(layout, 3, 0.5));
            for (int s = 0; s < steps; s++) {
                Tensors g = new Tensors(form, layout, TestModels.gaussian(layout, 40 + s, 0.01));
                TestModels.step(opt, p, g);
                long[] diag = new long[3 * layout.size()];
                for (int i = 0; i < layout.size(); i++) {
                    diag[3 * i] = Double.doubleToLongBits(opt.lastWeightNorm(i));
                    diag[3 * i + 1] = Double.doubleToLongBits(opt.lastGradNorm(i));
                    diag[3 * i + 2] = Double.doubleToLongBits(opt.lastTrustRatio(i));
                }
                out.add(diag);
            }
            float[][] w = p.segments();
            for (int i = 0; i < layout.size(); i++) {
                float[] v = new float[w[i].length];
                opt.readState("momentum_buffer", i, v);
                out.add(bits(w[i]));
                out.add(bits(v));
            }
            out.add(new long[] {opt.stepCount(), opt.skippedSteps()});
        }
        return out;
    }

    static long[] bits(float[] x) {
        long[] b = new long[x.length];
        for (int i = 0; i < x.length; i++) b[i] = Float.floatToRawIntBits(x[i]);
        return b;
    }

    static void assertSameBits(List<long[]> expected, List<long[]> actual, String what) {
        assertEquals(expected.size(), actual.size(), what);
        for (int i = 0; i < expected.size(); i++) assertArrayEquals(expected.get(i), actual.get(i), what + ", record " + i);
    }

    static Stream<Arguments> presetsNesterov() {
        List<Arguments> out = new ArrayList<>();
        for (LarsPreset p : LarsPreset.values()) {
            out.add(Arguments.of(p, false));
            out.add(Arguments.of(p, true));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} nesterov={1}")
    @MethodSource("presetsNesterov")
    void tileBoundariesEveryPreset(LarsPreset preset, boolean nesterov) {
        ParamLayout layout = boundaryLayout();
        List<long[]> cpu = run(Backend.CPU, preset, nesterov, layout, Form.FLAT_ARRAY, 3, b -> b);
        Schedule s = Schedule.values()[(preset.ordinal() + (nesterov ? 1 : 0)) % 3];
        CudaEmulatorEngine.setSchedule(s, preset.ordinal() + 1);
        assertSameBits(cpu, run(target(), preset, nesterov, layout, Form.FLAT_ARRAY, 3, b -> b),
                preset + " nesterov=" + nesterov + " schedule " + s);
    }

    @Test
    void manyTinySegmentsEverySchedule() {
        ParamLayout layout = manyTinySegments();
        for (LarsPreset preset : new LarsPreset[] {LarsPreset.OPTAX, LarsPreset.TIMM}) {
            List<long[]> cpu = run(Backend.CPU, preset, false, layout, Form.LIST_ARRAYS, 2, b -> b);
            for (Schedule s : Schedule.values()) {
                CudaEmulatorEngine.setSchedule(s, 11);
                assertSameBits(cpu, run(target(), preset, false, layout, Form.LIST_ARRAYS, 2, b -> b),
                        preset + " schedule " + s);
            }
        }
    }

    @Test
    void everyStorageFormAndOption() {
        ParamLayout layout = boundaryLayout();
        List<UnaryOperator<Lars.Builder>> options = List.of(
                b -> b.dampening(0.25).lrPlacement(LrPlacement.OUTSIDE),
                b -> b.normClamp(3.0).clip(true),
                b -> b.nonFinitePolicy(NonFinitePolicy.PROPAGATE),
                b -> b.trustRatioForm(TrustRatioForm.NORM_OF_SUM).eps(1e-3).momentum(0));
        CudaEmulatorEngine.setSchedule(Schedule.SHUFFLED, 5);
        for (Form form : Form.values()) {
            assertSameBits(run(Backend.CPU, LarsPreset.PAPER, false, layout, form, 2, b -> b),
                    run(target(), LarsPreset.PAPER, false, layout, form, 2, b -> b), "form " + form);
        }
        for (int i = 0; i < options.size(); i++) {
            assertSameBits(run(Backend.CPU, LarsPreset.TIMM, false, layout, Form.FLAT_DIRECT, 2, options.get(i)),
                    run(target(), LarsPreset.TIMM, false, layout, Form.FLAT_DIRECT, 2, options.get(i)), "option " + i);
        }
    }

    /** Zero norms, the LARC zero-norm quirk, -0.0, and a non-finite gradient: same bits, same skip. */
    @Test
    void edgeValues() {
        ParamLayout layout = ParamLayout.builder().add("zeroW", 5000).add("zeroG", 300).add("signs", 8).add("nan", 40).build();
        for (LarsPreset preset : new LarsPreset[] {LarsPreset.LARC_CLIP, LarsPreset.OPTAX, LarsPreset.TVLARS}) {
            List<float[][]> results = new ArrayList<>();
            for (Backend backend : new Backend[] {Backend.CPU, target()}) {
                try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(0.3).weightDecay(0.1).backend(backend).build(layout)) {
                    float[][] w = TestModels.gaussian(layout, 9, 0.5);
                    float[][] g = TestModels.gaussian(layout, 10, 0.01);
                    Arrays.fill(w[0], 0f);
                    Arrays.fill(g[1], 0f);
                    w[2] = new float[] {-0f, -0f, 0f, 0f, -0f, 1f, -1f, 0f};
                    g[2] = new float[] {0f, -0f, -0f, 0f, 0f, -0f, 0f, -0f};
                    assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                    float[][] bad = TestModels.copy(g);
                    bad[3][7] = Float.NaN;
                    float[][] before = TestModels.copy(w);
                    assertFalse(opt.step(Arrays.asList(w), Arrays.asList(bad)), backend + " must skip");
                    for (int i = 0; i < w.length; i++) assertArrayEquals(before[i], w[i]);
                    assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                    assertEquals(2, opt.stepCount());
                    assertEquals(1, opt.skippedSteps());
                    results.add(w);
                }
            }
            for (int i = 0; i < layout.size(); i++) {
                assertArrayEquals(bits(results.get(0)[i]), bits(results.get(1)[i]), preset + " " + layout.segment(i).name());
            }
        }
    }
}

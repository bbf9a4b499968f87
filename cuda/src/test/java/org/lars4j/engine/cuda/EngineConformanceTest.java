package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.provider.EnumSource;
import org.lars4j.Lamb;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lamb.LambTest;
import org.lars4j.testing.EngineUnderTest;
import org.lars4j.testing.TargetEngine;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cuda.CudaEmulatorEngine.Schedule;
import org.lars4j.engine.cuda.CudaEmulatorEngine;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.TestModels.Form;
import org.lars4j.testing.TestModels.Tensors;
import org.lars4j.testing.TestModels;

/**
 * The engine conformance suite: every CUDA step, on the SIMT emulator and on a GPU, gives
 * bitwise the Java engine's weights, state, norms and trust ratios. LARS: every preset, nesterov
 * on/off, tile boundaries, length-1 segments, ragged tails, many tiny segments, one long segment,
 * under three fiber schedules, for each {@link TargetEngine}: the default grouped step (the
 * emulated L2 of 128 KiB cuts the boundary layout into 4 groups), the cooperative step with the
 * whole model as one group ({@code lars4j.cuda.groupElements=0}: norms, a grid barrier, scalars, a
 * grid barrier, update, in one launch; on the emulator every block on its own OS thread with a
 * real grid barrier), and the three launches ({@code lars4j.cuda.cooperative=false}, also what a
 * plan falls back to where the device refuses cooperative launches). LAMB: every preset and
 * option, on the default step. The GPU cases are skipped, with the reason, where no CUDA device
 * is usable (every CI run); bench/gpu/run-gpu-session.sh runs them on a lent GPU machine.
 */
@ExtendWith(EngineUnderTest.class)
class EngineConformanceTest {

    @AfterAll
    static void restoreSchedule() {
        CudaEmulatorEngine.setSchedule(Schedule.FORWARD, 1);
    }

    /** Proof of which step the matrix ran (the variant reported by the plan). */
    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void theStepInUse(TargetEngine engine) {
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(engine.backend()).build(boundaryLayout())) {
            assertVariant(engine, opt.engineVariant());
        }
    }

    /** The variant each target must report for {@link #boundaryLayout()}. */
    static void assertVariant(TargetEngine engine, String variant) {
        switch (engine) {
            // 14 tiles, 8192-element groups: {1, 4095, 64x64}, {4097}, {long}, {17, 1}
            case EMULATOR: assertEquals("one cooperative launch of 6 blocks, 4 groups of up to 8192 elements, float4 loads", variant); break;
            // boundaryLayout has 14 tiles; the emulator's stand-in occupancy limit is 6 blocks.
            case EMULATOR_ONE_GROUP: assertEquals("one cooperative launch of 6 blocks, one group, float4 loads", variant); break;
            case EMULATOR_THREE_LAUNCHES: case CUDA_THREE_LAUNCHES: assertEquals("three launches, float4 loads", variant); break;
            // The default on a GPU: the grouped step (how many groups depends on the device's L2).
            case CUDA: assertTrue(variant.startsWith("one cooperative launch of ") && variant.contains("group"), variant); break;
            case CUDA_ONE_GROUP: assertTrue(variant.startsWith("one cooperative launch of ") && variant.contains("one group"), variant); break;
            default: throw new AssertionError(engine);
        }
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
                out.add(TestModels.bits(w[i]));
                out.add(TestModels.bits(v));
            }
            out.add(new long[] {opt.stepCount(), opt.skippedSteps()});
        }
        return out;
    }

    static Stream<Arguments> presetsNesterov() {
        List<Arguments> out = new ArrayList<>();
        for (TargetEngine e : TargetEngine.values()) {
            for (LarsPreset p : LarsPreset.values()) {
                out.add(Arguments.of(e, p, false));
                out.add(Arguments.of(e, p, true));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: {1} nesterov={2}")
    @MethodSource("presetsNesterov")
    void tileBoundariesEveryPreset(TargetEngine engine, LarsPreset preset, boolean nesterov) {
        ParamLayout layout = boundaryLayout();
        List<long[]> cpu = run(Backend.CPU, preset, nesterov, layout, Form.FLAT_ARRAY, 3, b -> b);
        Schedule s = Schedule.values()[(preset.ordinal() + (nesterov ? 1 : 0)) % 3];
        CudaEmulatorEngine.setSchedule(s, preset.ordinal() + 1);
        TestModels.assertSameBits(cpu, run(engine.backend(), preset, nesterov, layout, Form.FLAT_ARRAY, 3, b -> b),
                preset + " nesterov=" + nesterov + " schedule " + s);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void manyTinySegmentsEverySchedule(TargetEngine engine) {
        ParamLayout layout = manyTinySegments();
        for (LarsPreset preset : new LarsPreset[] {LarsPreset.OPTAX, LarsPreset.TIMM}) {
            List<long[]> cpu = run(Backend.CPU, preset, false, layout, Form.LIST_ARRAYS, 2, b -> b);
            for (Schedule s : Schedule.values()) {
                CudaEmulatorEngine.setSchedule(s, 11);
                TestModels.assertSameBits(cpu, run(engine.backend(), preset, false, layout, Form.LIST_ARRAYS, 2, b -> b),
                        preset + " schedule " + s);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void everyStorageFormAndOption(TargetEngine engine) {
        ParamLayout layout = boundaryLayout();
        List<UnaryOperator<Lars.Builder>> options = List.of(
                b -> b.dampening(0.25).lrPlacement(LrPlacement.OUTSIDE),
                b -> b.normClamp(3.0).clip(true),
                b -> b.nonFinitePolicy(NonFinitePolicy.PROPAGATE),
                b -> b.trustRatioForm(TrustRatioForm.NORM_OF_SUM).eps(1e-3).momentum(0));
        CudaEmulatorEngine.setSchedule(Schedule.SHUFFLED, 5);
        for (Form form : Form.values()) {
            TestModels.assertSameBits(run(Backend.CPU, LarsPreset.PAPER, false, layout, form, 2, b -> b),
                    run(engine.backend(), LarsPreset.PAPER, false, layout, form, 2, b -> b), "form " + form);
        }
        for (int i = 0; i < options.size(); i++) {
            TestModels.assertSameBits(run(Backend.CPU, LarsPreset.TIMM, false, layout, Form.FLAT_DIRECT, 2, options.get(i)),
                    run(engine.backend(), LarsPreset.TIMM, false, layout, Form.FLAT_DIRECT, 2, options.get(i)), "option " + i);
        }
    }

    /** Zero norms, the LARC zero-norm quirk, -0.0, and a non-finite gradient: same bits, same skip. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void edgeValues(TargetEngine engine) {
        ParamLayout layout = ParamLayout.builder().add("zeroW", 5000).add("zeroG", 300).add("signs", 8).add("nan", 40).build();
        for (LarsPreset preset : new LarsPreset[] {LarsPreset.LARC_CLIP, LarsPreset.OPTAX, LarsPreset.TVLARS}) {
            List<float[][]> results = new ArrayList<>();
            for (Backend backend : new Backend[] {Backend.CPU, engine.backend()}) {
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
                assertArrayEquals(TestModels.bits(results.get(0)[i]), TestModels.bits(results.get(1)[i]), preset + " " + layout.segment(i).name());
            }
        }
    }

    static Stream<Arguments> lambPresetsAndOptions() {
        List<Arguments> out = new ArrayList<>();
        List<UnaryOperator<Lamb.Builder>> options = List.of(
                b -> b,
                b -> b.biasCorrection(false).gradAveraging(false),
                b -> b.adamWMode(false).trustClip(true),
                b -> b.phiClamp(0.5, 3.0).maxGradNorm(0.05),
                b -> b.nonFinitePolicy(NonFinitePolicy.PROPAGATE));
        for (TargetEngine e : lambEngines()) {
            for (LambPreset p : LambPreset.values()) {
                for (int i = 0; i < options.size(); i++) {
                    // Rectified LAMB (RANGER_LARS) refuses grad averaging off: not a step to compare.
                    if (!valid(p, options.get(i))) continue;
                    out.add(Arguments.of(e, p, i, options.get(i)));
                }
            }
        }
        return out.stream();
    }

    private static boolean valid(LambPreset p, UnaryOperator<Lamb.Builder> option) {
        try {
            option.apply(LambTest.builder(p).learningRate(1e-3)).config();
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * Rectified LAMB past its momentum-only phase (steps 1-5 with beta2 0.999, rectified from
     * step 6), with the options that meet its direction: bias correction off, L2 mode, the trust
     * clip, the global clip, another beta2, NaN propagation.
     */
    static Stream<Arguments> rectifiedLambOptions() {
        List<Arguments> out = new ArrayList<>();
        List<Arguments> cases = List.of(
                Arguments.of(LambPreset.PAPER, "rectify", (UnaryOperator<Lamb.Builder>) b -> b.rectify(true)),
                Arguments.of(LambPreset.RANGER_LARS, "preset", (UnaryOperator<Lamb.Builder>) b -> b),
                Arguments.of(LambPreset.RANGER_LARS, "noBiasCorrection.l2.trustClip",
                        (UnaryOperator<Lamb.Builder>) b -> b.biasCorrection(false).adamWMode(false).trustClip(true)),
                Arguments.of(LambPreset.RANGER_LARS, "maxGradNorm.beta2", (UnaryOperator<Lamb.Builder>) b -> b.maxGradNorm(0.05).beta2(0.99)),
                Arguments.of(LambPreset.OPTAX, "rectify.propagate",
                        (UnaryOperator<Lamb.Builder>) b -> b.rectify(true).nonFinitePolicy(NonFinitePolicy.PROPAGATE)));
        for (TargetEngine e : lambEngines()) {
            for (Arguments c : cases) {
                Object[] a = c.get();
                out.add(Arguments.of(e, a[0], a[1], a[2]));
            }
        }
        return out.stream();
    }

    /** Rectified LAMB on the boundary layout, eight steps across rho_t = 5, bit for bit (RANGER_LARS without its Lookahead). */
    @ParameterizedTest(name = "{0}: rectified lamb {1} {2}")
    @MethodSource("rectifiedLambOptions")
    void rectifiedLambAcrossRhoFive(TargetEngine engine, LambPreset preset, String what, UnaryOperator<Lamb.Builder> option) {
        ParamLayout layout = boundaryLayout();
        Schedule s = Schedule.values()[what.length() % 3];
        CudaEmulatorEngine.setSchedule(s, what.length());
        TestModels.assertSameBits(LambTest.runBits(Backend.CPU, preset, layout, 8, option),
                LambTest.runBits(engine.backend(), preset, layout, 8, option), preset + " " + what + " schedule " + s);
    }

    /** LAMB runs its default step; the group and launch variants are LARS's. */
    static TargetEngine[] lambEngines() { return TargetEngine.defaultSteps().toArray(TargetEngine[]::new); }

    /** LAMB on the boundary layout: every preset and option, bit for bit. */
    @ParameterizedTest(name = "{0}: lamb {1} option {2}")
    @MethodSource("lambPresetsAndOptions")
    void lambBoundaryLayoutEveryPresetAndOption(TargetEngine engine, LambPreset preset, int index, UnaryOperator<Lamb.Builder> option) {
        ParamLayout layout = boundaryLayout();
        Schedule s = Schedule.values()[(preset.ordinal() + index) % 3];
        CudaEmulatorEngine.setSchedule(s, index + 3);
        TestModels.assertSameBits(LambTest.runBits(Backend.CPU, preset, layout, 3, option),
                LambTest.runBits(engine.backend(), preset, layout, 3, option), preset + " option " + index + " schedule " + s);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lambEngines")
    void lambManyTinySegments(TargetEngine engine) {
        ParamLayout layout = manyTinySegments();
        CudaEmulatorEngine.setSchedule(Schedule.SHUFFLED, 9);
        TestModels.assertSameBits(LambTest.runBits(Backend.CPU, LambPreset.APEX, layout, 2, b -> b),
                LambTest.runBits(engine.backend(), LambPreset.APEX, layout, 2, b -> b), "apex, 300 tiny segments");
    }
}

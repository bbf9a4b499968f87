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
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cuda.CudaEmulatorEngine.Schedule;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lamb.LambTest;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.testing.EngineUnderTest;
import org.lars4j.testing.TargetEngine;
import org.lars4j.testing.TestModels;
import org.lars4j.testing.TestModels.Form;

/**
 * The global gradient clip stage on the native engines, bit for bit the Java engine's (which
 * GlobalGradientClipTest holds to the float64 reference): every LARS preset with the clip active
 * (with gradient centralization outside it, Lookahead, the trust ratio's u of g'), inactive, every
 * LAMB preset through the stage, zero and non-finite gradients under both policies, carried
 * weight norms across a skipped step, every storage form; on every {@link TargetEngine} (the
 * grouped step, one group, three launches; GPU cases skipped without one).
 */
@ExtendWith(EngineUnderTest.class)
class GlobalGradientClipConformanceTest {
    /** The conformance gradients' global norm on the boundary layout is about 2: active. */
    static final double ACTIVE = 0.05;

    @AfterAll
    static void restoreSchedule() {
        CudaEmulatorEngine.setSchedule(Schedule.FORWARD, 1);
    }

    static Stream<Arguments> enginesPresets() {
        List<Arguments> out = new ArrayList<>();
        for (TargetEngine e : TargetEngine.values()) {
            for (LarsPreset p : LarsPreset.values()) out.add(Arguments.of(e, p));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("enginesPresets")
    void everyLarsPresetWithAnActiveClipGivesTheJavaEnginesBits(TargetEngine engine, LarsPreset preset) {
        ParamLayout layout = EngineConformanceTest.boundaryLayout();
        Form form = Form.values()[preset.ordinal() % Form.values().length];
        CudaEmulatorEngine.setSchedule(Schedule.values()[preset.ordinal() % 3], preset.ordinal() + 11);
        // Every other preset with centralization (outside the clip) and Lookahead as well.
        UnaryOperator<Lars.Builder> stages = preset.ordinal() % 2 == 0
                ? b -> b.gradientClip(ACTIVE).gradientCentralization(false).lookahead(2, 0.5) : b -> b.gradientClip(ACTIVE);
        TestModels.assertSameBits(
                EngineConformanceTest.run(Backend.CPU, preset, preset == LarsPreset.PAPER, layout, form, 3, stages),
                EngineConformanceTest.run(engine.backend(), preset, preset == LarsPreset.PAPER, layout, form, 3, stages),
                preset + " " + form);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void anInactiveClipAndThePropagatePolicyGiveTheJavaEnginesBits(TargetEngine engine) {
        ParamLayout layout = EngineConformanceTest.boundaryLayout();
        CudaEmulatorEngine.setSchedule(Schedule.SHUFFLED, 5);
        for (UnaryOperator<Lars.Builder> stages : List.<UnaryOperator<Lars.Builder>>of(
                b -> b.gradientClip(1e6),
                b -> b.gradientClip(ACTIVE).nonFinitePolicy(NonFinitePolicy.PROPAGATE),
                b -> b.gradientClip(ACTIVE).carryWeightNorms(true))) {
            TestModels.assertSameBits(
                    EngineConformanceTest.run(Backend.CPU, LarsPreset.OPTAX, false, layout, Form.LIST_ARRAYS, 3, stages),
                    EngineConformanceTest.run(engine.backend(), LarsPreset.OPTAX, false, layout, Form.LIST_ARRAYS, 3, stages),
                    "optax");
        }
    }

    static Stream<Arguments> lambEnginesPresets() {
        List<Arguments> out = new ArrayList<>();
        for (TargetEngine e : EngineConformanceTest.lambEngines()) {
            for (LambPreset p : LambPreset.values()) out.add(Arguments.of(e, p));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: lamb {1}")
    @MethodSource("lambEnginesPresets")
    void everyLambPresetThroughTheStageGivesTheJavaEnginesBits(TargetEngine engine, LambPreset preset) {
        ParamLayout layout = EngineConformanceTest.boundaryLayout();
        CudaEmulatorEngine.setSchedule(Schedule.values()[preset.ordinal() % 3], 9);
        TestModels.assertSameBits(LambTest.runBits(Backend.CPU, preset, layout, 3, b -> b.gradientClip(ACTIVE)),
                LambTest.runBits(engine.backend(), preset, layout, 3, b -> b.gradientClip(ACTIVE)), preset.toString());
    }

    /**
     * Zero gradients (factor 1), then a NaN in a segment no LARS preset adapts (the bias, still in the
     * global norm) under SKIP_STEP: the same skip and nothing written; then carried weight norms
     * after the skipped step: the same bits on both engines.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void zeroAndNonFiniteGradients(TargetEngine engine) {
        ParamLayout layout = EngineConformanceTest.boundaryLayout();
        int bias = layout.indexOf("bias");
        for (boolean lamb : new boolean[] {false, true}) {
            if (lamb && !engine.isDefaultStep()) continue;
            List<float[][]> results = new ArrayList<>();
            for (Backend backend : new Backend[] {Backend.CPU, engine.backend()}) {
                try (LayerwiseOptimizer opt = lamb
                        ? Lamb.builder(LambPreset.OPTAX).learningRate(0.01).weightDecay(0.01).gradientClip(ACTIVE).backend(backend).build(layout)
                        : Lars.builder(LarsPreset.TIMM).learningRate(0.3).weightDecay(0.1).gradientClip(ACTIVE).carryWeightNorms(true)
                                .backend(backend).build(layout)) {
                    float[][] w = TestModels.gaussian(layout, 9, 0.5);
                    float[][] zero = TestModels.gaussian(layout, 10, 0.0);
                    assertTrue(opt.step(Arrays.asList(w), Arrays.asList(zero)));
                    float[][] bad = TestModels.gaussian(layout, 11, 0.01);
                    bad[bias][3] = Float.NaN;
                    float[][] before = TestModels.copy(w);
                    assertFalse(opt.step(Arrays.asList(w), Arrays.asList(bad)), backend + " must skip");
                    for (int i = 0; i < w.length; i++) assertArrayEquals(before[i], w[i]);
                    assertTrue(opt.step(Arrays.asList(w), Arrays.asList(TestModels.gaussian(layout, 12, 0.01))));
                    assertEquals(1, opt.skippedSteps());
                    results.add(w);
                }
            }
            for (int i = 0; i < results.get(0).length; i++) {
                assertArrayEquals(TestModels.bits(results.get(0)[i]), TestModels.bits(results.get(1)[i]), (lamb ? "lamb" : "lars") + " segment " + i);
            }
        }
    }
}

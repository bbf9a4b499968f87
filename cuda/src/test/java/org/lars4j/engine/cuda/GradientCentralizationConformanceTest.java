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
 * Gradient centralization on the native engines, bit for bit the Java engine's (which
 * GradientCentralizationTest holds to the float64 reference): every LARS preset and LAMB preset,
 * convOnly, output axis 0 and 1, rows longer than a tile and shorter than a warp, rows ending on
 * tile boundaries, flat and list forms, zero and non-finite gradients under SKIP_STEP, on every
 * {@link TargetEngine} (the grouped step, one group, three launches; GPU cases skipped without one).
 */
@ExtendWith(EngineUnderTest.class)
class GradientCentralizationConformanceTest {

    @AfterAll
    static void restoreSchedule() {
        CudaEmulatorEngine.setSchedule(Schedule.FORWARD, 1);
    }

    /** The Java engine's test layout of centring cases ({@code GradientCentralizationTest.layout()}). */
    static ParamLayout layout() {
        return ParamLayout.builder()
                .add("conv.weight", 8, 3, 3, 3)
                .add("short.weight", 16, 7)              // rows of 7: shorter than a warp
                .add("long.weight", 3, 5000)             // rows longer than a tile
                .add("onerow.weight", 1, 4097)           // one row over two tiles
                .add("edge.weight", 2, 4096)             // rows end on the tile boundary
                .add("axis1.weight", 5, 6, 7)            // output axis 1: rows interleave
                .add("axis1long.weight", 700, 7)         // axis 1 over two tiles
                .add("bias", 16)
                .add("scale")
                .outputAxis("axis1.weight", 1)
                .outputAxis("axis1long.weight", 1)
                .excludeFromWeightDecay("bias")
                .build();
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
    void everyLarsPresetWithCentralizationGivesTheJavaEnginesBits(TargetEngine engine, LarsPreset preset) {
        ParamLayout layout = layout();
        boolean convOnly = preset.ordinal() % 2 == 1;
        Form form = preset.ordinal() % 3 == 0 ? Form.FLAT_ARRAY : Form.LIST_ARRAYS;
        CudaEmulatorEngine.setSchedule(Schedule.values()[preset.ordinal() % 3], preset.ordinal() + 7);
        // Every other preset with Lookahead too: a gradient stage and a weight stage in one step.
        UnaryOperator<Lars.Builder> stages = preset.ordinal() % 2 == 0
                ? b -> b.gradientCentralization(convOnly).lookahead(2, 0.5) : b -> b.gradientCentralization(convOnly);
        TestModels.assertSameBits(
                EngineConformanceTest.run(Backend.CPU, preset, false, layout, form, 3, stages),
                EngineConformanceTest.run(engine.backend(), preset, false, layout, form, 3, stages),
                preset + " convOnly=" + convOnly + " " + form);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void centralizationOnTheBoundaryLayoutAndEveryForm(TargetEngine engine) {
        ParamLayout layout = EngineConformanceTest.boundaryLayout();
        CudaEmulatorEngine.setSchedule(Schedule.SHUFFLED, 3);
        for (Form form : Form.values()) {
            TestModels.assertSameBits(
                    EngineConformanceTest.run(Backend.CPU, LarsPreset.OPTAX, true, layout, form, 2, b -> b.gradientCentralization(false)),
                    EngineConformanceTest.run(engine.backend(), LarsPreset.OPTAX, true, layout, form, 2, b -> b.gradientCentralization(false)),
                    "form " + form);
        }
        TestModels.assertSameBits(
                EngineConformanceTest.run(Backend.CPU, LarsPreset.TIMM, false, layout, Form.FLAT_DIRECT, 2,
                        b -> b.gradientCentralization(false).nonFinitePolicy(NonFinitePolicy.PROPAGATE)),
                EngineConformanceTest.run(engine.backend(), LarsPreset.TIMM, false, layout, Form.FLAT_DIRECT, 2,
                        b -> b.gradientCentralization(false).nonFinitePolicy(NonFinitePolicy.PROPAGATE)),
                "propagate");
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
    void lambWithCentralizationGivesTheJavaEnginesBits(TargetEngine engine, LambPreset preset) {
        ParamLayout layout = layout();
        boolean convOnly = preset == LambPreset.OPTAX;
        CudaEmulatorEngine.setSchedule(Schedule.values()[preset.ordinal() % 3], 5);
        TestModels.assertSameBits(LambTest.runBits(Backend.CPU, preset, layout, 3, b -> b.gradientCentralization(convOnly).maxGradNorm(0.05)),
                LambTest.runBits(engine.backend(), preset, layout, 3, b -> b.gradientCentralization(convOnly).maxGradNorm(0.05)),
                preset + " convOnly=" + convOnly);
    }

    /** Zero gradients, then a NaN in a centred row under SKIP_STEP: the same bits, the same skip, on both engines. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void zeroAndNonFiniteGradients(TargetEngine engine) {
        ParamLayout layout = layout();
        for (boolean lamb : new boolean[] {false, true}) {
            if (lamb && !engine.isDefaultStep()) continue;
            List<float[][]> results = new ArrayList<>();
            for (Backend backend : new Backend[] {Backend.CPU, engine.backend()}) {
                try (LayerwiseOptimizer opt = lamb
                        ? Lamb.builder(LambPreset.PAPER).learningRate(0.01).weightDecay(0.01).gradientCentralization(false).backend(backend).build(layout)
                        : Lars.builder(LarsPreset.LARC_CLIP).learningRate(0.3).weightDecay(0.1).gradientCentralization(false).backend(backend)
                                .build(layout)) {
                    float[][] w = TestModels.gaussian(layout, 9, 0.5);
                    float[][] g = TestModels.gaussian(layout, 10, 0.01);
                    Arrays.fill(g[1], 0f);
                    assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                    float[][] bad = TestModels.copy(g);
                    bad[5][100] = Float.NaN;   // axis1.weight: a row that interleaves with the others
                    float[][] before = TestModels.copy(w);
                    assertFalse(opt.step(Arrays.asList(w), Arrays.asList(bad)), backend + " must skip");
                    for (int i = 0; i < w.length; i++) assertArrayEquals(before[i], w[i]);
                    bad = TestModels.copy(g);
                    bad[2][12000] = Float.POSITIVE_INFINITY;   // long.weight, third row, third tile
                    assertFalse(opt.step(Arrays.asList(w), Arrays.asList(bad)), backend + " must skip");
                    assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                    assertEquals(2, opt.stepCount());
                    assertEquals(2, opt.skippedSteps());
                    results.add(w);
                }
            }
            for (int i = 0; i < layout.size(); i++) {
                assertArrayEquals(TestModels.bits(results.get(0)[i]), TestModels.bits(results.get(1)[i]),
                        (lamb ? "lamb " : "lars ") + layout.segment(i).name());
            }
        }
    }

    /**
     * Rows inside one tile (summed by the first pass that reads their tile) next to rows across
     * tiles and interleaved rows (the pre-pass), with gradients whose row sums change with any
     * other order of summation: the same bits as the Java engine, whichever pass reads a tile's g
     * first (the SKIP_STEP gradient pass or the norms; the update where nothing else reads it;
     * LAMB's gradient-norm pass or its moments), under every schedule of the emulator.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void rowsInsideTilesAndAcrossThemGiveTheJavaEnginesBits(TargetEngine engine) {
        ParamLayout layout = org.lars4j.engine.cpu.GradientCentralizationTest.mixedLayout();
        int variant = 0;
        for (NonFinitePolicy policy : new NonFinitePolicy[] {NonFinitePolicy.SKIP_STEP, NonFinitePolicy.PROPAGATE}) {
            for (int lamb = 0; lamb < (engine.isDefaultStep() ? 3 : 1); lamb++) {
                CudaEmulatorEngine.setSchedule(Schedule.values()[variant % 3], 17 + variant);
                variant++;
                List<long[]> bits = new ArrayList<>();
                for (Backend backend : new Backend[] {Backend.CPU, engine.backend()}) {
                    LayerwiseOptimizer opt = lamb == 0
                            ? Lars.builder(LarsPreset.TIMM).learningRate(0.5).weightDecay(0.01).gradientCentralization(false)
                                    .nonFinitePolicy(policy).carryWeightNorms(policy == NonFinitePolicy.SKIP_STEP).backend(backend).build(layout)
                            : Lamb.builder(LambPreset.PAPER).learningRate(0.01).weightDecay(0.01).gradientCentralization(false)
                                    .nonFinitePolicy(policy).maxGradNorm(lamb == 2 ? 1e20 : 0).backend(backend).build(layout);
                    try (opt) {
                        float[][] w = TestModels.gaussian(layout, 31, 0.5);
                        long[] norms = new long[3 * layout.size()];
                        for (int s = 0; s < 3; s++) {
                            float[][] g = org.lars4j.engine.cpu.GradientCentralizationTest.orderSensitive(layout, 90 + s);
                            assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                            for (int i = 0; i < layout.size(); i++) norms[s * layout.size() + i] = Double.doubleToLongBits(opt.lastGradNorm(i));
                        }
                        long[] all = norms;
                        for (float[] x : w) {
                            long[] b = TestModels.bits(x);
                            long[] joined = Arrays.copyOf(all, all.length + b.length);
                            System.arraycopy(b, 0, joined, all.length, b.length);
                            all = joined;
                        }
                        bits.add(all);
                    }
                }
                assertArrayEquals(bits.get(0), bits.get(1), policy + (lamb == 0 ? " lars" : lamb == 1 ? " lamb" : " lamb with a clip"));
            }
        }
    }
}

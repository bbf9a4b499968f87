package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.Arguments;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cuda.CudaEmulatorEngine.Schedule;
import org.lars4j.engine.cuda.CudaEmulatorEngine;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;
import org.lars4j.testing.EngineUnderTest;
import org.lars4j.testing.TargetEngine;
import org.lars4j.testing.TestModels.Form;
import org.lars4j.testing.TestModels;

/**
 * The grouped LARS step (one cooperative launch walking the model in L2-sized groups of whole
 * segments) against the Java engine, bit for bit, where grouping could go wrong: groups cut
 * between segments of every size, a segment larger than a group, many tiny segments that
 * several work items and segment items share, SKIP_STEP's gradient pass across groups, and the
 * carried weight norms a skipped step must leave behind.
 */
@ExtendWith(EngineUnderTest.class)
class GroupedStepTest {
    static final String GROUP_ELEMENTS = "lars4j.cuda.groupElements";

    /** The engine under test, set for each invocation by {@link EngineUnderTest}. */
    private TargetEngine engine;

    Backend target() { return engine.backend(); }

    @AfterEach
    void clear() {
        System.clearProperty(GROUP_ELEMENTS);
        CudaEmulatorEngine.setSchedule(Schedule.FORWARD, 1);
    }

    /** 65 segments, 28,993 elements: tiny ones, one of 5 tiles, whole tiles, a ragged one. */
    static ParamLayout crossingLayout() {
        ParamLayout.Builder b = ParamLayout.builder().add("t0", 1).add("t1.weight", 3, 7).add("big.weight", 5 * 4096 + 17, 1)
                .add("mid.weight", 64, 64).add("odd.weight", 4000, 1).add("x.bias", 33);
        for (int i = 0; i < 58; i++) b.add("tiny" + i + (i % 4 == 0 ? ".bias" : ".weight"), 1 + (i * 13) % 61, 1);
        return b.add("last.weight", 2, 3).excludeFromWeightDecay("bias").build();
    }

    private List<long[]> emulated(LarsPreset preset, ParamLayout layout, Form form, int steps, UnaryOperator<Lars.Builder> extra,
                                  int groupElements) {
        System.setProperty(GROUP_ELEMENTS, Integer.toString(groupElements));
        try {
            return EngineConformanceTest.run(target(), preset, false, layout, form, steps, extra);
        } finally {
            System.clearProperty(GROUP_ELEMENTS);
        }
    }

    /**
     * Group sizes from one tile (every segment over it alone, the 5-tile one larger than a group)
     * to the whole model; SKIP_STEP (gradient pass first) and PROPAGATE (none); the norm of a sum
     * (u = g + lam w read in the group pass); flat and list forms.
     */
    static Stream<Arguments> enginesAndGroupSizes() {
        List<Arguments> out = new ArrayList<>();
        TargetEngine.defaultSteps().forEach(e -> {
            for (int groupElements : new int[] {4096, 6000, 9000, 20000, 0}) out.add(Arguments.of(e, groupElements));
        });
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: groups of {1} elements")
    @MethodSource("enginesAndGroupSizes")
    void groupBoundariesGiveTheJavaEnginesBits(TargetEngine engine, int groupElements) {
        ParamLayout layout = crossingLayout();
        List<UnaryOperator<Lars.Builder>> options = List.of(
                b -> b,
                b -> b.nonFinitePolicy(NonFinitePolicy.PROPAGATE),
                b -> b.trustRatioForm(TrustRatioForm.NORM_OF_SUM).eps(1e-3),
                b -> b.lrPlacement(LrPlacement.OUTSIDE).dampening(0.25),
                b -> b.lrPlacement(LrPlacement.OUTSIDE).nesterov(true));
        CudaEmulatorEngine.setSchedule(Schedule.SHUFFLED, groupElements + 3);
        for (int i = 0; i < options.size(); i++) {
            Form form = i % 2 == 0 ? Form.FLAT_ARRAY : Form.LIST_ARRAYS;
            TestModels.assertSameBits(
                    EngineConformanceTest.run(Backend.CPU, LarsPreset.PAPER, false, layout, form, 2, options.get(i)),
                    emulated(LarsPreset.PAPER, layout, form, 2, options.get(i), groupElements),
                    "groups of " + groupElements + ", option " + i);
        }
    }

    /** The plan says how it cut the model: proof that the cases above ran several groups. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void thePlanReportsItsGroups(TargetEngine engine) {
        System.setProperty(GROUP_ELEMENTS, "4096");
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(target()).build(crossingLayout())) {
            // t0+t1 | big (alone, larger) | mid | odd + x.bias + tiny0.. | ... the tinies | last
            String v = opt.engineVariant();
            assertTrue(v.startsWith("one cooperative launch of "), v);
            assertTrue(v.contains(" groups of up to 4096 elements"), v);
            int groups = Integer.parseInt(v.replaceAll(".* blocks, (\\d+) groups.*", "$1"));
            assertTrue(groups >= 4, v);
        }
        System.setProperty(GROUP_ELEMENTS, "0");
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(target()).build(crossingLayout())) {
            assertTrue(opt.engineVariant().contains("one group"), opt.engineVariant());
        }
    }

    /**
     * A non-finite gradient in the LAST group under SKIP_STEP: no group may have been written
     * (the gradient pass decides before the first update), on every schedule.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void aNonFiniteGradientInTheLastGroupWritesNothing(TargetEngine engine) {
        ParamLayout layout = crossingLayout();
        System.setProperty(GROUP_ELEMENTS, "4096");
        for (Schedule s : Schedule.values()) {
            CudaEmulatorEngine.setSchedule(s, 7);
            try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM).learningRate(0.5).weightDecay(0.01).backend(target()).build(layout)) {
                float[][] w = TestModels.gaussian(layout, 1, 0.5);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(TestModels.gaussian(layout, 2, 0.01))));
                float[][] before = TestModels.copy(w);
                float[][] momentum = new float[layout.size()][];
                for (int i = 0; i < layout.size(); i++) {
                    momentum[i] = new float[w[i].length];
                    opt.readState("momentum_buffer", i, momentum[i]);
                }
                float[][] bad = TestModels.gaussian(layout, 3, 0.01);
                bad[layout.size() - 1][5] = Float.POSITIVE_INFINITY;
                assertFalse(opt.step(Arrays.asList(w), Arrays.asList(bad)), "schedule " + s);
                for (int i = 0; i < layout.size(); i++) {
                    assertArrayEquals(before[i], w[i], layout.segment(i).name() + " schedule " + s);
                    float[] v = new float[w[i].length];
                    opt.readState("momentum_buffer", i, v);
                    assertArrayEquals(momentum[i], v, layout.segment(i).name() + " momentum, schedule " + s);
                }
                assertEquals(1, opt.skippedSteps());
            }
        }
    }

    /**
     * Carried weight norms across a step skipped by the gradient pass, right after the caller
     * changed the weights (so the skipped step is the one that must leave fresh ||w|| partials
     * for the next): the same bits as recomputing the norms every step.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void carriedNormsSurviveAStepSkippedByTheGradientPass(TargetEngine engine) {
        ParamLayout layout = crossingLayout();
        System.setProperty(GROUP_ELEMENTS, "4096");
        float[][] plain = carryScenario(layout, Backend.CPU, false);
        float[][] carried = carryScenario(layout, target(), true);
        for (int i = 0; i < plain.length; i++) assertArrayEquals(plain[i], carried[i], layout.segment(i).name());
    }

    private static float[][] carryScenario(ParamLayout layout, Backend backend, boolean carry) {
        float[][] w = TestModels.gaussian(layout, 1, 0.5);
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.5).weightDecay(0.01).carryWeightNorms(carry)
                .backend(backend).build(layout)) {
            for (int s = 0; s < 5; s++) {
                float[][] g = TestModels.gaussian(layout, 10 + s, 0.01);
                if (s == 2) {
                    for (float[] x : w) x[0] *= 0.5f;                    // weights written from outside
                    opt.weightsChanged();
                    g[layout.size() - 1][0] = Float.NaN;                 // and that step is skipped
                }
                assertEquals(s != 2, opt.step(Arrays.asList(w), Arrays.asList(g)), "step " + s);
            }
        }
        return w;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void aBadGroupSizeIsATypedError(TargetEngine engine) {
        for (String bad : new String[] {"-2", "many"}) {
            System.setProperty(GROUP_ELEMENTS, bad);
            assertThrows(IllegalArgumentException.class,
                    () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(target()).build(crossingLayout()).close(), bad);
        }
    }
}

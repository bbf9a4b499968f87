package org.lars4j.rule.lars;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.reference.Float64Reference;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.testing.TestModels;

/** Zero norms, exclusions, tile-boundary and large segments, non-finite gradients. */
class EdgeCaseTest {

    static LayerwiseOptimizer build(LarsPreset preset, ParamLayout layout, double lr, double wd) {
        return Lars.builder(preset).learningRate(lr).weightDecay(wd).backend(Backend.CPU).threads(2).build(layout);
    }

    /** Zero weights or zero gradients: the ratio is 1 (no division by zero, no NaN). */
    @ParameterizedTest
    @EnumSource(LarsPreset.class)
    void zeroNormGuards(LarsPreset preset) {
        ParamLayout layout = ParamLayout.builder().add("zeroW", 10, 10).add("zeroG", 10, 10).add("both", 3, 3).build();
        float[][] w = TestModels.gaussian(layout, 1, 0.5);
        float[][] g = TestModels.gaussian(layout, 2, 0.01);
        Arrays.fill(w[0], 0f);
        Arrays.fill(g[1], 0f);
        Arrays.fill(w[2], 0f);
        Arrays.fill(g[2], 0f);
        double wd = 0.1;
        TestModels.LarsValues rule = TestModels.referenceRule(preset);
        rule.weightDecay = wd;
        rule.lr = t -> 0.5;
        boolean[][] flags = TestModels.referenceFlags(preset, layout, wd);
        Float64Reference ref = Float64Reference.of(rule.config(), flags[0], flags[1], w);
        ref.step(g);
        try (LayerwiseOptimizer opt = build(preset, layout, 0.5, wd)) {
            TestModels.Tensors p = new TestModels.Tensors(TestModels.Form.LIST_ARRAYS, layout, w);
            assertTrue(opt.step(p.arrays, Arrays.asList(g)));
            float[][] w1 = p.segments();
            boolean sumOfNorms = rule.sumOfNorms;
            for (int i = 0; i < 3; i++) {
                String name = layout.segment(i).name();
                // Zero ||w|| always gives ratio 1; zero ||g|| only where N = ||g|| (with NORM_OF_SUM,
                // N = ||g + lam w|| > 0 and the reference's ratio applies).
                if (i != 1 || sumOfNorms) assertEquals(1.0, opt.lastTrustRatio(i), 0.0, name);
                assertEquals(ref.trustRatios()[i], opt.lastTrustRatio(i), 1e-6 * ref.trustRatios()[i], name);
                for (float x : w1[i]) assertTrue(Float.isFinite(x), name + " has a non-finite weight");
                assertTrue(TestModels.relL2(w1[i], ref.weights()[i]) <= 1e-6, name);
            }
            // "both" is all zeros with zero gradient: the step keeps it exactly zero.
            for (float x : w1[2]) assertEquals(0f, x);
        }
    }

    /** apex LARC: with ||g|| = 0 the weight decay is dropped too, so the weights do not move. */
    @ParameterizedTest
    @EnumSource(value = LarsPreset.class, names = {"LARC_CLIP", "LARC_SCALE"})
    void larcZeroNormDropsDecay(LarsPreset preset) {
        ParamLayout layout = ParamLayout.builder().add("w", 50).build();
        float[] w = TestModels.gaussian(layout, 3, 1.0)[0];
        float[] before = w.clone();
        try (LayerwiseOptimizer opt = build(preset, layout, 0.1, 0.5)) {
            opt.step(w, new float[50]);
            assertArrayEquals(before, w);
        }
        // ... whereas timm applies the decay (ratio 1) when ||g|| = 0.
        try (LayerwiseOptimizer opt = build(LarsPreset.TIMM, layout, 0.1, 0.5)) {
            float[] w2 = before.clone();
            opt.step(w2, new float[50]);
            for (int i = 0; i < 50; i++) assertEquals(before[i] - 0.1f * 0.5f * before[i], w2[i], 1e-6f * Math.abs(before[i]));
        }
    }

    /** Excluded segments: no decay and/or no ratio, by regex, 1-D rule, explicit flags and presets. */
    @Test
    void exclusions() {
        ParamLayout layout = ParamLayout.builder()
                .add("enc.weight", 20, 30)
                .add("enc.bias", 20)
                .add("norm.scale", 30)
                .add("head.weight", new int[] {5, 30}, false, true)
                .add("head.bias", new int[] {5}, true, true)
                .excludeFromWeightDecay("bias|norm")
                .excludeFromAdaptation("norm")
                .build();
        boolean[] decay = {true, false, false, false, true};
        boolean[] adapt = {true, true, false, true, true};
        for (int i = 0; i < layout.size(); i++) {
            assertEquals(decay[i], layout.segment(i).decay(), layout.segment(i).name());
            assertEquals(adapt[i], layout.segment(i).adapt(), layout.segment(i).name());
        }
        float[][] w = TestModels.gaussian(layout, 4, 0.5);
        float[][] g = TestModels.gaussian(layout, 5, 0.01);
        TestModels.LarsValues rule = TestModels.referenceRule(LarsPreset.PAPER);
        rule.weightDecay = 0.05;
        rule.lr = t -> 1.0;
        Float64Reference ref = Float64Reference.of(rule.config(), decay, adapt, w);
        ref.step(g);
        try (LayerwiseOptimizer opt = build(LarsPreset.PAPER, layout, 1.0, 0.05)) {
            TestModels.Tensors p = new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, layout, w);
            opt.step(p.flatArray, new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, layout, g).flatArray);
            float[][] w1 = p.segments();
            for (int i = 0; i < layout.size(); i++) {
                assertTrue(TestModels.relL2(w1[i], ref.weights()[i]) <= 1e-6, layout.segment(i).name());
            }
            assertEquals(1.0, opt.lastTrustRatio(2), 0.0);
            assertTrue(opt.lastTrustRatio(0) != 1.0);
        }
        // MLPerf removes every rank-0/1 segment from decay and adaptation; timm adapts only decayed ones.
        try (LayerwiseOptimizer opt = build(LarsPreset.MLPERF, layout, 1.0, 0.05)) {
            assertFalse(opt.layout().segment(4).decay());
            assertFalse(opt.layout().segment(4).adapt());
            assertTrue(opt.layout().segment(3).adapt());
        }
        try (LayerwiseOptimizer opt = build(LarsPreset.TIMM, layout, 1.0, 0.05)) {
            assertFalse(opt.layout().segment(3).adapt(), "timm: no decay, no adaptation");
            assertTrue(opt.layout().segment(4).adapt());
        }
        try (LayerwiseOptimizer opt = build(LarsPreset.TIMM, layout, 1.0, 0.0)) {
            for (int i = 0; i < layout.size(); i++) assertFalse(opt.layout().segment(i).adapt(), "timm with wd=0 adapts nothing");
        }
    }

    /** Tile boundaries and a segment over a million elements, against the reference. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4095, 4096, 4097, 8191, 8192, 8193, 1_048_576 + 4097})
    void segmentLengths(int length) {
        ParamLayout layout = ParamLayout.builder().add("a", length).add("b", 4097).build();
        for (LarsPreset preset : new LarsPreset[] {LarsPreset.PAPER, LarsPreset.OPTAX, LarsPreset.LARC_CLIP}) {
            float[][] w = TestModels.gaussian(layout, length, 0.5);
            float[][] g = TestModels.gaussian(layout, length + 1, 0.01);
            TestModels.LarsValues rule = TestModels.referenceRule(preset);
            rule.weightDecay = 0.01;
            rule.lr = t -> 1.0;
            Float64Reference ref = Float64Reference.of(rule.config(), new boolean[] {true, true}, new boolean[] {true, true}, w);
            ref.step(g);
            try (LayerwiseOptimizer opt = build(preset, layout, 1.0, 0.01)) {
                TestModels.Tensors p = new TestModels.Tensors(TestModels.Form.LIST_ARRAYS, layout, w);
                opt.step(p.arrays, Arrays.asList(g));
                float[][] w1 = p.segments();
                float[] v = new float[length];
                opt.readState("momentum_buffer", 0, v);
                assertTrue(TestModels.relL2(w1[0], ref.weights()[0]) <= 1e-6, preset + " length " + length);
                assertTrue(TestModels.relL2(v, ref.state("momentum_buffer")[0]) <= 1e-6, preset + " momentum, length " + length);
            }
        }
    }

    /** Default policy: a NaN or Inf gradient skips the whole step; weights and state untouched. */
    @ParameterizedTest
    @ValueSource(floats = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY})
    void nonFiniteGradientSkipsStep(float bad) {
        ParamLayout layout = ParamLayout.builder().add("w", 100, 3).add("b", 3).excludeOneDimensional().build();
        float[][] w = TestModels.gaussian(layout, 8, 0.5);
        float[][] g = TestModels.gaussian(layout, 9, 0.01);
        try (LayerwiseOptimizer opt = build(LarsPreset.TIMM, layout, 0.1, 1e-4)) {
            TestModels.Tensors p = new TestModels.Tensors(TestModels.Form.LIST_ARRAYS, layout, w);
            assertTrue(opt.step(p.arrays, Arrays.asList(g)));
            float[][] afterOne = p.segments();
            float[] v1 = new float[300];
            opt.readState("momentum_buffer", 0, v1);
            float[][] gBad = TestModels.copy(g);
            gBad[1][2] = bad; // in a segment that is neither decayed nor adapted
            assertFalse(opt.step(p.arrays, Arrays.asList(gBad)));
            assertTrue(opt.lastStepSkipped());
            assertEquals(1, opt.stepCount());
            assertEquals(1, opt.skippedSteps());
            float[][] afterSkip = p.segments();
            for (int i = 0; i < 2; i++) assertArrayEquals(afterOne[i], afterSkip[i]);
            float[] v2 = new float[300];
            opt.readState("momentum_buffer", 0, v2);
            assertArrayEquals(v1, v2);
            assertTrue(opt.step(p.arrays, Arrays.asList(g)));
            assertEquals(2, opt.stepCount());
        }
    }

    /** PROPAGATE policy: the step is applied and the NaN reaches the weights. */
    @Test
    void nonFiniteGradientPropagates() {
        ParamLayout layout = ParamLayout.builder().add("w", 10).build();
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM).learningRate(0.1).nonFinitePolicy(NonFinitePolicy.PROPAGATE)
                .backend(Backend.CPU).build(layout)) {
            float[] w = new float[10];
            Arrays.fill(w, 1f);
            float[] g = new float[10];
            g[3] = Float.NaN;
            assertTrue(opt.step(w, g));
            assertTrue(Float.isNaN(w[3]));
            assertEquals(0, opt.skippedSteps());
        }
    }

    /** -0.0 follows IEEE exactly through the documented sequence: a -0 weight with zero update stays -0. */
    @Test
    void negativeZeroWeights() {
        ParamLayout layout = ParamLayout.builder().add("w", 4).build();
        try (LayerwiseOptimizer opt = build(LarsPreset.TIMM, layout, 0.1, 0)) {
            float[] w = {-0f, -0f, 1f, -1f};
            float[] g = {0f, -0f, 0f, 0f};
            opt.step(w, g);
            // timm, wd=0: not adapted; d = 1 * fma(0, w, g); v = d; w' = fma(-lr, v, w).
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(w[0]), "-0 + -(0.1*+0) = -0");
            // w = -0, g = -0: u = fma(+0, -0, -0) = -0, v = -0, w' = fma(-0.1, -0, -0) = +0 + -0 = +0.
            assertEquals(Float.floatToRawIntBits(+0f), Float.floatToRawIntBits(w[1]));
            assertEquals(1f, w[2]);
            assertEquals(-1f, w[3]);
        }
    }
}

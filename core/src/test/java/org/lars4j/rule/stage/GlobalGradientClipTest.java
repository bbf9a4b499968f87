package org.lars4j.rule.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lars4j.testing.TestModels.assertSameBits;
import static org.lars4j.testing.TestModels.state;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.reference.Float64Reference;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.Staged;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.TestModels;

/**
 * The global gradient clip as a stage of every rule on the Java engine (docs/MATH.md section
 * 14): against the float64 reference (the clip applied to the gradient before each rule's
 * transcription) with the clip active every step; bit for bit the rule alone when the clip is
 * inactive or the gradients are zero; LAMB's apex maxGradNorm the same stage; ||g'|| reported;
 * the non-finite check; centralization outside the clip; misuse.
 */
class GlobalGradientClipTest {
    static final double WD = 0.05;
    /** Well below the test gradients' global norm (about 0.01 * sqrt(12k) ~ 1.1): active every step. */
    static final double ACTIVE = 0.25;
    /** Far above it: the factor is 1 every step. */
    static final double INACTIVE = 1e6;

    static ParamLayout layout() {
        return ParamLayout.builder()
                .add("len4095.weight", 4095, 1)
                .add("len4096.weight", 64, 64)
                .add("len4097.weight", 4097, 1)
                .add("conv.weight", 4, 3, 3, 3)
                .add("bias", 17)
                .add("scalar")
                .excludeFromWeightDecay("bias")
                .build();
    }

    static float[][] grads(ParamLayout layout, int step) {
        return TestModels.gaussian(layout, 90 + step, 0.01);
    }

    static double maxRelL2(float[][] a, double[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, TestModels.relL2(a[i], b[i]));
        return m;
    }

    static final LrSchedule SCHEDULE = LrSchedule.linearWarmup(1.0, 2).then(2, LrSchedule.cosine(1.0, 0.05, 5));

    /** Every LARS preset with the clip active for six steps, against the reference's clipped gradients. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(LarsPreset.class)
    void anActiveClipAroundEveryLarsPresetFollowsTheReference(LarsPreset preset) {
        ParamLayout layout = layout();
        float[][] w0 = TestModels.gaussian(layout, 5, 0.5);
        TestModels.LarsValues rule = TestModels.referenceRule(preset);
        rule.weightDecay = WD;
        rule.lr = SCHEDULE::at;
        rule.momentumCorrection = preset == LarsPreset.MLPERF;
        boolean[][] flags = TestModels.referenceFlags(preset, layout, WD);
        Float64Reference ref = Float64Reference.of(new Staged(rule.config(), Stages.NONE.withClip(new GlobalGradientClip(ACTIVE))),
                flags[0], flags[1], w0);
        try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(SCHEDULE).weightDecay(WD)
                .momentumCorrection(preset == LarsPreset.MLPERF).gradientClip(ACTIVE).backend(Backend.CPU).threads(2).build(layout)) {
            float[][] w = TestModels.copy(w0);
            for (int s = 1; s <= 6; s++) {
                float[][] g = grads(layout, s);
                ref.step(g);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                double ew = maxRelL2(w, ref.weights());
                double ev = maxRelL2(state(opt, "momentum_buffer"), ref.state("momentum_buffer"));
                assertTrue(ew <= 2e-6, preset + " step " + s + ": weights rel. error " + ew);
                assertTrue(ev <= 1e-5, preset + " step " + s + ": momentum rel. error " + ev);
            }
        }
    }

    /** Every LAMB preset with the clip stage (apex's own value replaced), against the reference. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(LambPreset.class)
    void anActiveClipAroundEveryLambPresetFollowsTheReference(LambPreset preset) {
        ParamLayout layout = layout();
        float[][] w0 = TestModels.gaussian(layout, 5, 0.5);
        LrSchedule lr = LrSchedule.linearWarmup(0.02, 2).then(2, LrSchedule.cosine(0.02, 0.001, 5));
        try (LayerwiseOptimizer opt = Lamb.builder(preset).learningRate(lr).weightDecay(WD).gradientClip(ACTIVE).noLookahead()
                .backend(Backend.CPU).threads(2).build(layout)) {
            // The core rule's transcription (LambTest holds it to its own); the clip from the stage's definition.
            Float64Reference ref = Float64Reference.of(new Staged(Lamb.builder(preset).learningRate(lr).weightDecay(WD)
                    .noGradientClip().config(), Stages.NONE.withClip(new GlobalGradientClip(ACTIVE))), opt.layout(), w0);
            float[][] w = TestModels.copy(w0);
            for (int s = 1; s <= 6; s++) {
                float[][] g = grads(layout, s);
                ref.step(g);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                double ew = maxRelL2(w, ref.weights());
                assertTrue(ew <= 2e-6, preset + " step " + s + ": weights rel. error " + ew);
            }
        }
    }

    /** LAMB's maxGradNorm and the clip stage are one thing: the same bits, and the same hyperparameters. */
    @Test
    void lambsMaxGradNormIsTheClipStage() {
        ParamLayout layout = layout();
        List<float[][]> viaMax = runLamb(layout, b -> b.maxGradNorm(ACTIVE));
        List<float[][]> viaStage = runLamb(layout, b -> b.gradientClip(ACTIVE));
        for (int s = 0; s < viaMax.size(); s++) assertSameBits(viaMax.get(s), viaStage.get(s), "step " + (s + 1));
        assertEquals(new GlobalGradientClip(1.0), Lamb.builder(LambPreset.APEX).learningRate(0.01).rule().gradientClip(), "apex's clip");
        assertNull(Lamb.builder(LambPreset.APEX).learningRate(0.01).noGradientClip().rule().gradientClip());
        assertNull(Lamb.builder(LambPreset.OPTAX).learningRate(0.01).rule().gradientClip());
    }

    /** A clip whose factor is 1 (inactive, or all gradients zero) changes no bit of any LARS preset. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(LarsPreset.class)
    void anInactiveClipOrZeroGradientsLeaveTheRuleAlone(LarsPreset preset) {
        ParamLayout layout = layout();
        for (boolean zero : new boolean[] {false, true}) {
            List<float[][]> alone = runLars(layout, preset, b -> b, zero);
            List<float[][]> inactive = runLars(layout, preset, b -> b.gradientClip(zero ? ACTIVE : INACTIVE), zero);
            for (int s = 0; s < alone.size(); s++) assertSameBits(alone.get(s), inactive.get(s), preset + (zero ? " zero g" : "") + " step " + (s + 1));
        }
    }

    /** The trust ratio's ||g'|| is ||g|| / c: what lastGradNorm reports, with c from the global norm. */
    @Test
    void theReportedGradientNormIsOfTheClippedGradient() {
        ParamLayout layout = layout();
        float[][] g = grads(layout, 1);
        double total = 0;
        for (float[] gi : g) for (float x : gi) total += (double) x * x;
        float c = (float) (Math.sqrt(total) / ACTIVE);
        assertTrue(c > 2, "the clip is active: " + c);
        try (LayerwiseOptimizer plain = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.CPU).build(layout);
             LayerwiseOptimizer clipped = Lars.builder(LarsPreset.PAPER).learningRate(0.1).gradientClip(ACTIVE).backend(Backend.CPU).build(layout)) {
            float[][] w = TestModels.gaussian(layout, 5, 0.5);
            plain.step(Arrays.asList(TestModels.copy(w)), Arrays.asList(g));
            clipped.step(Arrays.asList(TestModels.copy(w)), Arrays.asList(g));
            for (int i = 0; i < layout.size(); i++) {
                assertEquals(plain.lastGradNorm(i) / c, clipped.lastGradNorm(i), 1e-12 * plain.lastGradNorm(i), "segment " + i);
            }
        }
    }

    /** A non-finite gradient anywhere skips the clipped step under SKIP_STEP: nothing written, for every rule. */
    @Test
    void aNonFiniteGradientSkipsTheStep() {
        ParamLayout layout = layout();
        float[][] w0 = TestModels.gaussian(layout, 5, 0.5);
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            try (LayerwiseOptimizer lars = Lars.builder(LarsPreset.TIMM).learningRate(0.1).weightDecay(WD).gradientClip(ACTIVE)
                    .backend(Backend.CPU).build(layout);
                 LayerwiseOptimizer lamb = Lamb.builder(LambPreset.APEX).learningRate(0.01).backend(Backend.CPU).build(layout)) {
                for (LayerwiseOptimizer opt : List.of(lars, lamb)) {
                    float[][] w = TestModels.copy(w0);
                    float[][] g = grads(layout, 1);
                    g[4][3] = bad;   // the bias: not adapted by TIMM, still in the global norm
                    assertFalse(opt.step(Arrays.asList(w), Arrays.asList(g)), opt.config().algorithm() + " " + bad);
                    assertSameBits(w0, w, "weights after a skipped step");
                }
            }
        }
    }

    /** Under PROPAGATE a NaN gradient gives c = 1 (the comparison fails), as apex's LAMB: the step runs. */
    @Test
    void underPropagateANanGlobalNormLeavesTheFactorOne() {
        ParamLayout layout = layout();
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).gradientClip(ACTIVE)
                .nonFinitePolicy(NonFinitePolicy.PROPAGATE).backend(Backend.CPU).build(layout)) {
            float[][] w = TestModels.gaussian(layout, 5, 0.5);
            float[][] g = grads(layout, 1);
            g[0][0] = Float.NaN;
            assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
            assertTrue(Float.isNaN(w[0][0]));
            assertFalse(Float.isNaN(w[1][0]), "other segments see g / 1");
        }
    }

    /** Centralization is outside the clip: the global norm is of the centred gradient (the reference in that order). */
    @Test
    void centralizationRunsBeforeTheClip() {
        ParamLayout layout = layout();
        float[][] w0 = TestModels.gaussian(layout, 5, 0.5);
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.5).weightDecay(WD).gradientCentralization(false)
                .gradientClip(ACTIVE).backend(Backend.CPU).threads(2).build(layout)) {
            Float64Reference ref = Float64Reference.of(opt.config(), opt.layout(), w0);
            float[][] w = TestModels.copy(w0);
            for (int s = 1; s <= 4; s++) {
                float[][] g = grads(layout, s);
                for (float[] gi : g) for (int k = 0; k < gi.length; k++) gi[k] += 0.05f;   // a mean the centring removes
                ref.step(g);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                double ew = maxRelL2(w, ref.weights());
                assertTrue(ew <= 2e-6, "step " + s + ": weights rel. error " + ew);
            }
        }
    }

    @Test
    void misuseIsRefusedWhenBuilt() {
        assertThrows(InvalidHyperparameterException.class, () -> new GlobalGradientClip(0));
        assertThrows(InvalidHyperparameterException.class, () -> new GlobalGradientClip(-1));
        assertThrows(InvalidHyperparameterException.class, () -> new GlobalGradientClip(Double.NaN));
        assertThrows(InvalidHyperparameterException.class, () -> new GlobalGradientClip(Double.POSITIVE_INFINITY));
        assertThrows(InvalidHyperparameterException.class, () -> Lars.builder(LarsPreset.PAPER).gradientClip(0));
        assertThrows(InvalidHyperparameterException.class, () -> Lamb.builder(LambPreset.OPTAX).gradientClip(-2));
        assertThrows(InvalidHyperparameterException.class, () -> new Staged(Lamb.builder(LambPreset.APEX).learningRate(0.01).config(),
                Stages.NONE.withClip(new GlobalGradientClip(2))), "the clip given twice");
        assertEquals("0.5", Lars.builder(LarsPreset.PAPER).learningRate(0.1).gradientClip(0.5).rule().hyperparameters().get("gradient_clip"));
    }

    // ---- helpers ------------------------------------------------------------------------------

    static List<float[][]> runLars(ParamLayout layout, LarsPreset preset, UnaryOperator<Lars.Builder> stage, boolean zero) {
        List<float[][]> out = new ArrayList<>();
        try (LayerwiseOptimizer opt = stage.apply(Lars.builder(preset).learningRate(SCHEDULE).weightDecay(WD)).backend(Backend.CPU)
                .threads(2).build(layout)) {
            float[][] w = TestModels.gaussian(layout, 5, 0.5);
            for (int s = 1; s <= 4; s++) {
                float[][] g = zero ? TestModels.gaussian(layout, 1, 0.0) : grads(layout, s);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                out.add(TestModels.copy(w));
            }
        }
        return out;
    }

    static List<float[][]> runLamb(ParamLayout layout, UnaryOperator<Lamb.Builder> stage) {
        List<float[][]> out = new ArrayList<>();
        try (LayerwiseOptimizer opt = stage.apply(Lamb.builder(LambPreset.OPTAX).learningRate(0.01).weightDecay(WD)).backend(Backend.CPU)
                .threads(2).build(layout)) {
            float[][] w = TestModels.gaussian(layout, 5, 0.5);
            for (int s = 1; s <= 4; s++) {
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(grads(layout, s))));
                out.add(TestModels.copy(w));
            }
        }
        return out;
    }
}

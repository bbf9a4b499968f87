package org.lars4j.rule.lamb;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.reference.Float64Reference;
import org.lars4j.rule.Rule;
import org.lars4j.rule.Staged;
import org.lars4j.rule.lamb.LambTest.LambValues;
import org.lars4j.rule.stage.Lookahead;
import org.lars4j.rule.stage.Stages;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.TestModels;

/**
 * Rectified LAMB (docs/MATH.md section 4.4) on the Java engine against the float64 reference,
 * across the momentum-only phase (rho_t <= 5: steps 1-5 with beta2 = 0.999) into the rectified
 * one; and the RANGER_LARS preset's values, Lookahead included.
 */
class RectifiedLambTest {

    /** RAdam's rho_t, transcribed from the spec for the checks below. */
    private static double rho(double b2, long t) {
        double rhoInf = 2 / (1 - b2) - 1;
        return rhoInf - 2 * t * Math.pow(b2, t) / (1 - Math.pow(b2, t));
    }

    @Test
    void withBeta2Of0999TheFirstFiveStepsAreMomentumOnlyAndStepSixIsRectified() {
        LambConfig c = Lamb.builder(LambPreset.OPTAX).learningRate(1e-3).rectify(true).config();
        LambStepValues v = (LambStepValues) c.newStepValues();
        for (long t = 1; t <= 5; t++) {
            c.fillStepValues(t, v);
            assertTrue(v.momentumOnly(), "t=" + t + ": rho_t " + v.rho() + " <= 5");
            assertEquals(rho(0.999, t), v.rho(), 1e-9, "rho_t at t=" + t);
            assertEquals(1.0, v.rectification(), 0.0);
            assertEquals(v.biasCorrection1(), v.momentDivisor(), 0.0, "the momentum-only divisor is 1 - beta1^t itself");
        }
        c.fillStepValues(6, v);
        assertFalse(v.momentumOnly());
        assertEquals(5.994163751655833, v.rho(), 1e-9);
        // sqrt((rho-4)(rho-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho)) with rho_inf = 1999
        assertEquals(0.02582111280185855, v.rectification(), 1e-12);
        assertEquals((1 - Math.pow(0.9, 6)) / v.rectification(), v.momentDivisor(), 1e-12);
        for (long t = 7; t <= 2000; t++) {
            c.fillStepValues(t, v);
            assertFalse(v.momentumOnly(), "t=" + t);
            assertTrue(v.rectification() > 0 && v.rectification() <= 1, "rect in (0, 1] at t=" + t);
        }
        c.fillStepValues(1_000_000, v);
        assertEquals(1.0, v.rectification(), 1e-9, "rho_t -> rho_inf: rect -> 1");
    }

    @Test
    void withBeta2OfOneHalfRhoNeverExceedsFiveSoEveryStepIsMomentumOnly() {
        LambConfig c = Lamb.builder(LambPreset.OPTAX).learningRate(1e-3).beta2(0.5).rectify(true).config();
        LambStepValues v = (LambStepValues) c.newStepValues();
        for (long t = 1; t <= 1000; t++) {
            c.fillStepValues(t, v);
            assertTrue(v.momentumOnly(), "rho_inf = 3; t=" + t);
        }
    }

    @Test
    void withoutRectifyTheStepValuesAreLambsAndTheDivisorIsTheBiasCorrectionItself() {
        LambConfig c = Lamb.builder(LambPreset.PAPER).learningRate(1e-3).config();
        LambStepValues v = (LambStepValues) c.newStepValues();
        for (long t = 1; t <= 20; t++) {
            c.fillStepValues(t, v);
            assertFalse(v.momentumOnly());
            assertEquals(1.0, v.rectification(), 0.0);
            assertTrue(Double.isNaN(v.rho()));
            assertEquals(Double.doubleToLongBits(v.biasCorrection1()), Double.doubleToLongBits(v.momentDivisor()), "t=" + t);
        }
    }

    @Test
    void withoutBiasCorrectionTheDivisorIsOneOverRect() {
        LambConfig c = Lamb.builder(LambPreset.OPTAX).learningRate(1e-3).rectify(true).biasCorrection(false).config();
        LambStepValues v = (LambStepValues) c.newStepValues();
        c.fillStepValues(3, v);
        assertTrue(v.momentumOnly(), "rho_t does not depend on the bias-correction option");
        assertEquals(1.0, v.momentDivisor(), 0.0);
        c.fillStepValues(9, v);
        assertFalse(v.momentumOnly());
        assertEquals(1.0 / v.rectification(), v.momentDivisor(), 0.0);
    }

    /**
     * Twelve steps, five momentum-only, seven rectified, under a changing schedule; each step's
     * trust ratios and, at the end of each phase, weights and moments. Segments with and without
     * decay and adaptation (PAPER adapts only where decayed), so that the rectification term is
     * seen directly (non-adapted segments) and against the decay inside the ratio.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"default", "ranger-lars", "no-bias-correction", "l2-mode", "phi-clamp", "trust-clip", "clip", "beta2-0.99"})
    void rectifiedLambMatchesTheReferenceAcrossRhoFive(String option) {
        ParamLayout layout = TestModels.mixedLayout().excludeFromWeightDecay("bias|bn").build();
        LrSchedule lr = LrSchedule.linearWarmup(0.02, 3).then(3, LrSchedule.cosine(0.02, 0.001, 12));
        double wd = 0.05;
        LambPreset preset = option.equals("ranger-lars") ? LambPreset.RANGER_LARS : LambPreset.PAPER;
        LambValues r = LambTest.rule(preset, wd);
        r.rectify = true;
        r.lr = lr;
        Lamb.Builder b = LambTest.builder(preset).learningRate(lr).weightDecay(wd).rectify(true).backend(Backend.CPU).threads(2);
        switch (option) {
            case "default": case "ranger-lars": break;
            case "no-bias-correction": b.biasCorrection(false); r.biasCorrection = false; break;
            case "l2-mode": b.adamWMode(false); r.adamWMode = false; break;
            case "phi-clamp": b.phiClamp(0.5, 3.0); r.phiClamp = true; r.gammaLower = 0.5; r.gammaUpper = 3.0; break;
            case "trust-clip": b.trustClip(true); r.trustClip = true; break;
            case "clip": b.maxGradNorm(0.05); r.maxGradNorm = 0.05; break;
            case "beta2-0.99": b.beta2(0.99); r.beta2 = 0.99; break;
            default: throw new AssertionError(option);
        }
        float[][] w0 = TestModels.gaussian(layout, 1, 0.5);
        boolean[][] f = LambTest.flags(preset, layout, wd);
        Float64Reference ref = Float64Reference.of(r.config(), f[0], f[1], w0);
        float[][] w = TestModels.copy(w0);
        try (LayerwiseOptimizer opt = b.build(layout)) {
            assertEquals(r.config(), opt.config(), "the builder's rule is the reference's");
            for (int s = 1; s <= 12; s++) {
                float[][] g = TestModels.gaussian(layout, 10 + s, 0.01);
                ref.step(g);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                for (int i = 0; i < layout.size(); i++) {
                    String name = layout.segment(i).name() + " step " + s;
                    assertEquals(ref.trustRatios()[i], opt.lastTrustRatio(i), 2e-5 * ref.trustRatios()[i], name + " trust ratio");
                }
                if (s == 5 || s == 6 || s == 12) assertClose(opt, ref, w, w0, layout, option + " step " + s);
            }
        }
    }

    private static void assertClose(LayerwiseOptimizer opt, Float64Reference ref, float[][] w, float[][] w0, ParamLayout layout, String what) {
        for (int i = 0; i < layout.size(); i++) {
            String name = layout.segment(i).name() + " " + what;
            float[] m = new float[w[i].length];
            float[] v = new float[w[i].length];
            opt.readState("exp_avg", i, m);
            opt.readState("exp_avg_sq", i, v);
            double dw = TestModels.relL2(w[i], ref.weights()[i]);
            // The weights' own float32 rounding (about 3e-8 relative), plus an error proportional to
            // the distance moved: the momentum-only steps move non-adapted segments little, so a
            // bound relative to w alone would not see a wrong direction there.
            double moved = TestModels.relL2(w[i], TestModels.toDouble(w0[i]));
            assertTrue(moved > 1e-5, name + " did not move");
            assertTrue(dw <= 1e-7 + 2e-5 * moved, name + ": weights " + dw + " (moved " + moved + ")");
            assertTrue(TestModels.relL2(m, ref.state("exp_avg")[i]) <= 1e-6, name + ": exp_avg");
            assertTrue(TestModels.relL2(v, ref.state("exp_avg_sq")[i]) <= 1e-6, name + ": exp_avg_sq");
        }
    }

    /**
     * Step 1 of rectified LAMB, bit for bit, on a segment without adaptation and decay: the
     * direction is the bias-corrected momentum alone, v does not enter.
     */
    @Test
    void theMomentumOnlyPhaseStepsAlongTheBiasCorrectedMomentumBitForBit() {
        ParamLayout layout = ParamLayout.builder().add("w", 300, 7).excludeFromAdaptation("w").build();
        float[][] w = TestModels.gaussian(layout, 2, 0.5);
        float[][] g = TestModels.gaussian(layout, 3, 0.01);
        float[] expected = new float[w[0].length];
        float b3 = (float) (1 - 0.9);
        float bc1 = (float) (1 - StrictMath.pow(0.9, 1));
        float negLr = -(float) 0.01;
        for (int k = 0; k < expected.length; k++) {
            float m = Math.fma(0.9f, 0f, b3 * (g[0][k] / 1f));   // m' = b1 m + b3 g/clip, m = 0, no clip
            float r = Math.fma(0f, w[0][k], m / bc1);             // r = mh + lam w, lam = 0
            expected[k] = Math.fma(negLr, r, w[0][k]);
        }
        try (LayerwiseOptimizer opt = Lamb.builder(LambPreset.OPTAX).learningRate(0.01).rectify(true)
                .backend(Backend.CPU).threads(2).build(layout)) {
            assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
            assertArrayEquals(TestModels.raw(expected), TestModels.raw(w[0]));
            assertEquals(1.0, opt.lastTrustRatio(0), 0.0);
        }
    }

    /** Zero weights and zero gradients: ratio 1 and finite weights in both phases, as in LAMB. */
    @Test
    void zeroNormsGiveRatioOneInTheMomentumOnlyAndTheRectifiedPhase() {
        ParamLayout layout = ParamLayout.builder().add("zeroW", 4097).add("zeroG", 513, 3).add("other", 700)
                .excludeFromWeightDecay("zeroG").build();
        float[][] w = TestModels.gaussian(layout, 4, 0.5);
        Arrays.fill(w[0], 0f);
        float[] zeroGBefore = w[1].clone();
        try (LayerwiseOptimizer opt = LambTest.builder(LambPreset.RANGER_LARS).learningRate(0.01).weightDecay(0.01)
                .backend(Backend.CPU).threads(2).build(layout)) {
            for (int s = 1; s <= 8; s++) {
                float[][] g = TestModels.gaussian(layout, 5 + s, 0.01);
                Arrays.fill(g[1], 0f);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                if (s == 1) assertEquals(1.0, opt.lastTrustRatio(0), 0.0, "zero ||w||: ratio 1");
                assertEquals(1.0, opt.lastTrustRatio(1), 0.0, "zero ||r|| (no gradient, no decay): ratio 1, step " + s);
                assertTrue(opt.lastTrustRatio(2) != 1.0, "a segment with both norms has its ratio, step " + s);
                for (float[] x : w) for (float e : x) assertTrue(Float.isFinite(e), "step " + s);
            }
            assertArrayEquals(TestModels.raw(zeroGBefore), TestModels.raw(w[1]), "no gradient, no decay: no move");
        }
    }

    /** A skipped step is not counted: t, and so the phase and rect, follow the applied steps. */
    @Test
    void aSkippedStepDoesNotAdvanceTheRectification() {
        ParamLayout layout = ParamLayout.builder().add("a", 300, 2).add("b", 5).build();
        float[][] clean = TestModels.gaussian(layout, 1, 0.5);
        float[][] skipping = TestModels.copy(clean);
        try (LayerwiseOptimizer a = LambTest.builder(LambPreset.RANGER_LARS).learningRate(0.01).backend(Backend.CPU).build(layout);
             LayerwiseOptimizer b = LambTest.builder(LambPreset.RANGER_LARS).learningRate(0.01).backend(Backend.CPU).build(layout)) {
            for (int s = 1; s <= 8; s++) {
                float[][] g = TestModels.gaussian(layout, 20 + s, 0.01);
                if (s == 6) {
                    // Just before the first rectified step: skipped, it must not make step 6 the seventh.
                    float[][] bad = TestModels.copy(g);
                    bad[1][2] = Float.NaN;
                    assertFalse(b.step(Arrays.asList(skipping), Arrays.asList(bad)));
                }
                assertTrue(a.step(Arrays.asList(clean), Arrays.asList(g)));
                assertTrue(b.step(Arrays.asList(skipping), Arrays.asList(g)));
            }
            assertEquals(8, b.stepCount());
            assertEquals(1, b.skippedSteps());
            for (int i = 0; i < layout.size(); i++) assertArrayEquals(TestModels.raw(clean[i]), TestModels.raw(skipping[i]), "segment " + i);
        }
    }

    @Test
    void rectifyWithoutGradAveragingIsRefusedNamingBoth() {
        InvalidHyperparameterException e = assertThrows(InvalidHyperparameterException.class,
                () -> Lamb.builder(LambPreset.PAPER).learningRate(1e-3).rectify(true).gradAveraging(false).config());
        assertTrue(e.getMessage().contains("rectify") && e.getMessage().contains("gradAveraging"), e.getMessage());
        assertThrows(InvalidHyperparameterException.class,
                () -> Lamb.builder(LambPreset.RANGER_LARS).learningRate(1e-3).gradAveraging(false).rule());
        // Off, grad averaging may be off too (apex's grad_averaging=False).
        assertFalse(Lamb.builder(LambPreset.PAPER).learningRate(1e-3).gradAveraging(false).config().rectify());
    }

    @Test
    void rangerLarsIsRectifiedLambWithItsValuesInsideLookahead() {
        LambConfig c = Lamb.builder(LambPreset.RANGER_LARS).learningRate(1e-3).config();
        assertTrue(c.rectify());
        assertEquals(0.9, c.beta1());
        assertEquals(0.999, c.beta2());
        assertEquals(1e-8, c.eps());
        assertEquals(0.0, c.weightDecay());
        assertTrue(c.phiClamp());
        assertEquals(0.0, c.gammaLower());
        assertEquals(10.0, c.gammaUpper());
        assertTrue(c.biasCorrection() && c.gradAveraging() && c.adamWMode());
        assertFalse(c.trustClip());
        assertEquals(0.0, c.maxGradNorm(), "no global clip");
        assertFalse(c.nvlamb());
        assertEquals(org.lars4j.rule.NonFinitePolicy.SKIP_STEP, c.nonFinitePolicy());

        Rule rule = Lamb.builder(LambPreset.RANGER_LARS).learningRate(1e-3).rule();
        Staged staged = assertInstanceOf(Staged.class, rule);
        assertInstanceOf(LambConfig.class, staged.core());
        assertEquals(c.hyperparameters(), staged.core().hyperparameters());
        assertEquals(new Stages(null, new Lookahead(6, 0.5)), staged.stages());
        assertEquals(List.of("exp_avg", "exp_avg_sq", Lookahead.STATE), rule.stateNames());
        Map<String, String> h = rule.hyperparameters();
        assertEquals("ranger-lars", h.get("preset"));
        assertEquals("true", h.get("rectify"));
        assertEquals("[0.0, 10.0]", h.get("phi_clamp"));
        assertEquals("6", h.get("lookahead_k"));
        assertEquals("0.5", h.get("lookahead_alpha"));

        assertSame(LambConfig.class, Lamb.builder(LambPreset.RANGER_LARS).learningRate(1e-3).noLookahead().rule().getClass());
        assertEquals(new Lookahead(5, 0.8), ((Staged) Lamb.builder(LambPreset.RANGER_LARS).learningRate(1e-3).lookahead(5, 0.8).rule())
                .stages().lookahead(), "the preset's Lookahead can be overridden");
        for (LambPreset p : new LambPreset[] {LambPreset.PAPER, LambPreset.OPTAX, LambPreset.APEX}) {
            assertFalse(Lamb.builder(p).learningRate(1e-3).config().rectify(), p + " does not rectify");
            assertSame(LambConfig.class, Lamb.builder(p).learningRate(1e-3).rule().getClass(), p + " has no stage");
        }
    }

    @Test
    void rangerLarsAdaptsEverySegmentWithOrWithoutDecay() {
        ParamLayout layout = ParamLayout.builder().add("w", 4, 4).add("b", 4).add("bn.weight", 4).excludeFromWeightDecay("^b$|bn").build();
        ParamLayout resolved = Lamb.builder(LambPreset.RANGER_LARS).learningRate(1e-3).rule().resolveFlags(layout);
        for (int i = 0; i < resolved.size(); i++) assertTrue(resolved.segment(i).adapt(), resolved.segment(i).name());
        assertFalse(resolved.segment(1).decay());
        ParamLayout excluded = ParamLayout.builder().add("w", 4, 4).add("b", 4).excludeFromAdaptation("^b$").build();
        assertFalse(Lamb.builder(LambPreset.RANGER_LARS).learningRate(1e-3).rule().resolveFlags(excluded).segment(1).adapt(),
                "the layout's own adaptation exclusions still apply");
    }

    @Test
    void presetNamesParseInTheToolsSpelling() {
        assertEquals(LambPreset.RANGER_LARS, LambPreset.parse("ranger-lars"));
        assertEquals(LambPreset.RANGER_LARS, LambPreset.parse("RANGER_LARS"));
        assertEquals("ranger-lars", LambPreset.RANGER_LARS.cliName());
        for (LambPreset p : LambPreset.values()) assertEquals(p, LambPreset.parse(p.cliName()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LambPreset.parse("ranger"));
        assertTrue(e.getMessage().contains("ranger-lars"), e.getMessage());
    }
}

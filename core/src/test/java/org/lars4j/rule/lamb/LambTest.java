package org.lars4j.rule.lamb;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.reference.Float64Reference;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.TestModels.Form;
import org.lars4j.testing.TestModels.Tensors;
import org.lars4j.testing.TestModels;

/** LAMB (docs/MATH.md section 4) on the Java engine against the float64 reference. */
public class LambTest {

    /**
     * A LAMB rule's values, settable one by one, made into a {@link LambConfig} with the record's
     * own constructor (not the builder): the reference gets the tests' reading of docs/MATH.md.
     */
    static final class LambValues {
        LambPreset preset = LambPreset.PAPER;
        double beta1 = 0.9, beta2 = 0.999, eps = 1e-6, weightDecay;
        boolean biasCorrection = true, gradAveraging = true, adamWMode = true;
        boolean rectify;
        boolean phiClamp;
        double gammaLower, gammaUpper = Double.POSITIVE_INFINITY;
        boolean trustClip;
        double maxGradNorm;   // 0: off
        LrSchedule lr = t -> 1e-3;

        LambConfig config() {
            return new LambConfig(preset, lr, beta1, beta2, eps, weightDecay, biasCorrection, gradAveraging, adamWMode,
                    rectify, phiClamp, gammaLower, gammaUpper, trustClip, maxGradNorm, false, NonFinitePolicy.SKIP_STEP);
        }
    }

    /** The reference rule of a preset, from the table; flags as the table resolves them. */
    static LambValues rule(LambPreset p, double wd) {
        LambValues r = new LambValues();
        r.preset = p;
        r.weightDecay = wd;
        if (p == LambPreset.APEX) r.maxGradNorm = 1.0;
        if (p == LambPreset.RANGER_LARS) {
            r.rectify = true;
            r.eps = 1e-8;
            r.phiClamp = true;
            r.gammaLower = 0;
            r.gammaUpper = 10;
        }
        return r;
    }

    static boolean[][] flags(LambPreset p, ParamLayout layout, double wd) {
        boolean[] decay = new boolean[layout.size()];
        boolean[] adapt = new boolean[layout.size()];
        for (int i = 0; i < layout.size(); i++) {
            Segment s = layout.segment(i);
            decay[i] = s.decay();
            adapt[i] = s.adapt();
            if (p == LambPreset.PAPER && !layout.adaptationRulesGiven()) adapt[i] = decay[i];
            if (p == LambPreset.APEX) adapt[i] = adapt[i] && decay[i] && wd != 0;
        }
        return new boolean[][] {decay, adapt};
    }

    static Stream<Arguments> presetsAndOptions() {
        List<Arguments> out = new ArrayList<>();
        List<String> options = List.of("default", "no-bias-correction", "no-grad-averaging", "l2-mode", "phi-clamp", "trust-clip", "clip");
        for (LambPreset p : LambPreset.values()) {
            for (String o : options) {
                // Rectification needs grad averaging: that combination is refused (RectifiedLambTest).
                if (p == LambPreset.RANGER_LARS && o.equals("no-grad-averaging")) continue;
                out.add(Arguments.of(p, o));
            }
        }
        return out.stream();
    }

    static void apply(String option, Lamb.Builder b, LambValues r) {
        switch (option) {
            case "default": break;
            case "no-bias-correction": b.biasCorrection(false); r.biasCorrection = false; break;
            case "no-grad-averaging": b.gradAveraging(false); r.gradAveraging = false; break;
            case "l2-mode": b.adamWMode(false); r.adamWMode = false; break;
            case "phi-clamp": b.phiClamp(0.5, 3.0); r.phiClamp = true; r.gammaLower = 0.5; r.gammaUpper = 3.0; break;
            case "trust-clip": b.trustClip(true); r.trustClip = true; break;
            case "clip": b.maxGradNorm(0.05); r.maxGradNorm = 0.05; break;
            default: throw new AssertionError(option);
        }
    }

    /**
     * Three steps under a changing schedule. LAMB's update is about lr * tr * r per element with
     * |r| ~ 1, so the weights move visibly. Bounds: weights 1e-6 relative; m and v 1e-6 (a few
     * float32 roundings each); the reference's trajectory is float64, the engine's float32.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("presetsAndOptions")
    void matchesReference(LambPreset preset, String option) {
        ParamLayout layout = TestModels.mixedLayout().excludeFromWeightDecay("bias|bn").build();
        double wd = 0.05;
        LrSchedule lr = LrSchedule.linearWarmup(0.02, 2).then(2, LrSchedule.cosine(0.02, 0.001, 4));
        LambValues r = rule(preset, wd);
        r.lr = lr;
        Lamb.Builder b = builder(preset).learningRate(lr).weightDecay(wd).backend(Backend.CPU).threads(2);
        apply(option, b, r);
        float[][] w0 = TestModels.gaussian(layout, 1, 0.5);
        boolean[][] f = flags(preset, layout, wd);
        Float64Reference ref = Float64Reference.of(r.config(), f[0], f[1], w0);
        float[][] w = TestModels.copy(w0);
        try (LayerwiseOptimizer opt = b.build(layout)) {
            for (int s = 0; s < 3; s++) {
                float[][] g = TestModels.gaussian(layout, 10 + s, 0.01);
                ref.step(g);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
            }
            for (int i = 0; i < layout.size(); i++) {
                String name = layout.segment(i).name();
                assertEquals(f[1][i], opt.layout().segment(i).adapt(), name + " adapt flag");
                float[] m = new float[w[i].length];
                float[] v = new float[w[i].length];
                opt.readState("exp_avg", i, m);
                opt.readState("exp_avg_sq", i, v);
                assertTrue(TestModels.relL2(w[i], ref.weights()[i]) <= 1e-6, name + ": weights " + TestModels.relL2(w[i], ref.weights()[i]));
                assertTrue(TestModels.relL2(m, ref.state("exp_avg")[i]) <= 1e-6, name + ": exp_avg " + TestModels.relL2(m, ref.state("exp_avg")[i]));
                assertTrue(TestModels.relL2(v, ref.state("exp_avg_sq")[i]) <= 1e-6, name + ": exp_avg_sq " + TestModels.relL2(v, ref.state("exp_avg_sq")[i]));
                assertEquals(ref.trustRatios()[i], opt.lastTrustRatio(i), 1e-5 * ref.trustRatios()[i], name + " trust ratio");
                assertTrue(TestModels.relL2(w[i], TestModels.toDouble(w0[i])) > 1e-5, name + " did not move");
            }
        }
    }

    /**
     * The preset's LAMB rule alone: RANGER_LARS without its Lookahead, so that the tests of the
     * rule compare the rule (against Float64Lamb, across engines and kernels). RangerLars with its
     * Lookahead is checked by RectifiedLambTest and the Lookahead tests.
     */
    public static Lamb.Builder builder(LambPreset preset) {
        Lamb.Builder b = Lamb.builder(preset);
        return preset == LambPreset.RANGER_LARS ? b.noLookahead() : b;
    }

    @Test
    void presetDefaults() {
        LambConfig apex = Lamb.builder(LambPreset.APEX).learningRate(1e-3).config();
        assertEquals(1.0, apex.maxGradNorm());
        assertEquals(0.01, apex.weightDecay());
        assertEquals(1e-6, apex.eps());
        for (LambPreset p : new LambPreset[] {LambPreset.PAPER, LambPreset.OPTAX}) {
            LambConfig c = Lamb.builder(p).learningRate(1e-3).config();
            assertEquals(0.0, c.maxGradNorm());
            assertEquals(1e-6, c.eps());
            assertEquals(0.9, c.beta1());
            assertEquals(0.999, c.beta2());
            assertTrue(c.biasCorrection() && c.gradAveraging() && c.adamWMode());
        }
        ParamLayout l = ParamLayout.builder().add("w", 4, 4).add("b", 4).excludeFromWeightDecay("^b$").build();
        try (LayerwiseOptimizer paper = Lamb.builder(LambPreset.PAPER).learningRate(1e-3).backend(Backend.CPU).build(l);
             LayerwiseOptimizer optax = Lamb.builder(LambPreset.OPTAX).learningRate(1e-3).backend(Backend.CPU).build(l);
             LayerwiseOptimizer apexNoWd = Lamb.builder(LambPreset.APEX).learningRate(1e-3).weightDecay(0).backend(Backend.CPU).build(l)) {
            assertFalse(paper.layout().segment(1).adapt(), "TF-Addons: adaptation exclusions default to the decay exclusions");
            assertTrue(optax.layout().segment(1).adapt(), "optax adapts every segment");
            assertFalse(apexNoWd.layout().segment(0).adapt(), "apex adapts only where wd != 0");
        }
        ParamLayout explicit = ParamLayout.builder().add("w", 4, 4).add("b", 4).excludeFromWeightDecay("^b$").excludeFromAdaptation("^w$").build();
        try (LayerwiseOptimizer paper = Lamb.builder(LambPreset.PAPER).learningRate(1e-3).backend(Backend.CPU).build(explicit)) {
            assertFalse(paper.layout().segment(0).adapt());
            assertTrue(paper.layout().segment(1).adapt(), "given adaptation rules are used as they are");
        }
    }

    /** Zero weights / zero gradients: ratio 1, no NaN; tile-boundary lengths; threads and forms bitwise. */
    @ParameterizedTest
    @EnumSource(LambPreset.class)
    void edgesAndDeterminism(LambPreset preset) {
        ParamLayout layout = ParamLayout.builder().add("zeroW", 4097).add("zeroG", 4095, 1).add("big", 3 * 4096 + 1, 1).add("len1", 1).build();
        List<int[][]> runs = new ArrayList<>();
        for (int threads : new int[] {1, 2, 3, 8}) {
            for (Form form : threads == 2 ? Form.values() : new Form[] {Form.LIST_ARRAYS}) {
                float[][] w0 = TestModels.gaussian(layout, 4, 0.5);
                Arrays.fill(w0[0], 0f);
                Tensors p = new Tensors(form, layout, w0);
                try (LayerwiseOptimizer opt = builder(preset).learningRate(0.01).weightDecay(0.01).backend(Backend.CPU).threads(threads).build(layout)) {
                    for (int s = 0; s < 2; s++) {
                        float[][] g = TestModels.gaussian(layout, 5 + s, 0.01);
                        Arrays.fill(g[1], 0f);
                        TestModels.step(opt, p, new Tensors(form, layout, g));
                        if (s == 0) assertEquals(1.0, opt.lastTrustRatio(0), 0.0, "zero ||w||: ratio 1");
                    }
                    float[][] w = p.segments();
                    int[][] bits = new int[w.length][];
                    for (int i = 0; i < w.length; i++) {
                        for (float x : w[i]) assertTrue(Float.isFinite(x));
                        bits[i] = TestModels.raw(w[i]);
                    }
                    runs.add(bits);
                }
            }
        }
        for (int r = 1; r < runs.size(); r++) {
            for (int i = 0; i < layout.size(); i++) assertArrayEquals(runs.get(0)[i], runs.get(r)[i], preset + " run " + r + " segment " + i);
        }
    }

    @Test
    void nonFiniteGradientSkipsAndStateRoundTrips() {
        ParamLayout layout = ParamLayout.builder().add("a", 300, 2).add("b", 5).build();
        try (LayerwiseOptimizer opt = Lamb.builder(LambPreset.APEX).learningRate(1e-2).backend(Backend.CPU).build(layout)) {
            float[][] w = TestModels.gaussian(layout, 1, 0.5);
            float[][] g = TestModels.gaussian(layout, 2, 0.01);
            opt.step(Arrays.asList(w), Arrays.asList(g));
            float[][] before = TestModels.copy(w);
            float[][] bad = TestModels.copy(g);
            bad[1][3] = Float.NaN;
            assertFalse(opt.step(Arrays.asList(w), Arrays.asList(bad)));
            for (int i = 0; i < 2; i++) assertArrayEquals(before[i], w[i]);
            assertEquals(1, opt.skippedSteps());
            assertEquals(List.of("exp_avg", "exp_avg_sq"), opt.stateNames());
        }
    }

    public static List<long[]> runBits(Backend backend, LambPreset preset, ParamLayout layout, int steps, UnaryOperator<Lamb.Builder> extra) {
        List<long[]> out = new ArrayList<>();
        LrSchedule lr = LrSchedule.linearWarmup(0.02, 2).then(2, LrSchedule.polynomial(0.02, 0.001, 2, 4));
        try (LayerwiseOptimizer opt = extra.apply(builder(preset).learningRate(lr).weightDecay(0.02).backend(backend).threads(2)).build(layout)) {
            float[][] w = TestModels.gaussian(layout, 3, 0.5);
            for (int s = 0; s < steps; s++) {
                float[][] g = TestModels.gaussian(layout, 30 + s, 0.01);
                opt.step(Arrays.asList(w), Arrays.asList(g));
                long[] d = new long[3 * layout.size()];
                for (int i = 0; i < layout.size(); i++) {
                    d[3 * i] = Double.doubleToLongBits(opt.lastWeightNorm(i));
                    d[3 * i + 1] = Double.doubleToLongBits(opt.lastGradNorm(i));
                    d[3 * i + 2] = Double.doubleToLongBits(opt.lastTrustRatio(i));
                }
                out.add(d);
            }
            for (int i = 0; i < layout.size(); i++) {
                float[] m = new float[w[i].length];
                float[] v = new float[w[i].length];
                opt.readState("exp_avg", i, m);
                opt.readState("exp_avg_sq", i, v);
                out.add(TestModels.bits(w[i]));
                out.add(TestModels.bits(m));
                out.add(TestModels.bits(v));
            }
        }
        return out;
    }
}

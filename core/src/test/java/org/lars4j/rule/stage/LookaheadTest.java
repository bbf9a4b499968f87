package org.lars4j.rule.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lars4j.testing.TestModels.assertSameBits;
import static org.lars4j.testing.TestModels.state;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.io.SafetensorsFile;
import org.lars4j.layout.ParamLayout;
import org.lars4j.reference.Float64Reference;
import org.lars4j.rule.Staged;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.TestModels.Form;
import org.lars4j.testing.TestModels.Tensors;
import org.lars4j.testing.TestModels;

/**
 * Lookahead around the rules on the Java engine (docs/MATH.md, "Lookahead"): against the float64
 * reference (the paper's Algorithm 1 around each rule's transcription) over several k cycles
 * under a changing learning rate, and the contract's edges bit for bit: the copy taken before
 * step 1's update, a skipped step not counted, k = 1, alpha = 1, resetState, checkpoints, storage
 * forms, misuse.
 */
class LookaheadTest {
    static final String SLOW = "lookahead_slow";
    static final double WD = 0.05;

    /** The tile-boundary lengths, a zero-weight segment (zero norms) and a scalar. */
    static ParamLayout layout() {
        return ParamLayout.builder()
                .add("len4095.weight", 4095, 1)
                .add("len4096.weight", 64, 64)
                .add("len4097.weight", 4097, 1)
                .add("zero.weight", 30, 3)
                .add("bias", 17)
                .add("scalar")
                .excludeFromWeightDecay("bias")
                .build();
    }

    static float[][] initialWeights(ParamLayout layout) {
        float[][] w = TestModels.gaussian(layout, 5, 0.5);
        Arrays.fill(w[3], 0f);   // ||w|| = 0: the trust ratio falls back to 1, the slow weights still follow
        return w;
    }

    static float[][] grads(ParamLayout layout, int step) {
        return TestModels.gaussian(layout, 70 + step, 0.01);
    }

    static final LrSchedule SCHEDULE = LrSchedule.linearWarmup(1.0, 3).then(3, LrSchedule.cosine(1.0, 0.05, 6));

    static double maxRelL2(float[][] a, double[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, TestModels.relL2(a[i], b[i]));
        return m;
    }

    /**
     * k = 3 over nine steps (three syncs) under a schedule that changes every step, every LARS
     * preset; the reference is the preset's row of the MATH.md table with the paper's Lookahead
     * around it. Bounds as LarsReferenceTest's ten-step test: 2e-6 on weights and slow weights,
     * 1e-5 on the momentum. After a sync the weights are the slow weights, bit for bit.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(LarsPreset.class)
    void aroundEveryLarsPresetFollowsTheReference(LarsPreset preset) {
        ParamLayout layout = layout();
        float[][] w0 = initialWeights(layout);
        TestModels.LarsValues rule = TestModels.referenceRule(preset);
        rule.weightDecay = WD;
        rule.lr = SCHEDULE::at;
        rule.momentumCorrection = preset == LarsPreset.MLPERF;
        boolean[][] flags = TestModels.referenceFlags(preset, layout, WD);
        Float64Reference ref = Float64Reference.of(new Staged(rule.config(), new Stages(null, new Lookahead(3, 0.5))), flags[0], flags[1], w0);
        assertEquals(List.of("momentum_buffer", SLOW), ref.stateNames());

        try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(SCHEDULE).weightDecay(WD)
                .momentumCorrection(preset == LarsPreset.MLPERF).lookahead(3, 0.5).backend(Backend.CPU).threads(2).build(layout)) {
            assertEquals(List.of("momentum_buffer", SLOW), opt.stateNames());
            float[][] w = TestModels.copy(w0);
            for (int s = 1; s <= 9; s++) {
                float[][] g = grads(layout, s);
                ref.step(g);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                float[][] slow = state(opt, SLOW);
                double ew = maxRelL2(w, ref.weights());
                double es = maxRelL2(slow, ref.state(SLOW));
                double ev = maxRelL2(state(opt, "momentum_buffer"), ref.state("momentum_buffer"));
                assertTrue(ew <= 2e-6, preset + " step " + s + ": weights rel. error " + ew);
                assertTrue(es <= 2e-6, preset + " step " + s + ": slow weights rel. error " + es);
                assertTrue(ev <= 1e-5, preset + " step " + s + ": momentum rel. error " + ev);
                if (s % 3 == 0) assertSameBits(slow, w, "after the sync of step " + s + " w is phi");
            }
        }
    }

    /** Every LAMB preset with Lookahead (k = 2, alpha = 0.8) over seven steps: three syncs and an odd step after. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(LambPreset.class)
    void aroundLambFollowsTheReference(LambPreset preset) {
        ParamLayout layout = layout();
        float[][] w0 = initialWeights(layout);
        LrSchedule lr = LrSchedule.linearWarmup(0.02, 2).then(2, LrSchedule.cosine(0.02, 0.001, 5));
        try (LayerwiseOptimizer opt = Lamb.builder(preset).learningRate(lr).weightDecay(WD).lookahead(2, 0.8)
                .backend(Backend.CPU).threads(2).build(layout)) {
            assertEquals(List.of("exp_avg", "exp_avg_sq", SLOW), opt.stateNames());
            // The core rule as configured (LambTest holds it to its own reference); the stage from its definition.
            Float64Reference ref = Float64Reference.of(new Staged(opt.config().core(), new Stages(null, new Lookahead(2, 0.8))),
                    opt.layout(), w0);
            float[][] w = TestModels.copy(w0);
            for (int s = 1; s <= 7; s++) {
                float[][] g = grads(layout, s);
                ref.step(g);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
                double ew = maxRelL2(w, ref.weights());
                double es = maxRelL2(state(opt, SLOW), ref.state(SLOW));
                assertTrue(ew <= 2e-6, preset + " step " + s + ": weights rel. error " + ew);
                assertTrue(es <= 2e-6, preset + " step " + s + ": slow weights rel. error " + es);
            }
        }
    }

    /** Step 1 copies the weights as they were before the rule's update; without a sync, w moves on alone. */
    @Test
    void theSlowWeightsAreTheWeightsBeforeTheFirstUpdate() {
        ParamLayout layout = layout();
        float[][] w0 = initialWeights(layout);
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM).learningRate(0.5).weightDecay(WD).lookahead(5, 0.5)
                .backend(Backend.CPU).build(layout)) {
            float[][] w = TestModels.copy(w0);
            opt.step(Arrays.asList(w), Arrays.asList(grads(layout, 1)));
            assertSameBits(w0, state(opt, SLOW), "phi after step 1");
            opt.step(Arrays.asList(w), Arrays.asList(grads(layout, 2)));
            assertSameBits(w0, state(opt, SLOW), "phi after step 2 (no sync)");
        }
    }

    /**
     * A step 1 skipped for a non-finite gradient writes nothing, the slow weights included, and
     * is not counted: the next applied step is step 1 and copies the weights then.
     */
    @Test
    void aSkippedFirstStepLeavesTheCopyToTheNextAppliedStep() {
        ParamLayout layout = layout();
        float[][] w0 = initialWeights(layout);
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM).learningRate(0.5).weightDecay(WD).lookahead(5, 0.5)
                .backend(Backend.CPU).build(layout)) {
            float[][] w = TestModels.copy(w0);
            float[][] bad = grads(layout, 1);
            bad[0][0] = Float.NaN;
            assertFalse(opt.step(Arrays.asList(w), Arrays.asList(bad)), "a NaN gradient skips the step");
            assertEquals(0, opt.stepCount());
            assertSameBits(zerosLike(w0), state(opt, SLOW), "phi after a skipped step 1");
            assertSameBits(w0, w, "w after a skipped step 1");
            assertTrue(opt.step(Arrays.asList(w), Arrays.asList(grads(layout, 2))));
            assertSameBits(w0, state(opt, SLOW), "phi after the first applied step");
        }
    }

    private static float[][] zerosLike(float[][] a) {
        float[][] z = new float[a.length][];
        for (int i = 0; i < a.length; i++) z[i] = new float[a[i].length];
        return z;
    }

    /** Without a sync step, Lookahead changes nothing: the first k-1 steps are the rule's own, bit for bit. */
    @Test
    void stepsBeforeTheFirstSyncAreTheRulesOwn() {
        ParamLayout layout = layout();
        List<float[][]> with = run(layout, b -> b.lookahead(4, 0.5), 3, Form.FLAT_ARRAY);
        List<float[][]> without = run(layout, b -> b, 3, Form.FLAT_ARRAY);
        assertSameBits(without.get(0), with.get(0), "weights");
        assertSameBits(without.get(1), with.get(1), "momentum");
    }

    /**
     * The sync's float32 operations (docs/CANONICAL_ORDER.md, Lookahead): after the rule's update
     * w1 of step 1 with k = 1, phi = fma((float) alpha, w1 - w0, w0) and w = phi.
     */
    @Test
    void kOneSyncsEveryStepWithTheDocumentedOperations() {
        ParamLayout layout = layout();
        float[][] w0 = initialWeights(layout);
        float[][] g = grads(layout, 1);
        float alpha = (float) 0.3;
        float[][] w1 = TestModels.copy(w0);
        try (LayerwiseOptimizer plain = lars(b -> b).build(layout)) {
            plain.step(Arrays.asList(w1), Arrays.asList(g));
        }
        try (LayerwiseOptimizer opt = lars(b -> b.lookahead(1, 0.3)).build(layout)) {
            float[][] w = TestModels.copy(w0);
            opt.step(Arrays.asList(w), Arrays.asList(g));
            float[][] expected = new float[w.length][];
            for (int i = 0; i < w.length; i++) {
                expected[i] = new float[w[i].length];
                for (int e = 0; e < w[i].length; e++) expected[i][e] = Math.fma(alpha, w1[i][e] - w0[i][e], w0[i][e]);
            }
            assertSameBits(expected, w, "w after step 1, k = 1");
            assertSameBits(expected, state(opt, SLOW), "phi after step 1, k = 1");
        }
    }

    /**
     * alpha = 1: the slow weights take the fast ones; wherever w - phi is exact (w and phi within a
     * factor of two, as after one small step), phi' = fma(1, w - phi, phi) = w exactly, so the run
     * is the rule's own, bit for bit. Checked against the reference too over several syncs.
     */
    @Test
    void alphaOneKeepsTheRulesTrajectory() {
        ParamLayout layout = ParamLayout.builder().add("a.weight", 4097, 1).add("b.weight", 20, 5).build();
        float[][] w0 = TestModels.gaussian(layout, 8, 0.5);
        for (int i = 0; i < w0.length; i++) for (int e = 0; e < w0[i].length; e++) w0[i][e] = 1f + Math.abs(w0[i][e]);   // far from 0
        List<float[][]> with = run(layout, w0, b -> b.lookahead(2, 1.0), 6, Form.FLAT_ARRAY);
        List<float[][]> without = run(layout, w0, b -> b, 6, Form.FLAT_ARRAY);
        assertSameBits(without.get(0), with.get(0), "weights");
        assertSameBits(with.get(0), with.get(2), "phi = w after the last sync");
    }

    /**
     * A skipped step (a NaN gradient between two syncs) does not count towards k and does not
     * sync: the run is the run without it, bit for bit, slow weights included.
     */
    @Test
    void aSkippedStepIsNotCountedAndDoesNotSync() {
        ParamLayout layout = layout();
        float[][] w0 = initialWeights(layout);
        float[][] expectedW = TestModels.copy(w0);
        float[][] gotW = TestModels.copy(w0);
        try (LayerwiseOptimizer clean = lars(b -> b.lookahead(2, 0.5)).build(layout);
             LayerwiseOptimizer withNaN = lars(b -> b.lookahead(2, 0.5)).build(layout)) {
            for (int s = 1; s <= 5; s++) {
                clean.step(Arrays.asList(expectedW), Arrays.asList(grads(layout, s)));
                if (s == 2 || s == 3) {
                    float[][] bad = grads(layout, 99);
                    bad[1][7] = Float.NaN;
                    float[][] before = TestModels.copy(gotW);
                    assertFalse(withNaN.step(Arrays.asList(gotW), Arrays.asList(bad)), "a NaN gradient is skipped");
                    assertSameBits(before, gotW, "a skipped step writes nothing, sync step or not");
                }
                assertTrue(withNaN.step(Arrays.asList(gotW), Arrays.asList(grads(layout, s))));
            }
            assertEquals(5, withNaN.stepCount());
            assertEquals(2, withNaN.skippedSteps());
            assertSameBits(expectedW, gotW, "weights");
            assertSameBits(state(clean, SLOW), state(withNaN, SLOW), "slow weights");
            assertSameBits(state(clean, "momentum_buffer"), state(withNaN, "momentum_buffer"), "momentum");
        }
    }

    /** resetState zeroes the slow weights with the rule's state; the next step (t = 1 again) copies the weights anew. */
    @Test
    void resetStateCopiesTheWeightsAgainAtTheNextStep() {
        ParamLayout layout = layout();
        float[][] w = initialWeights(layout);
        try (LayerwiseOptimizer opt = lars(b -> b.lookahead(2, 0.5)).build(layout)) {
            for (int s = 1; s <= 3; s++) opt.step(Arrays.asList(w), Arrays.asList(grads(layout, s)));
            opt.resetState();
            for (float[] x : state(opt, SLOW)) for (float v : x) assertEquals(0f, v);
            float[][] restart = TestModels.copy(w);
            List<float[][]> fresh = run(layout, restart, b -> b.lookahead(2, 0.5), 3, Form.FLAT_ARRAY, 10);
            for (int s = 1; s <= 3; s++) opt.step(Arrays.asList(w), Arrays.asList(grads(layout, 10 + s)));
            assertSameBits(fresh.get(0), w, "weights after the restart");
            assertSameBits(fresh.get(2), state(opt, SLOW), "slow weights after the restart");
        }
    }

    /**
     * Checkpoints hold {@code <param>.lookahead_slow}; a run saved after step 2 and continued in a
     * new optimizer from the file (syncs at 3 and 6, k = 3) is the uninterrupted run, bit for bit.
     */
    @Test
    void aCheckpointRoundTripIsTheUninterruptedRun(@TempDir Path dir) throws Exception {
        ParamLayout layout = layout();
        float[][] w0 = initialWeights(layout);
        List<float[][]> straight = run(layout, w0, b -> b.lookahead(3, 0.5), 7, Form.FLAT_ARRAY);
        float[][] w = TestModels.copy(w0);
        Path file = dir.resolve("state.safetensors");
        try (LayerwiseOptimizer first = lars(b -> b.lookahead(3, 0.5)).build(layout)) {
            for (int s = 1; s <= 2; s++) first.step(Arrays.asList(w), Arrays.asList(grads(layout, s)));
            OptimizerCheckpoint.save(first, file);
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (int i = 0; i < layout.size(); i++) {
                String name = layout.segment(i).name() + "." + SLOW;
                assertTrue(f.tensor(name) != null, name + " in the checkpoint");
                assertArrayEquals(TestModels.raw(w0[i]), TestModels.raw(f.readFloats(name)), name);
            }
        }
        try (LayerwiseOptimizer second = lars(b -> b.lookahead(3, 0.5)).build(layout)) {
            OptimizerCheckpoint.load(second, file);
            assertEquals(2, second.stepCount());
            for (int s = 3; s <= 7; s++) second.step(Arrays.asList(w), Arrays.asList(grads(layout, s)));
            assertSameBits(straight.get(0), w, "weights");
            assertSameBits(straight.get(1), state(second, "momentum_buffer"), "momentum");
            assertSameBits(straight.get(2), state(second, SLOW), "slow weights");
        }
        assertTrue(Files.size(file) > 0);
    }

    /** Every storage form (arrays, direct buffers, byte buffers in either order), flat and list: the same bits. */
    @Test
    void everyStorageFormGivesTheSameBits() {
        ParamLayout layout = layout();
        List<float[][]> expected = run(layout, b -> b.lookahead(2, 0.5), 5, Form.FLAT_ARRAY);
        for (Form form : Form.values()) {
            List<float[][]> got = run(layout, b -> b.lookahead(2, 0.5), 5, form);
            for (int k = 0; k < 3; k++) assertSameBits(expected.get(k), got.get(k), form + " record " + k);
        }
        List<float[][]> lamb = runLamb(layout, Form.FLAT_ARRAY);
        for (Form form : Form.values()) {
            List<float[][]> got = runLamb(layout, form);
            for (int k = 0; k < 2; k++) assertSameBits(lamb.get(k), got.get(k), "lamb " + form + " record " + k);
        }
    }

    @Test
    void invalidKOrAlphaAreRefusedNamingThem() {
        Lars.Builder lars = Lars.builder(LarsPreset.PAPER).learningRate(0.1);
        InvalidHyperparameterException e = assertThrows(InvalidHyperparameterException.class, () -> lars.lookahead(0, 0.5));
        assertTrue(e.getMessage().contains("lookahead k"), e.getMessage());
        for (double alpha : new double[] {0.0, -0.5, 1.5, Double.NaN, Double.POSITIVE_INFINITY}) {
            e = assertThrows(InvalidHyperparameterException.class, () -> lars.lookahead(6, alpha));
            assertTrue(e.getMessage().contains("lookahead alpha"), e.getMessage());
        }
        e = assertThrows(InvalidHyperparameterException.class, () -> Lamb.builder(LambPreset.PAPER).learningRate(0.1).lookahead(-3, 0.5));
        assertTrue(e.getMessage().contains("lookahead k"), e.getMessage());
    }

    // ---- helpers ----------------------------------------------------------------------------

    static Lars.Builder lars(UnaryOperator<Lars.Builder> extra) {
        return extra.apply(Lars.builder(LarsPreset.TIMM).learningRate(SCHEDULE).weightDecay(WD).backend(Backend.CPU).threads(2));
    }

    static List<float[][]> run(ParamLayout layout, UnaryOperator<Lars.Builder> extra, int steps, Form form) {
        return run(layout, initialWeights(layout), extra, steps, form);
    }

    static List<float[][]> run(ParamLayout layout, float[][] w0, UnaryOperator<Lars.Builder> extra, int steps, Form form) {
        return run(layout, w0, extra, steps, form, 0);
    }

    /** Weights, momentum and (with Lookahead) slow weights after {@code steps} steps, gradients seeded from {@code seed0 + 1}. */
    static List<float[][]> run(ParamLayout layout, float[][] w0, UnaryOperator<Lars.Builder> extra, int steps, Form form, int seed0) {
        try (LayerwiseOptimizer opt = lars(extra).build(layout)) {
            Tensors p = new Tensors(form, layout, w0);
            for (int s = 1; s <= steps; s++) assertTrue(TestModels.step(opt, p, new Tensors(form, layout, grads(layout, seed0 + s))));
            List<float[][]> out = new ArrayList<>();
            out.add(p.segments());
            out.add(state(opt, "momentum_buffer"));
            if (opt.stateNames().contains(SLOW)) out.add(state(opt, SLOW));
            return out;
        }
    }

    static List<float[][]> runLamb(ParamLayout layout, Form form) {
        try (LayerwiseOptimizer opt = Lamb.builder(LambPreset.APEX).learningRate(0.01).lookahead(2, 0.5).backend(Backend.CPU).threads(2).build(layout)) {
            Tensors p = new Tensors(form, layout, initialWeights(layout));
            for (int s = 1; s <= 5; s++) assertTrue(TestModels.step(opt, p, new Tensors(form, layout, grads(layout, s))));
            return List.of(p.segments(), state(opt, SLOW));
        }
    }
}

package org.lars4j.rule.lars;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.reference.Float64Reference;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.TestModels.Form;
import org.lars4j.testing.TestModels.Tensors;
import org.lars4j.testing.TestModels;

/** Every preset, nesterov on/off, every storage form: the Java engine against the float64 reference. */
class LarsReferenceTest {
    static final double WD = 0.05;

    static Stream<Arguments> presetsNesterovForms() {
        List<Arguments> out = new ArrayList<>();
        for (LarsPreset p : LarsPreset.values()) {
            for (boolean nesterov : new boolean[] {false, true}) {
                for (Form f : Form.values()) out.add(Arguments.of(p, nesterov, f));
            }
        }
        return out.stream();
    }

    static double lrFor(LarsPreset p) {
        return p == LarsPreset.LARC_CLIP || p == LarsPreset.LARC_SCALE ? 0.5 : 2.0;
    }

    /**
     * One step from random weights. Bound 1e-6 relative L2 per segment on the weights and, because
     * the weights move by only ~1e-3 of their size, on the momentum buffer too (the step itself):
     * its float32 error is a few roundings of the scalars, u, s/d and the fma (each 2^-24), plus
     * the tile-partial rounding of the norms, well under 1e-6.
     */
    @ParameterizedTest(name = "{0} nesterov={1} {2}")
    @MethodSource("presetsNesterovForms")
    void oneStepMatchesReference(LarsPreset preset, boolean nesterov, Form form) {
        ParamLayout layout = TestModels.mixedLayout().excludeFromWeightDecay("bias").build();
        float[][] w0 = TestModels.gaussian(layout, 11, 0.5);
        float[][] g0 = TestModels.gaussian(layout, 12, 0.01);
        double lr = lrFor(preset);

        TestModels.LarsValues rule = TestModels.referenceRule(preset);
        rule.weightDecay = WD;
        rule.nesterov = nesterov;
        rule.lr = t -> lr;
        boolean[][] flags = TestModels.referenceFlags(preset, layout, WD);
        Float64Reference ref = Float64Reference.of(rule.config(), flags[0], flags[1], w0);
        ref.step(g0);

        try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(lr).weightDecay(WD).nesterov(nesterov)
                .backend(Backend.CPU).threads(2).build(layout)) {
            Tensors p = new Tensors(form, layout, w0);
            Tensors g = new Tensors(form, layout, g0);
            assertTrue(TestModels.step(opt, p, g));
            assertEquals(1, opt.stepCount());
            float[][] w1 = p.segments();
            for (int i = 0; i < layout.size(); i++) {
                String name = layout.segment(i).name();
                float[] v = new float[w1[i].length];
                opt.readState("momentum_buffer", i, v);
                assertEquals(flags[0][i], opt.layout().segment(i).decay(), name + " decay flag");
                assertEquals(flags[1][i], opt.layout().segment(i).adapt(), name + " adapt flag");
                assertEquals(ref.trustRatios()[i], opt.lastTrustRatio(i), 1e-6 * Math.abs(ref.trustRatios()[i]), name + " trust ratio");
                double ew = TestModels.relL2(w1[i], ref.weights()[i]);
                double ev = TestModels.relL2(v, ref.state("momentum_buffer")[i]);
                assertTrue(ew <= 1e-6, name + ": weights rel. error " + ew);
                assertTrue(ev <= 1e-6, name + ": momentum rel. error " + ev);
            }
            // The rule must have moved every segment: a no-op engine would fail the bounds above
            // only through the momentum check, so check movement directly as well.
            for (int i = 0; i < layout.size(); i++) {
                assertTrue(TestModels.relL2(w1[i], TestModels.toDouble(w0[i])) > 1e-5, layout.segment(i).name() + " did not move");
            }
        }
    }

    /**
     * Ten steps under a schedule that changes every step (warm-up then polynomial decay, MLPerf
     * momentum correction for MLPERF, TVLARS' phi(t) moving with t). The engine keeps float32
     * weights and state while the reference keeps float64, so rounding accumulates over steps and
     * feeds back through the norms; the bound is 2e-6 on weights and 1e-5 on the momentum.
     */
    @ParameterizedTest(name = "{0} nesterov={1}")
    @MethodSource("presetsNesterov")
    void tenStepsUnderSchedule(LarsPreset preset, boolean nesterov) {
        ParamLayout layout = TestModels.randomLayout(preset.ordinal() * 31L + (nesterov ? 1 : 0), 12);
        float[][] w0 = TestModels.gaussian(layout, 21, 0.5);
        double base = lrFor(preset);
        LrSchedule schedule = LrSchedule.linearWarmup(base, 3).then(3, LrSchedule.polynomial(base, 0.01, 2, 8));

        TestModels.LarsValues rule = TestModels.referenceRule(preset);
        rule.weightDecay = WD;
        rule.nesterov = nesterov;
        rule.lr = schedule::at;
        rule.momentumCorrection = preset == LarsPreset.MLPERF;
        boolean[][] flags = TestModels.referenceFlags(preset, layout, WD);
        Float64Reference ref = Float64Reference.of(rule.config(), flags[0], flags[1], w0);

        try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(schedule).weightDecay(WD).nesterov(nesterov)
                .momentumCorrection(preset == LarsPreset.MLPERF).backend(Backend.CPU).threads(3).build(layout)) {
            Tensors p = new Tensors(Form.FLAT_ARRAY, layout, w0);
            for (int step = 0; step < 10; step++) {
                float[][] g = TestModels.gaussian(layout, 100 + step, 0.01);
                ref.step(g);
                assertTrue(TestModels.step(opt, p, new Tensors(Form.FLAT_ARRAY, layout, g)));
            }
            assertEquals(10, opt.stepCount());
            float[][] w = p.segments();
            for (int i = 0; i < layout.size(); i++) {
                float[] v = new float[w[i].length];
                opt.readState("momentum_buffer", i, v);
                double ew = TestModels.relL2(w[i], ref.weights()[i]);
                double ev = TestModels.relL2(v, ref.state("momentum_buffer")[i]);
                assertTrue(ew <= 2e-6, layout.segment(i).name() + ": weights rel. error " + ew);
                assertTrue(ev <= 1e-5, layout.segment(i).name() + ": momentum rel. error " + ev);
            }
        }
    }

    static Stream<Arguments> presetsNesterov() {
        List<Arguments> out = new ArrayList<>();
        for (LarsPreset p : LarsPreset.values()) {
            out.add(Arguments.of(p, false));
            out.add(Arguments.of(p, true));
        }
        return out.stream();
    }
}

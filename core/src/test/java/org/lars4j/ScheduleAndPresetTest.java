package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.ShapeFile;
import org.lars4j.rule.lars.LarsConfig;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.lars.LarsStepValues;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;
import org.lars4j.schedule.LrSchedule;

/** Schedules (docs/MATH.md section 5) by hand-computed values; preset defaults by the table. */
class ScheduleAndPresetTest {

    @Test
    void schedules() {
        assertEquals(0.25, LrSchedule.constant(0.25).at(7));
        LrSchedule warm = LrSchedule.linearWarmup(1.0, 4);
        assertEquals(0.25, warm.at(1));
        assertEquals(1.0, warm.at(4));
        assertEquals(1.0, warm.at(9));
        // paper: p = 2 over T = 10 steps after a 4-step warm-up: t = 9 -> tau 5 -> (1 - 0.5)^2
        LrSchedule poly = warm.then(4, LrSchedule.polynomial(1.0, 0.0, 2, 10));
        assertEquals(0.75, poly.at(3));
        assertEquals(0.81, poly.at(5), 1e-15);
        assertEquals(0.25, poly.at(9), 1e-15);
        assertEquals(0.0, poly.at(14));
        assertEquals(0.0, poly.at(100));
        LrSchedule cos = LrSchedule.cosine(1.0, 0.0, 4);
        assertEquals(0.5, cos.at(2), 1e-15);
        assertEquals(0.0, cos.at(4), 1e-15);
        // MLPerf: warm-up W = 2, T = 6, end 1e-4, decay steps T - W + 1 = 5: t = 4 -> tau 2 -> 1e-4 + (2 - 1e-4) * 0.36
        LrSchedule ml = LrSchedule.mlperf(2.0, 2, 6);
        assertEquals(1.0, ml.at(1));
        assertEquals(2.0, ml.at(2));
        assertEquals(1e-4 + (2.0 - 1e-4) * 0.36, ml.at(4), 1e-15);
        assertEquals(1e-4 + (2.0 - 1e-4) * 0.04, ml.at(6), 1e-15);
        assertTrue(ml.toString().startsWith("mlperf(2.0, 2, 6)"));
    }

    @Test
    void momentumCorrectionAndPhi() {
        LarsConfig ml = Lars.builder(LarsPreset.MLPERF).learningRate(LrSchedule.linearWarmup(1.0, 4)).momentumCorrection(true).config();
        LarsStepValues s = (LarsStepValues) ml.newStepValues();
        ml.fillStepValues(1, s);
        assertEquals(0.9, s.momentum());
        assertTrue(s.firstStep());
        ml.fillStepValues(3, s);
        assertEquals(0.9 * 0.75 / 0.5, s.momentum(), 1e-15);
        assertEquals(0.75, s.learningRate());
        assertFalse(s.firstStep());
        LarsConfig tv = Lars.builder(LarsPreset.TVLARS).learningRate(0.1).config();
        tv.fillStepValues(5, s);
        assertEquals(1.0 / (0.1 + Math.exp(0.001 * 6)), s.phi(), 1e-15);
        assertEquals(1.0, Lars.builder(LarsPreset.PAPER).learningRate(0.1).config().phi(5));
    }

    @Test
    void presetDefaultsMatchTheTable() {
        Object[][] table = {
            // preset, form, placement, eps, eta, clip, zero-norm quirk, 1-D rule, timm rule, phi, clamp
            {LarsPreset.PAPER, TrustRatioForm.SUM_OF_NORMS, LrPlacement.INSIDE, 0.0, 0.001, false, false, false, false, false, Double.POSITIVE_INFINITY},
            {LarsPreset.MLPERF, TrustRatioForm.SUM_OF_NORMS, LrPlacement.INSIDE, 0.0, 0.001, false, false, true, false, false, Double.POSITIVE_INFINITY},
            {LarsPreset.OPTAX, TrustRatioForm.NORM_OF_SUM, LrPlacement.INSIDE, 0.0, 0.001, false, false, false, false, false, Double.POSITIVE_INFINITY},
            {LarsPreset.TIMM, TrustRatioForm.SUM_OF_NORMS, LrPlacement.OUTSIDE, 1e-8, 0.001, false, false, false, true, false, Double.POSITIVE_INFINITY},
            {LarsPreset.LARC_CLIP, TrustRatioForm.SUM_OF_NORMS, LrPlacement.OUTSIDE, 1e-8, 0.02, true, true, false, false, false, Double.POSITIVE_INFINITY},
            {LarsPreset.LARC_SCALE, TrustRatioForm.SUM_OF_NORMS, LrPlacement.OUTSIDE, 1e-8, 0.02, false, true, false, false, false, Double.POSITIVE_INFINITY},
            {LarsPreset.TVLARS, TrustRatioForm.NORM_OF_SUM, LrPlacement.OUTSIDE, 0.0, 0.001, false, false, false, false, true, 10.0},
        };
        for (Object[] row : table) {
            LarsConfig c = Lars.builder((LarsPreset) row[0]).learningRate(0.1).config();
            String p = row[0].toString();
            assertEquals(row[1], c.form(), p);
            assertEquals(row[2], c.placement(), p);
            assertEquals((double) row[3], c.eps(), 0.0, p);
            assertEquals((double) row[4], c.trustCoefficient(), 0.0, p);
            assertEquals(row[5], c.clip(), p);
            assertEquals(row[6], c.zeroNormSkipsDecay(), p);
            assertEquals(row[7], c.excludeOneDimensional(), p);
            assertEquals(row[8], c.adaptOnlyWithDecay(), p);
            assertEquals(row[9], c.tvlarsPhi(), p);
            assertEquals((double) row[10], c.normClamp(), 0.0, p);
            assertEquals(0.9, c.momentum(), p);
            assertEquals(0.0, c.dampening(), p);
            assertFalse(c.nesterov(), p);
        }
        LarsConfig tv = Lars.builder(LarsPreset.TVLARS).learningRate(0.1).config();
        assertEquals(0.1, tv.tvAlpha());
        assertEquals(0.001, tv.tvLambda());
        assertEquals(-1.0, tv.tvDelay());
        assertEquals(0.0, tv.tvGammaMin());
        // Explicit settings override the preset.
        LarsConfig o = Lars.builder(LarsPreset.LARC_CLIP).learningRate(0.1).clip(false).trustCoefficient(0.005).eps(0).config();
        assertFalse(o.clip());
        assertEquals(0.005, o.trustCoefficient());
        assertEquals(0.0, o.eps());
    }

    @Test
    void layoutOffsetsAndShapeFiles() throws Exception {
        ParamLayout l = ParamLayout.builder().add("conv1.weight", 64, 3, 7, 7).add("bn1.weight", 64).add("bn1.bias", 64)
                .add("fc.weight", new int[] {1000, 2048}, true, true).excludeFromWeightDecay("bn|bias").build();
        assertEquals(0, l.offset(0));
        assertEquals(9408, l.offset(1));
        assertEquals(9472, l.offset(2));
        assertEquals(9536, l.offset(3));
        assertEquals(2057536, l.totalElements());
        assertEquals(2, l.indexOf("bn1.bias"));
        assertEquals(-1, l.indexOf("nope"));
        assertFalse(l.segment(1).decay());
        assertTrue(l.segment(1).adapt());
        ParamLayout resnet = ShapeFile.bundled("resnet50").build();
        assertEquals(161, resnet.size());
        assertEquals(25_557_032L, resnet.totalElements());
    }
}

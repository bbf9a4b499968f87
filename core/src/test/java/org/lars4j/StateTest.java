package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.lars4j.layout.ParamLayout;
import org.lars4j.reference.Float64Reference;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.TestModels;

/** State is owned by the optimizer and can be moved between optimizers bit for bit. */
class StateTest {

    @Test
    void stateTransferEqualsUninterruptedRun() {
        ParamLayout layout = TestModels.randomLayout(77, 10);
        LrSchedule lr = LrSchedule.linearWarmup(1.0, 3);
        float[][] w = TestModels.gaussian(layout, 1, 0.5);
        float[][] a = TestModels.copy(w);
        float[][] b = TestModels.copy(w);
        try (LayerwiseOptimizer one = Lars.builder(LarsPreset.TIMM).learningRate(lr).weightDecay(1e-3).backend(Backend.CPU).build(layout)) {
            for (int s = 0; s < 6; s++) one.step(Arrays.asList(a), Arrays.asList(TestModels.gaussian(layout, 10 + s, 0.01)));
            try (LayerwiseOptimizer first = Lars.builder(LarsPreset.TIMM).learningRate(lr).weightDecay(1e-3).backend(Backend.CPU).threads(1).build(layout)) {
                for (int s = 0; s < 3; s++) first.step(Arrays.asList(b), Arrays.asList(TestModels.gaussian(layout, 10 + s, 0.01)));
                try (LayerwiseOptimizer second = Lars.builder(LarsPreset.TIMM).learningRate(lr).weightDecay(1e-3).backend(Backend.CPU).build(layout)) {
                    for (int i = 0; i < layout.size(); i++) {
                        float[] v = new float[layout.segment(i).length()];
                        first.readState("momentum_buffer", i, v);
                        second.writeState("momentum_buffer", i, v);
                    }
                    second.setStepCount(first.stepCount());
                    for (int s = 3; s < 6; s++) second.step(Arrays.asList(b), Arrays.asList(TestModels.gaussian(layout, 10 + s, 0.01)));
                    assertEquals(6, second.stepCount());
                    for (int i = 0; i < layout.size(); i++) assertArrayEquals(a[i], b[i], layout.segment(i).name());
                }
            }
        }
    }

    /** PyTorch dampening (LR_OUTSIDE) over three steps, with its first-step rule, against the reference. */
    @Test
    void dampeningMatchesReference() {
        ParamLayout layout = TestModels.mixedLayout().build();
        float[][] w = TestModels.gaussian(layout, 3, 0.5);
        TestModels.LarsValues rule = TestModels.referenceRule(LarsPreset.TIMM);
        rule.weightDecay = 0.01;
        rule.dampening = 0.3;
        rule.lr = t -> 1.5;
        boolean[][] flags = TestModels.referenceFlags(LarsPreset.TIMM, layout, 0.01);
        Float64Reference ref = Float64Reference.of(rule.config(), flags[0], flags[1], w);
        float[][] p = TestModels.copy(w);
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM).learningRate(1.5).weightDecay(0.01).dampening(0.3)
                .backend(Backend.CPU).build(layout)) {
            for (int s = 0; s < 3; s++) {
                float[][] g = TestModels.gaussian(layout, 30 + s, 0.01);
                ref.step(g);
                opt.step(Arrays.asList(p), Arrays.asList(g));
            }
            for (int i = 0; i < layout.size(); i++) {
                float[] v = new float[p[i].length];
                opt.readState("momentum_buffer", i, v);
                assertTrue(TestModels.relL2(p[i], ref.weights()[i]) <= 1e-6, layout.segment(i).name());
                assertTrue(TestModels.relL2(v, ref.state("momentum_buffer")[i]) <= 5e-6, layout.segment(i).name() + " momentum");
            }
        }
    }

    @Test
    void resetStateStartsOver() {
        ParamLayout layout = TestModels.mixedLayout().build();
        float[][] w = TestModels.gaussian(layout, 3, 0.5);
        float[][] g = TestModels.gaussian(layout, 4, 0.01);
        float[][] a = TestModels.copy(w);
        float[][] b = TestModels.copy(w);
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.OPTAX).learningRate(1).backend(Backend.CPU).build(layout)) {
            opt.step(Arrays.asList(a), Arrays.asList(g));
            opt.resetState();
            assertEquals(0, opt.stepCount());
            opt.step(Arrays.asList(b), Arrays.asList(g));
            for (int i = 0; i < layout.size(); i++) assertArrayEquals(a[i], b[i]);
        }
    }
}

package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.testing.EngineUnderTest;
import org.lars4j.testing.TargetEngine;
import org.lars4j.testing.TestModels;

/**
 * Non-finite gradients under {@link NonFinitePolicy#PROPAGATE}: the bitwise contract between
 * engines covers every finite result and where the NaNs are, not a NaN's payload. A GPU's fp32
 * arithmetic returns the canonical NaN 0x7fffffff whatever NaN went in, where x86 (the Java engine)
 * keeps an operand's payload or produces 0xffc00000; the emulator returns the GPU's NaN, so that
 * it shows what a GPU writes. the same cases run on a GPU where one is usable (skipped with the reason elsewhere).
 */
@ExtendWith(EngineUnderTest.class)
class NanPayloadTest {
    static final ParamLayout LAYOUT = GraphCaptureTest.LAYOUT;
    private static final int GPU_NAN = 0x7fffffff;

    /** The engine under test, set for each invocation by {@link EngineUnderTest}. */
    private TargetEngine engine;

    Backend target() { return engine.backend(); }

    private static LayerwiseOptimizer lars(Backend b) {
        return Lars.builder(LarsPreset.MLPERF).learningRate(0.5).weightDecay(1e-4).nonFinitePolicy(NonFinitePolicy.PROPAGATE)
                .backend(b).build(LAYOUT);
    }

    private static LayerwiseOptimizer lamb(Backend b) {
        return Lamb.builder(LambPreset.APEX).learningRate(1e-2).nonFinitePolicy(NonFinitePolicy.PROPAGATE).backend(b).build(LAYOUT);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void larsWithNanAndInfinityGradients(TargetEngine engine) {
        sameUpToNanPayload(NanPayloadTest::lars);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void lambWithNanAndInfinityGradients(TargetEngine engine) {
        sameUpToNanPayload(NanPayloadTest::lamb);
    }

    private interface Make {
        LayerwiseOptimizer on(Backend b);
    }

    private void sameUpToNanPayload(Make make) {
        float[][] w0 = TestModels.gaussian(LAYOUT, 5, 0.5);
        float[][][] cpu = twoSteps(make, Backend.CPU, w0);
        float[][][] dev = twoSteps(make, target(), w0);
        int nans = 0;
        for (int k = 0; k < cpu.length; k++) {
            for (int i = 0; i < LAYOUT.size(); i++) {
                String where = (k == 0 ? "weights of " : "state of ") + LAYOUT.segment(i).name();
                for (int j = 0; j < cpu[k][i].length; j++) {
                    float a = cpu[k][i][j];
                    float b = dev[k][i][j];
                    if (Float.isNaN(a)) {
                        assertTrue(Float.isNaN(b), where + "[" + j + "]: NaN on the Java engine, " + b + " here");
                        assertEquals(GPU_NAN, Float.floatToRawIntBits(b),
                                where + "[" + j + "]: a GPU's NaN is 0x7fffffff, got 0x" + Integer.toHexString(Float.floatToRawIntBits(b)));
                        nans++;
                    } else {
                        assertEquals(Float.floatToRawIntBits(a), Float.floatToRawIntBits(b), where + "[" + j + "]");
                    }
                }
            }
        }
        assertTrue(nans > 0, "the case must produce NaNs");
    }

    /** Weights and the first state buffer after two steps, the first with a NaN and an infinite gradient. */
    private static float[][][] twoSteps(Make make, Backend b, float[][] w0) {
        float[][] w = TestModels.copy(w0);
        float[][] state = new float[LAYOUT.size()][];
        try (LayerwiseOptimizer o = make.on(b)) {
            float[][] g = TestModels.gaussian(LAYOUT, 50, 0.01);
            g[0][3] = Float.NaN;
            g[2][7] = Float.POSITIVE_INFINITY;
            o.step(Arrays.asList(w), Arrays.asList(g));
            o.step(Arrays.asList(w), Arrays.asList(TestModels.gaussian(LAYOUT, 51, 0.01)));
            for (int i = 0; i < LAYOUT.size(); i++) {
                state[i] = new float[LAYOUT.segment(i).length()];
                o.readState(o.stateNames().get(0), i, state[i]);
            }
        }
        return new float[][][] {w, state};
    }
}

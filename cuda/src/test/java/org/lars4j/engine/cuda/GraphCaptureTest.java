package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cuda.DeviceBuffers;
import org.lars4j.error.NativeEngineException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.EngineUnderTest;
import org.lars4j.testing.TargetEngine;
import org.lars4j.testing.TestModels;

/**
 * Steps captured in a CUDA graph once and replayed, as a caller that captures its training step
 * does: {@link LayerwiseOptimizer#captureStep} inside the capture, then before each replay
 * {@link LayerwiseOptimizer#prepareGraphStep} (outside it) and a graph launch. The replays must
 * give the Java engine's bits step for step, under a learning rate that changes every step (so a
 * value frozen into the graph at capture time would show). On the emulator a capture records each
 * launch with its arguments as they are at capture time and a replay reruns the records, which is
 * what a real graph does with kernel arguments; the same cases run on a GPU where one is usable (skipped with the reason elsewhere).
 */
@ExtendWith(EngineUnderTest.class)
class GraphCaptureTest {
    static final ParamLayout LAYOUT = ParamLayout.builder().add("a.weight", 4097, 2).add("a.bias", 5).add("b.weight", 300, 3)
            .add("c.weight", 1).excludeFromWeightDecay("bias").build();
    private static final String COOPERATIVE = "lars4j.cuda.cooperative";
    private static final int STEPS = 4;

    /** The engine under test, set for each invocation by {@link EngineUnderTest}. */
    private TargetEngine engine;

    Backend target() { return engine.backend(); }

    @AfterEach
    void cooperativeOff() { System.clearProperty(COOPERATIVE); }

    private static Lars.Builder lars() {
        return Lars.builder(LarsPreset.MLPERF).learningRate(LrSchedule.linearWarmup(2.0, 10)).weightDecay(1e-4);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void larsThreeLaunches(TargetEngine engine) {
        System.setProperty(COOPERATIVE, "false");
        replaysMatchTheJavaEngine(b -> {
            LayerwiseOptimizer o = lars().backend(b).build(LAYOUT);
            if (b != Backend.CPU) assertTrue(o.engineVariant().startsWith("three launches"), o.engineVariant());
            return o;
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void larsWithCarriedWeightNorms(TargetEngine engine) {
        replaysMatchTheJavaEngine(b -> lars().carryWeightNorms(true).backend(b).build(LAYOUT));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void larsCooperativeLaunch(TargetEngine engine) {
        System.setProperty(COOPERATIVE, "true");
        replaysMatchTheJavaEngine(b -> {
            LayerwiseOptimizer o = lars().backend(b).build(LAYOUT);
            if (b != Backend.CPU) assertTrue(o.engineVariant().startsWith("one cooperative launch"), o.engineVariant());
            return o;
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void lambWithGlobalClipping(TargetEngine engine) {
        replaysMatchTheJavaEngine(b -> Lamb.builder(LambPreset.APEX).learningRate(LrSchedule.linearWarmup(1e-2, 10)).backend(b).build(LAYOUT));
    }

    /**
     * A whole step (host values copied, then launches) is not capturable: its copy from host
     * memory would be replayed from memory that is gone. The emulator refuses it as CUDA does,
     * and the refused step changes nothing. Emulator only: on a GPU the refusal is CUDA's own.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void aWholeStepIsRefusedUnderCapture(TargetEngine engine) {
        assumeTrue(target() == Backend.CUDA_EMULATOR);
        Backend b = target();
        float[] w0 = flat(TestModels.gaussian(LAYOUT, 3, 0.5));
        long wd = DeviceBuffers.upload(b, w0);
        long gd = DeviceBuffers.upload(b, flat(grads(0)));
        long stream = DeviceBuffers.createStream(b);
        try (LayerwiseOptimizer dev = lars().backend(b).build(LAYOUT)) {
            DeviceBuffers.beginCapture(b, stream);
            NativeEngineException e;
            try {
                e = assertThrows(NativeEngineException.class, () -> dev.stepDevice(wd, gd, stream));
            } finally {
                DeviceBuffers.destroyGraph(b, DeviceBuffers.endCapture(b, stream));
            }
            // Refused at its first operation that a capture cannot hold: the wait for the plan's
            // previous step (an event from outside the capture) or the copy of the step's values.
            assertTrue(e.getMessage().contains("capture"), e.getMessage());
            assertEquals(0, dev.stepCount());
            float[] after = new float[w0.length];
            DeviceBuffers.download(b, wd, after);
            assertArrayEquals(w0, after, "a refused step must leave the weights alone");
        } finally {
            DeviceBuffers.destroyStream(b, stream);
            DeviceBuffers.free(b, wd);
            DeviceBuffers.free(b, gd);
        }
    }

    private interface Make {
        LayerwiseOptimizer on(Backend b);
    }

    private void replaysMatchTheJavaEngine(Make make) {
        float[][] w0 = TestModels.gaussian(LAYOUT, 3, 0.5);
        // The reference: the Java engine, step by step, keeping the weights after each step.
        float[][][] expected = new float[STEPS][][];
        float[][] w = TestModels.copy(w0);
        try (LayerwiseOptimizer cpu = make.on(Backend.CPU)) {
            for (int s = 0; s < STEPS; s++) {
                cpu.step(Arrays.asList(w), Arrays.asList(grads(s)));
                expected[s] = TestModels.copy(w);
            }
        }
        Backend b = target();
        long wd = DeviceBuffers.upload(b, flat(w0));
        long gd = DeviceBuffers.upload(b, new float[(int) LAYOUT.totalElements()]);
        long stream = DeviceBuffers.createStream(b);
        long graph = 0;
        try (LayerwiseOptimizer dev = make.on(b)) {
            DeviceBuffers.beginCapture(b, stream);
            try {
                dev.captureStep(wd, gd, stream);
            } finally {
                graph = DeviceBuffers.endCapture(b, stream);
            }
            float[] got = new float[(int) LAYOUT.totalElements()];
            DeviceBuffers.download(b, wd, got);
            assertArrayEquals(flat(w0), got, "the capture itself must not run the step");
            for (int s = 0; s < STEPS; s++) {
                DeviceBuffers.uploadInto(b, gd, flat(grads(s)));   // the buffer the graph reads
                dev.prepareGraphStep();
                DeviceBuffers.launchGraph(b, graph, stream);
                DeviceBuffers.synchronize(b, stream);
                DeviceBuffers.download(b, wd, got);
                assertArrayEquals(flat(expected[s]), got, "weights after replay " + (s + 1));
            }
            assertEquals(STEPS, dev.stepCount());
        } finally {
            if (graph != 0) DeviceBuffers.destroyGraph(b, graph);
            DeviceBuffers.destroyStream(b, stream);
            DeviceBuffers.free(b, wd);
            DeviceBuffers.free(b, gd);
        }
    }

    private static float[][] grads(int step) {
        return TestModels.gaussian(LAYOUT, 40 + step, 0.01);
    }

    static float[] flat(float[][] segments) {
        return new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, LAYOUT, segments).flatArray;
    }
}

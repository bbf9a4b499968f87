package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cuda.DeviceBuffers;
import org.lars4j.engine.cuda.NativeLars;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.EngineUnderTest;
import org.lars4j.testing.TargetEngine;
import org.lars4j.testing.TestModels;

/**
 * The native plan's host operations are ordered after the caller's steps on the caller's
 * (non-blocking) stream, and its step results are attributed correctly. Each case holds the
 * caller's stream ({@link DeviceBuffers#holdStream}: what a long kernel does, made deterministic),
 * so that a copy issued on the legacy default stream, which does not wait for non-blocking
 * streams, would land before the step it must follow; the emulator's streams run asynchronously
 * as a GPU's do, so such a copy shows there. A thread opens the hold after {@link #HOLD_MS}, for
 * the cases where the right behaviour is to wait for it. The same cases run
 * on a GPU where one is usable (skipped, with the reason, elsewhere).
 */
@ExtendWith(EngineUnderTest.class)
class StreamOrderTest {
    static final ParamLayout LAYOUT = GraphCaptureTest.LAYOUT;
    private static final long HOLD_MS = 300;
    private static final String COOPERATIVE = "lars4j.cuda.cooperative";

    /** The engine under test, set for each invocation by {@link EngineUnderTest}. */
    private TargetEngine engine;

    Backend target() { return engine.backend(); }

    @AfterEach
    void restore() {
        System.clearProperty(COOPERATIVE);
        if (target() == Backend.CUDA_EMULATOR) NativeLars.setEmulatorCooperativeLimit(0);
    }

    private static Lars.Builder lars() {
        return Lars.builder(LarsPreset.MLPERF).learningRate(LrSchedule.linearWarmup(2.0, 10)).weightDecay(1e-4);
    }

    /** Device buffers, a non-blocking stream and an optimizer on the target, freed in the end. */
    private final class Rig implements AutoCloseable {
        final Backend b = target();
        final float[][] w0 = TestModels.gaussian(LAYOUT, 3, 0.5);
        final long wd = DeviceBuffers.upload(b, GraphCaptureTest.flat(w0));
        final long gd = DeviceBuffers.upload(b, GraphCaptureTest.flat(grads(0)));
        final long stream = DeviceBuffers.createStream(b);
        final LayerwiseOptimizer opt;
        long graph;

        Rig(LayerwiseOptimizer opt) { this.opt = opt; }

        /** Holds the stream; a daemon thread opens it after HOLD_MS. */
        void holdBriefly() {
            long gate = DeviceBuffers.holdStream(b, stream);
            Thread t = new Thread(() -> {
                try {
                    Thread.sleep(HOLD_MS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                DeviceBuffers.releaseStream(b, gate);
            });
            t.setDaemon(true);
            t.start();
        }

        float[] weights() {
            DeviceBuffers.synchronize(b, stream);
            float[] got = new float[(int) LAYOUT.totalElements()];
            DeviceBuffers.download(b, wd, got);
            return got;
        }

        void capture() {
            DeviceBuffers.beginCapture(b, stream);
            try {
                opt.captureStep(wd, gd, stream);
            } finally {
                graph = DeviceBuffers.endCapture(b, stream);
            }
        }

        @Override
        public void close() {
            DeviceBuffers.synchronize(b, stream);
            opt.close();
            if (graph != 0) DeviceBuffers.destroyGraph(b, graph);
            DeviceBuffers.destroyStream(b, stream);
            DeviceBuffers.free(b, wd);
            DeviceBuffers.free(b, gd);
        }
    }

    /** The Java engine's weights and momentum after {@code steps} steps of gradient grads(0). */
    private static float[][][] javaSteps(LayerwiseOptimizer cpu, float[][] w0, int steps) {
        float[][] w = TestModels.copy(w0);
        for (int s = 0; s < steps; s++) cpu.step(Arrays.asList(w), Arrays.asList(grads(0)));
        float[][] m = new float[LAYOUT.size()][];
        for (int i = 0; i < LAYOUT.size(); i++) {
            m[i] = new float[LAYOUT.segment(i).length()];
            cpu.readState("momentum_buffer", i, m[i]);
        }
        return new float[][][] {w, m};
    }

    /**
     * The values of the next graph step are written only once the previous replay is done with
     * them: with the replay held, the second step's learning rate must not reach the first.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void graphStepValuesWaitForThePreviousReplay(TargetEngine engine) {
        float[][] expected;
        try (LayerwiseOptimizer cpu = lars().backend(Backend.CPU).build(LAYOUT)) {
            expected = javaSteps(cpu, TestModels.gaussian(LAYOUT, 3, 0.5), 2)[0];
        }
        try (Rig r = new Rig(lars().backend(target()).build(LAYOUT))) {
            r.capture();
            r.opt.prepareGraphStep();
            r.holdBriefly();
            DeviceBuffers.launchGraph(r.b, r.graph, r.stream);   // waits behind the hold
            r.opt.prepareGraphStep();                            // must wait for that replay
            DeviceBuffers.launchGraph(r.b, r.graph, r.stream);
            assertArrayEquals(GraphCaptureTest.flat(expected), r.weights(), "weights after two replays");
        }
    }

    /**
     * A step enqueued on another stream waits for the plan's previous step: it must neither
     * overwrite that step's values (learning rate) while it runs nor update the momentum first.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void aStepOnAnotherStreamWaitsForThePreviousStep(TargetEngine engine) {
        float[][] expected;
        try (LayerwiseOptimizer cpu = lars().backend(Backend.CPU).build(LAYOUT)) {
            expected = javaSteps(cpu, TestModels.gaussian(LAYOUT, 3, 0.5), 2)[0];
        }
        try (Rig r = new Rig(lars().backend(target()).build(LAYOUT))) {
            long other = DeviceBuffers.createStream(r.b);
            try {
                r.holdBriefly();
                r.opt.stepDevice(r.wd, r.gd, r.stream);   // waits behind the hold
                r.opt.stepDevice(r.wd, r.gd, other);      // must wait for that step
                DeviceBuffers.synchronize(r.b, other);
                assertArrayEquals(GraphCaptureTest.flat(expected), r.weights(), "weights after two steps on two streams");
            } finally {
                DeviceBuffers.synchronize(r.b, other);
                DeviceBuffers.destroyStream(r.b, other);
            }
        }
    }

    /** readState waits for a step still running on the caller's stream: no momentum read mid-update. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void readStateWaitsForTheStep(TargetEngine engine) {
        float[][] momentum;
        try (LayerwiseOptimizer cpu = lars().backend(Backend.CPU).build(LAYOUT)) {
            momentum = javaSteps(cpu, TestModels.gaussian(LAYOUT, 3, 0.5), 1)[1];
        }
        try (Rig r = new Rig(lars().backend(target()).build(LAYOUT))) {
            r.holdBriefly();
            r.opt.stepDevice(r.wd, r.gd, r.stream);
            for (int i = 0; i < LAYOUT.size(); i++) {
                float[] got = new float[LAYOUT.segment(i).length()];
                r.opt.readState("momentum_buffer", i, got);
                assertArrayEquals(momentum[i], got, "momentum of " + LAYOUT.segment(i).name());
            }
        }
    }

    /** writeState lands after a step still running on the caller's stream, not under it. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void writeStateLandsAfterTheStep(TargetEngine engine) {
        stateOpAfterHeldStep(opt -> {
            for (int i = 0; i < LAYOUT.size(); i++) {
                float[] x = new float[LAYOUT.segment(i).length()];
                Arrays.fill(x, 0.25f + i);
                opt.writeState("momentum_buffer", i, x);
            }
        }, i -> 0.25f + i);
    }

    /** resetState (one memset on the plan's stream) lands after a step still running on the caller's stream. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void resetStateLandsAfterTheStep(TargetEngine engine) {
        stateOpAfterHeldStep(LayerwiseOptimizer::resetState, i -> 0f);
    }

    private interface Fill {
        float of(int segment);
    }

    private void stateOpAfterHeldStep(Consumer<LayerwiseOptimizer> op, Fill want) {
        try (Rig r = new Rig(lars().backend(target()).build(LAYOUT))) {
            r.holdBriefly();
            r.opt.stepDevice(r.wd, r.gd, r.stream);
            op.accept(r.opt);
            DeviceBuffers.synchronize(r.b, r.stream);
            for (int i = 0; i < LAYOUT.size(); i++) {
                float[] got = new float[LAYOUT.segment(i).length()];
                r.opt.readState("momentum_buffer", i, got);
                float[] expect = new float[got.length];
                Arrays.fill(expect, want.of(i));
                assertArrayEquals(expect, got, "momentum of " + LAYOUT.segment(i).name());
            }
        }
    }

    /**
     * After a host step that was skipped, graph replays answer lastStepSkipped() from their own
     * flag on the device, not from the host step's.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void skipFlagOfAHostStepDoesNotOutliveIt(TargetEngine engine) {
        try (Rig r = new Rig(lars().backend(target()).build(LAYOUT))) {
            r.capture();
            float[][] w = TestModels.copy(r.w0);
            float[][] g = grads(1);
            g[0][5] = Float.NaN;
            r.opt.step(Arrays.asList(w), Arrays.asList(g));
            assertTrue(r.opt.lastStepSkipped(), "the host step with a NaN gradient is skipped");
            r.opt.prepareGraphStep();
            DeviceBuffers.launchGraph(r.b, r.graph, r.stream);
            DeviceBuffers.synchronize(r.b, r.stream);
            assertFalse(r.opt.lastStepSkipped(), "the replay, on finite gradients, is not");
        }
    }

    /**
     * A step's launches report their own result: an earlier, unrelated failure on this thread
     * (here a cudaFree of an address no allocator returned) is not the step's.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void anEarlierErrorIsNotTheStepsError(TargetEngine engine) {
        int kind = target() == Backend.CUDA ? 0 : 1;
        try (Rig r = new Rig(lars().backend(target()).build(LAYOUT))) {
            assertTrue(NativeLars.deviceFree(kind, 4096L) != 0, "the planted failure");
            r.opt.stepDevice(r.wd, r.gd, r.stream);
            r.weights();
            assertFalse(r.opt.lastStepSkipped());
        }
    }

    /**
     * When the device refuses the planned cooperative grid (MPS, another device), the step falls
     * back to three launches, with the same bits, from then on.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void aRefusedCooperativeGridFallsBackToThreeLaunches(TargetEngine engine) {
        org.junit.jupiter.api.Assumptions.assumeTrue(target() == Backend.CUDA_EMULATOR, "the limit is lowered on the emulator only");
        System.setProperty(COOPERATIVE, "true");
        float[][] expected;
        try (LayerwiseOptimizer cpu = lars().backend(Backend.CPU).build(LAYOUT)) {
            expected = javaSteps(cpu, TestModels.gaussian(LAYOUT, 3, 0.5), 2)[0];
        }
        try (Rig r = new Rig(lars().backend(target()).build(LAYOUT))) {
            // As many blocks as the layout has work items (4), under the emulator's limit of 6.
            assertTrue(r.opt.engineVariant().startsWith("one cooperative launch of 4 blocks"), r.opt.engineVariant());
            r.opt.stepDevice(r.wd, r.gd, r.stream);
            NativeLars.setEmulatorCooperativeLimit(2);
            r.opt.stepDevice(r.wd, r.gd, r.stream);
            assertTrue(r.opt.engineVariant().startsWith("three launches"), r.opt.engineVariant());
            assertArrayEquals(GraphCaptureTest.flat(expected), r.weights(), "weights after a cooperative and a fallback step");
        }
    }

    /**
     * Full tiles at an address that is 4- but not 16-byte aligned take the scalar path: the
     * emulator faults on a misaligned 16-byte access as a GPU does, so a wrong alignment check
     * would show here.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void misalignedTensorsTakeTheScalarPath(TargetEngine engine) {
        float[][] expected;
        try (LayerwiseOptimizer cpu = lars().backend(Backend.CPU).build(LAYOUT)) {
            expected = javaSteps(cpu, TestModels.gaussian(LAYOUT, 3, 0.5), 1)[0];
        }
        Backend b = target();
        int n = (int) LAYOUT.totalElements();
        float[] w = new float[n + 1];
        float[] g = new float[n + 1];
        System.arraycopy(GraphCaptureTest.flat(TestModels.gaussian(LAYOUT, 3, 0.5)), 0, w, 1, n);
        System.arraycopy(GraphCaptureTest.flat(grads(0)), 0, g, 1, n);
        long wd = DeviceBuffers.upload(b, w);
        long gd = DeviceBuffers.upload(b, g);
        long stream = DeviceBuffers.createStream(b);
        try (LayerwiseOptimizer opt = lars().backend(b).build(LAYOUT)) {
            opt.stepDevice(wd + 4, gd + 4, stream);
            DeviceBuffers.synchronize(b, stream);
            DeviceBuffers.download(b, wd, w);
            assertArrayEquals(GraphCaptureTest.flat(expected), Arrays.copyOfRange(w, 1, n + 1));
        } finally {
            DeviceBuffers.destroyStream(b, stream);
            DeviceBuffers.free(b, wd);
            DeviceBuffers.free(b, gd);
        }
    }

    /** The native plans count tiles in 64 bits: a segment within one tile of 2^31 elements does not overflow. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void tileCountOfTheLongestSegment(TargetEngine engine) {
        assertEquals(524288L, NativeLars.segmentTiles(ParamLayout.MAX_SEGMENT_LENGTH));
        assertEquals(524288L, NativeLars.segmentTiles(Integer.MAX_VALUE));
        assertEquals(1L, NativeLars.segmentTiles(1));
    }

    private static float[][] grads(int step) {
        return TestModels.gaussian(LAYOUT, 40 + step, 0.01);
    }
}

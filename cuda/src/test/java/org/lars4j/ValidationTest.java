package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.error.InvalidLayoutException;
import org.lars4j.error.OptimizerClosedException;
import org.lars4j.error.TensorMismatchException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.TestModels;

/** Every public entry point rejects misuse with a typed exception naming the offender, changing nothing. */
class ValidationTest {
    static final ParamLayout LAYOUT = ParamLayout.builder().add("a.weight", 3, 4).add("a.bias", 3).build();

    static <T extends Throwable> void rejects(Class<T> type, String mention, Executable call) {
        T e = assertThrows(type, call);
        assertTrue(e.getMessage().contains(mention), "message '" + e.getMessage() + "' should mention '" + mention + "'");
    }

    static LayerwiseOptimizer opt() {
        return Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.CPU).threads(2).build(LAYOUT);
    }

    @Test
    void layoutErrors() {
        rejects(InvalidLayoutException.class, "no segments", () -> ParamLayout.builder().build());
        rejects(InvalidLayoutException.class, "duplicate segment name 'x'", () -> ParamLayout.builder().add("x", 2).add("x", 3).build());
        rejects(InvalidLayoutException.class, "empty name", () -> ParamLayout.builder().add("", 2).build());
        rejects(InvalidLayoutException.class, "empty name", () -> ParamLayout.builder().add(null, 2).build());
        rejects(InvalidLayoutException.class, "'z' has a non-positive dimension", () -> ParamLayout.builder().add("z", 3, 0).build());
        rejects(InvalidLayoutException.class, "'n' has a null shape", () -> ParamLayout.builder().add("n", (int[]) null).build());
        rejects(InvalidLayoutException.class, "'huge' has more than", () -> ParamLayout.builder().add("huge", 65536, 65536).build());
        rejects(InvalidLayoutException.class, "bad regex '(('", () -> ParamLayout.builder().excludeFromWeightDecay("(("));
        rejects(InvalidLayoutException.class, "layout is null",
                () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).build(null));
    }

    @Test
    void hyperparameterErrors() {
        Lars.Builder b = Lars.builder(LarsPreset.TIMM).learningRate(0.1);
        rejects(InvalidHyperparameterException.class, "learningRate is not set", () -> Lars.builder(LarsPreset.PAPER).config());
        rejects(InvalidHyperparameterException.class, "momentum", () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).momentum(Double.NaN).config());
        rejects(InvalidHyperparameterException.class, "momentum", () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).momentum(-0.5).config());
        rejects(InvalidHyperparameterException.class, "weightDecay", () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).weightDecay(-1).config());
        rejects(InvalidHyperparameterException.class, "eps", () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).eps(Double.NaN).config());
        rejects(InvalidHyperparameterException.class, "trustCoefficient", () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).trustCoefficient(0).config());
        rejects(InvalidHyperparameterException.class, "dampening", () -> b.dampening(1.5).config());
        rejects(InvalidHyperparameterException.class, "dampening applies only with LrPlacement.OUTSIDE",
                () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).dampening(0.1).config());
        rejects(InvalidHyperparameterException.class, "nesterov", () -> Lars.builder(LarsPreset.TIMM).learningRate(0.1).dampening(0.1).nesterov(true).config());
        rejects(InvalidHyperparameterException.class, "normClamp", () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).normClamp(0).config());
        rejects(InvalidHyperparameterException.class, "momentumCorrection", () -> Lars.builder(LarsPreset.TIMM).learningRate(0.1).momentumCorrection(true).config());
        rejects(InvalidHyperparameterException.class, "tvAlpha", () -> Lars.builder(LarsPreset.TVLARS).learningRate(0.1).tvlars(-1, 0.001, -1, 0).config());
        rejects(InvalidHyperparameterException.class, "threads", () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).threads(0).build(LAYOUT));
        rejects(InvalidHyperparameterException.class, "constant lr must be finite", () -> LrSchedule.constant(Double.NaN));
        rejects(InvalidHyperparameterException.class, "warmupSteps", () -> LrSchedule.linearWarmup(0.1, 0));
    }

    private static ByteBuffer bytes(int n) {
        return ByteBuffer.allocateDirect(n).order(ByteOrder.nativeOrder());
    }

    @Test
    void tensorErrorsChangeNothing() {
        try (LayerwiseOptimizer opt = opt()) {
            float[] w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
            float[] g = new float[15];
            Arrays.fill(g, 0.5f);
            float[] before = w.clone();
            rejects(TensorMismatchException.class, "params: flat array has 14 elements but the layout has 15", () -> opt.step(new float[14], g));
            rejects(TensorMismatchException.class, "grads: flat array has 16 elements", () -> opt.step(w, new float[16]));
            rejects(TensorMismatchException.class, "params is null", () -> opt.step((float[]) null, g));
            rejects(TensorMismatchException.class, "same array", () -> opt.step(w, w));
            rejects(TensorMismatchException.class, "grads: list has 1 tensors but the layout has 2 segments",
                    () -> opt.step(List.of(new float[12], new float[3]), List.<float[]>of(new float[12])));
            rejects(TensorMismatchException.class, "segment 'a.bias' [3] needs 3 elements, got 4",
                    () -> opt.step(List.of(new float[12], new float[3]), List.of(new float[12], new float[4])));
            rejects(TensorMismatchException.class, "tensor for segment 'a.weight' is null",
                    () -> opt.step(Arrays.asList(null, new float[3]), List.of(new float[12], new float[3])));
            rejects(TensorMismatchException.class, "params buffer is read-only",
                    () -> opt.step(FloatBuffer.wrap(w).asReadOnlyBuffer(), FloatBuffer.wrap(g)));
            rejects(TensorMismatchException.class, "flat buffer has 13 elements remaining",
                    () -> opt.step(TestModels.direct(13), FloatBuffer.wrap(g)));
            rejects(TensorMismatchException.class, "params buffer of segment 'a.weight' is read-only",
                    () -> opt.stepBuffers(List.of(TestModels.direct(12).asReadOnlyBuffer(), TestModels.direct(3)),
                            List.of(TestModels.direct(12), TestModels.direct(3))));
            rejects(TensorMismatchException.class, "params: flat byte buffer has 56 bytes remaining but the layout's 15 floats need 60",
                    () -> opt.step(bytes(56), bytes(60)));
            rejects(TensorMismatchException.class, "grads: byte buffer position 2 is not a multiple of 4",
                    () -> opt.step(bytes(60), bytes(62).position(2)));
            rejects(TensorMismatchException.class, "params buffer is read-only", () -> opt.step(bytes(60).asReadOnlyBuffer(), bytes(60)));
            ByteBuffer same = bytes(60);
            rejects(TensorMismatchException.class, "same buffer", () -> opt.step(same, same));
            rejects(TensorMismatchException.class, "params: segment 'a.bias': byte buffer position 1 is not a multiple of 4",
                    () -> opt.stepByteBuffers(List.of(bytes(48), bytes(13).position(1)), List.of(bytes(48), bytes(12))));
            rejects(TensorMismatchException.class, "grads: byte buffer of segment 'a.bias' has 13 bytes remaining, not a whole number of floats",
                    () -> opt.stepByteBuffers(List.of(bytes(48), bytes(12)), List.of(bytes(48), bytes(13))));
            rejects(TensorMismatchException.class, "segment 'a.weight' [3, 4] needs 12 elements, got 11",
                    () -> opt.stepByteBuffers(List.of(bytes(44), bytes(12)), List.of(bytes(48), bytes(12))));
            rejects(TensorMismatchException.class, "params buffer of segment 'a.bias' is read-only",
                    () -> opt.stepByteBuffers(List.of(bytes(48), bytes(12).asReadOnlyBuffer()), List.of(bytes(48), bytes(12))));
            rejects(IllegalArgumentException.class, "no state buffer 'exp_avg'", () -> opt.readState("exp_avg", 0, new float[12]));
            rejects(TensorMismatchException.class, "momentum_buffer: segment 'a.bias' [3] needs 3 elements, got 12",
                    () -> opt.writeState("momentum_buffer", 1, new float[12]));
            rejects(IndexOutOfBoundsException.class, "segment index 2", () -> opt.readState("momentum_buffer", 2, new float[3]));
            assertArrayEquals(before, w);
            assertEquals(0, opt.stepCount());
            float[] v = new float[12];
            opt.readState("momentum_buffer", 0, v);
            assertArrayEquals(new float[12], v);
            assertTrue(opt.step(w, g));
        }
    }

    /** A schedule that yields a bad learning rate is rejected before anything is written. */
    @Test
    void badScheduledLearningRateChangesNothing() {
        LrSchedule bad = t -> t == 2 ? Double.NaN : (t == 3 ? -1 : 0.1);
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(bad).backend(Backend.CPU).build(LAYOUT)) {
            float[] w = new float[15];
            Arrays.fill(w, 1f);
            float[] g = new float[15];
            Arrays.fill(g, 0.1f);
            assertTrue(opt.step(w, g));
            float[] after1 = w.clone();
            rejects(InvalidHyperparameterException.class, "learning rate at step 2 is NaN", () -> opt.step(w, g));
            assertArrayEquals(after1, w);
            assertEquals(1, opt.stepCount());
            opt.setStepCount(2);
            rejects(InvalidHyperparameterException.class, "learning rate at step 3 is -1.0", () -> opt.step(w, g));
            assertArrayEquals(after1, w);
        }
    }

    @Test
    void useAfterClose() {
        LayerwiseOptimizer opt = opt();
        opt.close();
        opt.close(); // idempotent
        rejects(OptimizerClosedException.class, "closed", () -> opt.step(new float[15], new float[15]));
        rejects(OptimizerClosedException.class, "closed", () -> opt.readState("momentum_buffer", 0, new float[12]));
        rejects(OptimizerClosedException.class, "closed", () -> opt.setStepCount(3));
    }

    @Test
    void unavailableBackendsSayWhy() {
        rejects(BackendUnavailableException.class, "cuda engine unavailable",
                () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.CUDA).build(LAYOUT));
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.AUTO).build(LAYOUT)) {
            assertEquals("cpu", opt.engineName());
        }
        rejects(IllegalArgumentException.class, "unknown backend 'gpu'", () -> Backend.parse("gpu"));
        rejects(IllegalArgumentException.class, "unknown LARS preset 'lamb'", () -> LarsPreset.parse("lamb"));
    }
}

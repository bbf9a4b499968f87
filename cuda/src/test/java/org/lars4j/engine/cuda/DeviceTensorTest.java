package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerPointer;
import org.junit.jupiter.api.Test;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cuda.CudaSteps;
import org.lars4j.engine.cuda.DeviceBuffers;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.error.TensorMismatchException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.testing.TestModels;

/**
 * The device-memory API (flat base + offsets, and device pointer tables) on the emulated CUDA
 * engine, where device memory is host memory: same bits as the Java engine on host arrays.
 */
class DeviceTensorTest {
    static final ParamLayout LAYOUT = ParamLayout.builder().add("a.weight", 4097, 2).add("a.bias", 5).add("b.weight", 300, 3)
            .excludeFromWeightDecay("bias").build();

    static LayerwiseOptimizer opt(Backend b) {
        return Lars.builder(LarsPreset.TIMM).learningRate(0.8).weightDecay(0.01).nesterov(true).backend(b).build(LAYOUT);
    }

    /** The Java engine's weights after three steps from {@code w0} (gradients seeded 20, 21, 22). */
    static float[][] threeJavaSteps(float[][] w0) {
        float[][] w = TestModels.copy(w0);
        try (LayerwiseOptimizer cpu = opt(Backend.CPU)) {
            for (int s = 0; s < 3; s++) cpu.step(Arrays.asList(w), Arrays.asList(TestModels.gaussian(LAYOUT, 20 + s, 0.01)));
        }
        return w;
    }

    static void assertFlatEquals(float[][] expected, FloatPointer flatDevice) {
        float[] flat = new float[(int) LAYOUT.totalElements()];
        flatDevice.get(flat);
        for (int i = 0; i < LAYOUT.size(); i++) {
            float[] got = Arrays.copyOfRange(flat, (int) LAYOUT.offset(i), (int) LAYOUT.offset(i) + expected[i].length);
            assertArrayEquals(expected[i], got, LAYOUT.segment(i).name());
        }
    }

    @Test
    void flatAndTableFormsMatchTheJavaEngine() {
        float[][] w0 = TestModels.gaussian(LAYOUT, 1, 0.5);
        float[][] expected = threeJavaSteps(w0);
        int total = (int) LAYOUT.totalElements();
        try (LayerwiseOptimizer emu = opt(Backend.CUDA_EMULATOR);
             FloatPointer w = new FloatPointer(total);
             FloatPointer g = new FloatPointer(total)) {
            w.put(new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, LAYOUT, w0).flatArray);
            for (int s = 0; s < 3; s++) {
                float[][] gs = TestModels.gaussian(LAYOUT, 20 + s, 0.01);
                g.put(new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, LAYOUT, gs).flatArray);
                CudaSteps.stepDevice(emu, w, g, null);
                assertFalse(emu.lastStepSkipped());
            }
            assertEquals(3, emu.stepCount());
            assertFlatEquals(expected, w);
        }
        // List form: device tables of per-segment pointers.
        try (LayerwiseOptimizer emu = opt(Backend.CUDA_EMULATOR)) {
            FloatPointer[] ws = new FloatPointer[LAYOUT.size()];
            FloatPointer[] gs = new FloatPointer[LAYOUT.size()];
            for (int i = 0; i < LAYOUT.size(); i++) {
                ws[i] = new FloatPointer(w0[i]);
                gs[i] = new FloatPointer(w0[i].length);
            }
            try (PointerPointer<FloatPointer> wt = new PointerPointer<>(ws); PointerPointer<FloatPointer> gt = new PointerPointer<>(gs)) {
                for (int s = 0; s < 3; s++) {
                    float[][] g = TestModels.gaussian(LAYOUT, 20 + s, 0.01);
                    for (int i = 0; i < LAYOUT.size(); i++) gs[i].put(g[i]);
                    CudaSteps.stepDeviceList(emu, wt, gt, null);
                    // Steps are asynchronous, as on a GPU: the gradients must not change under one.
                    DeviceBuffers.synchronize(Backend.CUDA_EMULATOR);
                }
                for (int i = 0; i < LAYOUT.size(); i++) {
                    float[] got = new float[w0[i].length];
                    ws[i].get(got);
                    assertArrayEquals(expected[i], got, LAYOUT.segment(i).name());
                }
            }
            for (int i = 0; i < LAYOUT.size(); i++) {
                ws[i].close();
                gs[i].close();
            }
        }
    }

    /**
     * The CUDA-graph split (values written outside the capture, launches alone inside it) gives
     * the same bits as ordinary steps; on the emulator the "replay" is calling captureStep again.
     */
    @Test
    void graphStyleStepsMatchTheJavaEngine() {
        float[][] w0 = TestModels.gaussian(LAYOUT, 1, 0.5);
        float[][] expected = threeJavaSteps(w0);
        int total = (int) LAYOUT.totalElements();
        try (LayerwiseOptimizer emu = opt(Backend.CUDA_EMULATOR);
             FloatPointer w = new FloatPointer(total);
             FloatPointer g = new FloatPointer(total)) {
            w.put(new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, LAYOUT, w0).flatArray);
            for (int s = 0; s < 3; s++) {
                g.put(new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, LAYOUT, TestModels.gaussian(LAYOUT, 20 + s, 0.01)).flatArray);
                emu.prepareGraphStep();
                emu.captureStep(w.address(), g.address(), 0);
                DeviceBuffers.synchronize(Backend.CUDA_EMULATOR);   // launches are asynchronous, as on a GPU
            }
            assertEquals(3, emu.stepCount());
            assertFlatEquals(expected, w);
        }
    }

    @Test
    void deviceStepReportsSkipAfterSync() {
        int total = (int) LAYOUT.totalElements();
        try (LayerwiseOptimizer emu = opt(Backend.CUDA_EMULATOR);
             FloatPointer w = new FloatPointer(total);
             FloatPointer g = new FloatPointer(total)) {
            float[] ones = new float[total];
            Arrays.fill(ones, 1f);
            w.put(ones);
            ones[7] = Float.POSITIVE_INFINITY;
            g.put(ones);
            CudaSteps.stepDevice(emu, w, g, null);
            assertTrue(emu.lastStepSkipped());
            float[] after = new float[total];
            w.get(after);
            for (float x : after) assertEquals(1f, x);
        }
    }

    /** The GPU harness's timing path (rotated buffers, per-step timing) on the emulator. */
    @Test
    void timedDeviceStepsRotateBuffersAndLeaveTheCountAlone() {
        int total = (int) LAYOUT.totalElements();
        float[] w = new float[total];
        float[] g = new float[total];
        Arrays.fill(w, 0.5f);
        Arrays.fill(g, 0.01f);
        long[] ws = {DeviceBuffers.upload(Backend.CUDA_EMULATOR, w), DeviceBuffers.upload(Backend.CUDA_EMULATOR, w)};
        long[] gs = {DeviceBuffers.upload(Backend.CUDA_EMULATOR, g), DeviceBuffers.upload(Backend.CUDA_EMULATOR, g)};
        try (LayerwiseOptimizer emu = opt(Backend.CUDA_EMULATOR)) {
            double[] us = emu.timeDeviceSteps(ws, gs, 1, 3);
            assertEquals(3, us.length);
            for (double t : us) assertTrue(t > 0);
            assertEquals(0, emu.stepCount());
            assertTrue(DeviceBuffers.copyBandwidth(Backend.CUDA_EMULATOR, 1 << 20, 3) > 0);
        } finally {
            for (long a : ws) DeviceBuffers.free(Backend.CUDA_EMULATOR, a);
            for (long a : gs) DeviceBuffers.free(Backend.CUDA_EMULATOR, a);
        }
    }

    /**
     * Samples of back-to-back steps behind a held stream, and graph replays, run exactly the
     * steps asked for: 1 + 2 x 4 steps in batches of 4, 1 + 8 x 1 one by one, and 1 + 2 x 4 graph
     * replays leave the same bits in the rotated buffers, and not the initial ones.
     */
    @Test
    void batchedAndGraphTimingRunTheSameSteps() {
        float[][] results = new float[3][];
        int total = (int) LAYOUT.totalElements();
        float[] g = new float[total];
        Arrays.fill(g, 0.01f);
        float[] w0 = new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, LAYOUT, TestModels.gaussian(LAYOUT, 4, 0.5)).flatArray;
        int[][] modes = {{2, 4, 0}, {8, 1, 0}, {2, 4, 1}};   // reps, batch, graphs
        for (int m = 0; m < modes.length; m++) {
            long[] ws = {DeviceBuffers.upload(Backend.CUDA_EMULATOR, w0), DeviceBuffers.upload(Backend.CUDA_EMULATOR, w0)};
            long[] gs = {DeviceBuffers.upload(Backend.CUDA_EMULATOR, g), DeviceBuffers.upload(Backend.CUDA_EMULATOR, g)};
            try (LayerwiseOptimizer emu = opt(Backend.CUDA_EMULATOR)) {
                double[] us = emu.timeDeviceSteps(ws, gs, 1, modes[m][0], modes[m][1], modes[m][2] == 1);
                assertEquals(modes[m][0], us.length);
                for (double t : us) assertTrue(t > 0);
                assertEquals(0, emu.stepCount());
                results[m] = new float[2 * total];
                float[] part = new float[total];
                for (int r = 0; r < 2; r++) {
                    DeviceBuffers.download(Backend.CUDA_EMULATOR, ws[r], part);
                    System.arraycopy(part, 0, results[m], r * total, total);
                }
                assertThrows(IllegalArgumentException.class, () -> emu.timeDeviceSteps(ws, gs, 0, 1, 33, false));
            } finally {
                for (long a : ws) DeviceBuffers.free(Backend.CUDA_EMULATOR, a);
                for (long a : gs) DeviceBuffers.free(Backend.CUDA_EMULATOR, a);
            }
        }
        assertFalse(Arrays.equals(Arrays.copyOf(results[0], total), w0), "the timed steps changed the weights");
        assertArrayEquals(results[0], results[1], "batches of 4 vs one by one");
        assertArrayEquals(results[0], results[2], "graph replays vs launches");
    }

    @Test
    void deviceArgumentsAreValidated() {
        try (LayerwiseOptimizer emu = opt(Backend.CUDA_EMULATOR); FloatPointer small = new FloatPointer(10);
             FloatPointer ok = new FloatPointer(LAYOUT.totalElements())) {
            TensorMismatchException e = assertThrows(TensorMismatchException.class, () -> CudaSteps.stepDevice(emu, small, ok, null));
            assertTrue(e.getMessage().contains("params: pointer holds 10 elements"), e.getMessage());
            e = assertThrows(TensorMismatchException.class, () -> emu.stepDevice(0L, 64L, 0L));
            assertTrue(e.getMessage().contains("params is a null device address"), e.getMessage());
            e = assertThrows(TensorMismatchException.class, () -> emu.stepDevice(66L, 128L, 0L));
            assertTrue(e.getMessage().contains("not 4-byte aligned"), e.getMessage());
            assertEquals(0, emu.stepCount());
        }
        try (LayerwiseOptimizer cpu = opt(Backend.CPU)) {
            BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> cpu.stepDevice(64L, 128L, 0L));
            assertTrue(e.getMessage().contains("need the cuda or cuda-emulator engine"), e.getMessage());
        }
    }
}

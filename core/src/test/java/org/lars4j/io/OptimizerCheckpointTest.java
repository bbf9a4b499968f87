package org.lars4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;

/** Save, load, step == an uninterrupted run, bitwise; mismatches rejected by name, changing nothing. */
class OptimizerCheckpointTest {
    @TempDir
    Path dir;

    static final ParamLayout LAYOUT = ParamLayout.builder().add("a.weight", 70, 70).add("a.bias", 70).build();

    static float[][] data(long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] x = {new float[4900], new float[70]};
        for (float[] t : x) for (int i = 0; i < t.length; i++) t[i] = (float) ((r.nextDouble() - 0.5) * scale);
        return x;
    }

    static LayerwiseOptimizer lars() {
        return Lars.builder(LarsPreset.MLPERF).learningRate(LrSchedule.mlperf(2.0, 2, 10)).momentumCorrection(true)
                .weightDecay(1e-4).backend(Backend.CPU).build(LAYOUT);
    }

    @Test
    void saveLoadStepEqualsUninterruptedRun() throws IOException {
        for (boolean lamb : new boolean[] {false, true}) {
            float[][] a = data(1, 1);
            float[][] b = data(1, 1);
            Path file = dir.resolve(lamb ? "lamb.safetensors" : "lars.safetensors");
            try (LayerwiseOptimizer one = lamb ? lambOpt() : lars(); LayerwiseOptimizer first = lamb ? lambOpt() : lars()) {
                for (int s = 0; s < 5; s++) one.step(Arrays.asList(a), Arrays.asList(data(10 + s, 0.01)));
                for (int s = 0; s < 2; s++) first.step(Arrays.asList(b), Arrays.asList(data(10 + s, 0.01)));
                OptimizerCheckpoint.save(first, file);
            }
            try (LayerwiseOptimizer second = lamb ? lambOpt() : lars()) {
                OptimizerCheckpoint.load(second, file);
                assertEquals(2, second.stepCount());
                for (int s = 2; s < 5; s++) second.step(Arrays.asList(b), Arrays.asList(data(10 + s, 0.01)));
                for (int i = 0; i < 2; i++) assertArrayEquals(a[i], b[i], (lamb ? "lamb " : "lars ") + LAYOUT.segment(i).name());
            }
        }
    }

    static LayerwiseOptimizer lambOpt() {
        return Lamb.builder(LambPreset.APEX).learningRate(1e-2).backend(Backend.CPU).build(LAYOUT);
    }

    @Test
    void mismatchesNameTheFirstTensorAndChangeNothing() throws IOException {
        Path file = dir.resolve("s.safetensors");
        try (LayerwiseOptimizer opt = lars()) {
            float[][] w = data(1, 1);
            opt.step(Arrays.asList(w), Arrays.asList(data(2, 0.01)));
            OptimizerCheckpoint.save(opt, file);
        }
        ParamLayout other = ParamLayout.builder().add("a.weight", 49, 100).add("a.bias", 70).build();
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.MLPERF).learningRate(0.1).backend(Backend.CPU).build(other)) {
            IOException e = assertThrows(IOException.class, () -> OptimizerCheckpoint.load(opt, file));
            assertTrue(e.getMessage().contains("state tensor 'a.weight.momentum_buffer' is F32[70, 70] but the layout needs F32[49, 100]"), e.getMessage());
            assertEquals(0, opt.stepCount());
            float[] v = new float[4900];
            opt.readState("momentum_buffer", 0, v);
            assertArrayEquals(new float[4900], v);
        }
        try (LayerwiseOptimizer opt = lambOpt()) {
            IOException e = assertThrows(IOException.class, () -> OptimizerCheckpoint.load(opt, file));
            assertTrue(e.getMessage().contains("state of optimizer 'lars', this optimizer is 'lamb'"), e.getMessage());
        }
        ParamLayout extra = ParamLayout.builder().add("a.weight", 70, 70).build();
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.MLPERF).learningRate(0.1).backend(Backend.CPU).build(extra)) {
            IOException e = assertThrows(IOException.class, () -> OptimizerCheckpoint.load(opt, file));
            assertTrue(e.getMessage().contains("tensor 'a.bias.momentum_buffer' matches no segment"), e.getMessage());
        }
    }
}

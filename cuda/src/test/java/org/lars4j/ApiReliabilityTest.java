package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.error.OptimizerClosedException;
import org.lars4j.io.OptimizerCheckpoint.PresetMismatchException;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;

/** The API refuses what it cannot do at build time, at its limits, and says so by type. */
class ApiReliabilityTest {
    @TempDir
    Path dir;

    static final ParamLayout LAYOUT = ParamLayout.builder().add("a.weight", 4, 8).add("a.bias", 4).build();

    static float[] filled(float v) {
        float[] x = new float[(int) LAYOUT.totalElements()];
        for (int i = 0; i < x.length; i++) x[i] = v + i * 0.01f;
        return x;
    }

    @Test
    void aLearningRateOrHyperparameterThatOverflowsFloat32IsRefusedInBuild() {
        InvalidHyperparameterException lr = assertThrows(InvalidHyperparameterException.class,
                () -> Lars.builder(LarsPreset.TIMM).learningRate(1e300).build(LAYOUT));
        assertEquals("learning rate at step 1 is 1.0E300, which overflows float32 (the precision the step uses)", lr.getMessage());
        assertThrows(InvalidHyperparameterException.class, () -> Lamb.builder(LambPreset.PAPER).learningRate(1e39).build(LAYOUT));
        InvalidHyperparameterException mu = assertThrows(InvalidHyperparameterException.class,
                () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).momentum(1e39).build(LAYOUT));
        assertEquals("momentum 1.0E39 overflows float32 (the precision the step uses)", mu.getMessage());
        assertThrows(InvalidHyperparameterException.class, () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).weightDecay(1e300).build(LAYOUT));
        assertThrows(InvalidHyperparameterException.class, () -> Lars.builder(LarsPreset.PAPER).learningRate(0.1).trustCoefficient(1e39).build(LAYOUT));
        assertThrows(InvalidHyperparameterException.class, () -> Lamb.builder(LambPreset.PAPER).learningRate(0.1).eps(1e39).build(LAYOUT));
        // The largest float is still accepted: the bound is float32's, not an arbitrary one.
        Lars.builder(LarsPreset.PAPER).learningRate(0.1).weightDecay(Float.MAX_VALUE).config();
    }

    @Test
    void aNegativeLearningRateFailsInBuildNotAtTheFirstStep() {
        InvalidHyperparameterException e = assertThrows(InvalidHyperparameterException.class,
                () -> Lars.builder(LarsPreset.TIMM).learningRate(-1).build(LAYOUT));
        assertEquals("learning rate at step 1 is -1.0 (must be finite and >= 0)", e.getMessage());
        assertThrows(InvalidHyperparameterException.class, () -> Lamb.builder(LambPreset.APEX).learningRate(-1e-3).build(LAYOUT));
    }

    @Test
    void aStepAtTheCounterLimitIsRefusedAndChangesNothing() {
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.CPU).build(LAYOUT)) {
            opt.setStepCount(Long.MAX_VALUE);
            float[] w = filled(1);
            float[] before = w.clone();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> opt.step(w, filled(0.5f)));
            assertEquals("the step counter is at its limit (9223372036854775807 steps); no further step can be counted", e.getMessage());
            assertArrayEquals(before, w);
            assertEquals(Long.MAX_VALUE, opt.stepCount());
        }
    }

    @Test
    void aSegmentIndexOutOfRangeIsATypedErrorNamingTheRange() {
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.CPU).build(LAYOUT)) {
            opt.step(filled(1), filled(0.5f));
            for (int bad : new int[] {99, -1, 2}) {
                IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> opt.lastTrustRatio(bad));
                assertEquals(IndexOutOfBoundsException.class, e.getClass(), "not a raw array index error");
                assertEquals("segment index " + bad + " outside 0..1", e.getMessage());
                assertThrows(IndexOutOfBoundsException.class, () -> opt.lastWeightNorm(bad));
                assertThrows(IndexOutOfBoundsException.class, () -> opt.lastGradNorm(bad));
            }
        }
    }

    @Test
    void everyEngineReportsNaNDiagnosticsBeforeTheFirstStep() {
        for (Backend b : new Backend[] {Backend.CPU, Backend.CUDA_EMULATOR}) {
            for (boolean lamb : new boolean[] {false, true}) {
                try (LayerwiseOptimizer opt = lamb
                        ? Lamb.builder(LambPreset.APEX).learningRate(0.01).backend(b).build(LAYOUT)
                        : Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(b).build(LAYOUT)) {
                    for (int i = 0; i < LAYOUT.size(); i++) {
                        String what = b + (lamb ? " lamb" : " lars") + " segment " + i;
                        assertEquals(Double.NaN, opt.lastTrustRatio(i), what);
                        assertEquals(Double.NaN, opt.lastWeightNorm(i), what);
                        assertEquals(Double.NaN, opt.lastGradNorm(i), what);
                    }
                }
            }
        }
    }

    @Test
    void diagnosticsAreAvailableBySegmentName() {
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.CPU).build(LAYOUT)) {
            opt.step(filled(1), filled(0.5f));
            assertEquals(opt.lastTrustRatio(0), opt.lastTrustRatio("a.weight"));
            assertEquals(opt.lastWeightNorm(1), opt.lastWeightNorm("a.bias"));
            assertEquals(opt.lastGradNorm(1), opt.lastGradNorm("a.bias"));
            assertTrue(opt.lastTrustRatio("a.weight") > 0);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.lastTrustRatio("fc.weight"));
            assertEquals("no segment named 'fc.weight' in the layout", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> opt.lastTrustRatio((String) null));
        }
    }

    @Test
    void diagnosticsOfAClosedOptimizerAreRefused() {
        LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.CUDA_EMULATOR).build(LAYOUT);
        opt.close();
        assertThrows(OptimizerClosedException.class, () -> opt.lastTrustRatio(0));
    }

    @Test
    void aStateOfAnotherPresetIsRefusedUnlessAllowed() throws IOException {
        Path file = dir.resolve("mlperf.safetensors");
        try (LayerwiseOptimizer mlperf = Lars.builder(LarsPreset.MLPERF).learningRate(0.1).backend(Backend.CPU).build(LAYOUT)) {
            mlperf.step(filled(1), filled(0.5f));
            OptimizerCheckpoint.save(mlperf, file);
        }
        try (LayerwiseOptimizer timm = Lars.builder(LarsPreset.TIMM).learningRate(0.1).backend(Backend.CPU).build(LAYOUT)) {
            PresetMismatchException e = assertThrows(PresetMismatchException.class, () -> OptimizerCheckpoint.load(timm, file));
            assertEquals(file + ": state written by lars preset 'mlperf', this optimizer is lars preset 'timm'", e.getMessage());
            assertEquals(0, timm.stepCount(), "nothing loaded");
            OptimizerCheckpoint.load(timm, file, true);
            assertEquals(1, timm.stepCount());
        }
    }
}

package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerPointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cuda.CudaEmulatorEngine.Schedule;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;
import org.lars4j.testing.EngineUnderTest;
import org.lars4j.testing.TargetEngine;
import org.lars4j.testing.TestModels;
import org.lars4j.testing.TestModels.Form;
import org.lars4j.testing.TestModels.Tensors;

/**
 * Lookahead around the rules on the native engines: bitwise the Java engine's weights, state
 * (the slow weights included) and diagnostics, for every {@link TargetEngine} (LARS: the grouped
 * step, one group, three launches; LAMB: its default step). Every LARS and LAMB preset over two
 * k cycles and a half under a changing learning rate (the copy at step 1, syncs, steps between);
 * k = 1 with alpha = 1 and alpha = 0.3; zero norms; a skipped step between syncs; carried
 * weight norms across a sync; every storage form; resetState; a checkpoint written by the Java
 * engine continued on the target; device steps (flat and, on the emulator, list form) and CUDA
 * graph replays, whose step values carry the stage's copy and sync. Alphas are not powers of
 * two: with alpha = 0.5, {@code phi + alpha * (w - phi)} with or without an fma is the same
 * number, and a kernel that dropped the fma would pass.
 */
@ExtendWith(EngineUnderTest.class)
class LookaheadConformanceTest {
    static final String SLOW = "lookahead_slow";
    static final LrSchedule LR = LrSchedule.linearWarmup(1.5, 2).then(2, LrSchedule.cosine(1.5, 0.1, 5));

    @AfterAll
    static void restoreSchedule() {
        CudaEmulatorEngine.setSchedule(Schedule.FORWARD, 1);
    }

    /** EngineConformanceTest's tile-boundary layout and a zero-weight segment (zero norms). */
    static ParamLayout layout() {
        return ParamLayout.builder()
                .add("len1", 1)
                .add("len4095.weight", 4095, 1)
                .add("len4096.weight", 64, 64)
                .add("len4097.weight", 4097, 1)
                .add("long.weight", 6 * 4096 + 123, 1)
                .add("zero.weight", 40, 3)
                .add("bias", 17)
                .add("scalar")
                .excludeFromWeightDecay("bias")
                .build();
    }

    static float[][] initialWeights(ParamLayout layout) {
        float[][] w = TestModels.gaussian(layout, 3, 0.5);
        Arrays.fill(w[5], 0f);
        return w;
    }

    static float[][] grads(ParamLayout layout, int step) {
        return TestModels.gaussian(layout, 40 + step, 0.01);
    }

    static Lars.Builder lars(Backend backend, LarsPreset preset) {
        return Lars.builder(preset).learningRate(LR).weightDecay(0.02).momentumCorrection(preset == LarsPreset.MLPERF)
                .backend(backend).threads(2);
    }

    static Lamb.Builder lamb(Backend backend, LambPreset preset) {
        LrSchedule lr = LrSchedule.linearWarmup(0.02, 2).then(2, LrSchedule.polynomial(0.02, 0.001, 2, 4));
        return Lamb.builder(preset).learningRate(lr).weightDecay(0.02).backend(backend).threads(2);
    }

    /** Diagnostics after each step, then every segment's weights and every state buffer, as bits. */
    static List<long[]> run(LayerwiseOptimizer opt, Form form, int steps, int skipBefore) {
        ParamLayout layout = opt.layout();
        List<long[]> out = new ArrayList<>();
        Tensors p = new Tensors(form, layout, initialWeights(layout));
        for (int s = 1; s <= steps; s++) {
            if (s == skipBefore) {
                float[][] bad = grads(layout, 90);
                bad[3][11] = Float.POSITIVE_INFINITY;
                assertFalse(TestModels.step(opt, p, new Tensors(form, layout, bad)), "a non-finite gradient is skipped");
            }
            assertTrue(TestModels.step(opt, p, new Tensors(form, layout, grads(layout, s))));
            out.add(diagnostics(opt));
        }
        out.addAll(weightsAndState(opt, p.segments()));
        out.add(new long[] {opt.stepCount(), opt.skippedSteps()});
        return out;
    }

    static long[] diagnostics(LayerwiseOptimizer opt) {
        int n = opt.layout().size();
        long[] d = new long[3 * n];
        for (int i = 0; i < n; i++) {
            d[3 * i] = Double.doubleToLongBits(opt.lastWeightNorm(i));
            d[3 * i + 1] = Double.doubleToLongBits(opt.lastGradNorm(i));
            d[3 * i + 2] = Double.doubleToLongBits(opt.lastTrustRatio(i));
        }
        return d;
    }

    static List<long[]> weightsAndState(LayerwiseOptimizer opt, float[][] w) {
        List<long[]> out = new ArrayList<>();
        for (int i = 0; i < w.length; i++) {
            out.add(TestModels.bits(w[i]));
            for (String name : opt.stateNames()) {
                float[] x = new float[w[i].length];
                opt.readState(name, i, x);
                out.add(TestModels.bits(x));
            }
        }
        return out;
    }

    static void assertSameRun(Backend target, Make make, Form form, int steps, int skipBefore, String what) {
        List<long[]> expected;
        try (LayerwiseOptimizer cpu = make.on(Backend.CPU)) {
            expected = run(cpu, form, steps, skipBefore);
        }
        try (LayerwiseOptimizer dev = make.on(target)) {
            assertTrue(dev.stateNames().contains(SLOW));
            TestModels.assertSameBits(expected, run(dev, form, steps, skipBefore), what);
        }
    }

    private interface Make {
        LayerwiseOptimizer on(Backend b);
    }

    static Stream<Arguments> larsPresets() {
        List<Arguments> out = new ArrayList<>();
        for (TargetEngine e : TargetEngine.values()) for (LarsPreset p : LarsPreset.values()) out.add(Arguments.of(e, p));
        return out.stream();
    }

    /** k = 2 over five steps: the copy at step 1, syncs at 2 and 4, a plain step 5. */
    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("larsPresets")
    void everyLarsPreset(TargetEngine engine, LarsPreset preset) {
        CudaEmulatorEngine.setSchedule(Schedule.values()[preset.ordinal() % 3], preset.ordinal() + 1);
        assertSameRun(engine.backend(), b -> lars(b, preset).nesterov(preset.ordinal() % 2 == 1).lookahead(2, 0.6).build(layout()),
                Form.FLAT_ARRAY, 5, 0, preset.toString());
    }

    static Stream<Arguments> lambPresets() {
        List<Arguments> out = new ArrayList<>();
        for (TargetEngine e : EngineConformanceTest.lambEngines()) for (LambPreset p : LambPreset.values()) out.add(Arguments.of(e, p));
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: lamb {1}")
    @MethodSource("lambPresets")
    void everyLambPreset(TargetEngine engine, LambPreset preset) {
        CudaEmulatorEngine.setSchedule(Schedule.SHUFFLED, preset.ordinal() + 7);
        assertSameRun(engine.backend(), b -> lamb(b, preset).lookahead(2, 0.6).build(layout()), Form.FLAT_ARRAY, 5, 0, "lamb " + preset);
        assertSameRun(engine.backend(), b -> lamb(b, preset).adamWMode(false).lookahead(1, 0.7).build(layout()),
                Form.LIST_ARRAYS, 3, 0, "lamb " + preset + " L2 mode, k = 1");
    }

    /** k = 1 (copy and sync in step 1, then a sync every step) with alpha = 1 and alpha = 0.3. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void kOneWithAlphaOneAndBelow(TargetEngine engine) {
        CudaEmulatorEngine.setSchedule(Schedule.REVERSE, 3);
        for (double alpha : new double[] {1.0, 0.3}) {
            assertSameRun(engine.backend(), b -> lars(b, LarsPreset.LARC_CLIP).lookahead(1, alpha).build(layout()),
                    Form.FLAT_ARRAY, 3, 0, "k = 1, alpha = " + alpha);
        }
    }

    /** A skipped step between two syncs is not counted (host steps): same bits, same counts. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void aSkippedStepBetweenSyncs(TargetEngine engine) {
        assertSameRun(engine.backend(), b -> lars(b, LarsPreset.TIMM).lookahead(3, 0.7).build(layout()), Form.FLAT_ARRAY, 6, 2,
                "lars, skipped before step 2");
        if (engine.isDefaultStep()) {
            assertSameRun(engine.backend(), b -> lamb(b, LambPreset.APEX).lookahead(3, 0.7).build(layout()), Form.FLAT_ARRAY, 6, 3,
                    "lamb, skipped before step 3");
        }
    }

    /** Carried weight norms: the partials the update leaves are those of the weights after a sync. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(TargetEngine.class)
    void carriedWeightNormsAcrossSyncs(TargetEngine engine) {
        assertSameRun(engine.backend(), b -> lars(b, LarsPreset.PAPER).carryWeightNorms(true).lookahead(2, 0.45).build(layout()),
                Form.FLAT_ARRAY, 5, 0, "carried weight norms");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void everyStorageForm(TargetEngine engine) {
        CudaEmulatorEngine.setSchedule(Schedule.SHUFFLED, 5);
        for (Form form : Form.values()) {
            assertSameRun(engine.backend(), b -> lars(b, LarsPreset.OPTAX).lookahead(2, 0.55).build(layout()), form, 3, 0, "lars " + form);
            assertSameRun(engine.backend(), b -> lamb(b, LambPreset.PAPER).lookahead(2, 0.55).build(layout()), form, 3, 0, "lamb " + form);
        }
    }

    /** resetState zeroes the slow weights on the device too, and the next step (t = 1) copies the weights again. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void resetStateCopiesAgain(TargetEngine engine) {
        List<List<long[]>> runs = new ArrayList<>();
        for (Backend b : new Backend[] {Backend.CPU, engine.backend()}) {
            try (LayerwiseOptimizer opt = lars(b, LarsPreset.TIMM).lookahead(2, 0.6).build(layout())) {
                float[][] w = initialWeights(layout());
                for (int s = 1; s <= 3; s++) opt.step(Arrays.asList(w), Arrays.asList(grads(layout(), s)));
                opt.resetState();
                float[] slow = new float[4097];
                opt.readState(SLOW, 3, slow);
                for (float x : slow) assertEquals(0f, x);
                for (int s = 1; s <= 3; s++) opt.step(Arrays.asList(w), Arrays.asList(grads(layout(), 20 + s)));
                runs.add(weightsAndState(opt, w));
            }
        }
        TestModels.assertSameBits(runs.get(0), runs.get(1), "after resetState");
    }

    /** A checkpoint written by the Java engine after step 2, continued on the target: the Java engine's uninterrupted run. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void aJavaCheckpointContinuedOnTheTarget(TargetEngine engine, @TempDir Path dir) throws Exception {
        ParamLayout layout = layout();
        Path file = dir.resolve("lookahead.safetensors");
        float[][] straight = initialWeights(layout);
        List<long[]> expected;
        try (LayerwiseOptimizer cpu = lamb(Backend.CPU, LambPreset.OPTAX).lookahead(3, 0.6).build(layout)) {
            for (int s = 1; s <= 7; s++) {
                cpu.step(Arrays.asList(straight), Arrays.asList(grads(layout, s)));
                if (s == 2) OptimizerCheckpoint.save(cpu, file);
            }
            expected = weightsAndState(cpu, straight);
        }
        float[][] w = initialWeights(layout);
        try (LayerwiseOptimizer cpu = lamb(Backend.CPU, LambPreset.OPTAX).lookahead(3, 0.6).build(layout)) {
            for (int s = 1; s <= 2; s++) cpu.step(Arrays.asList(w), Arrays.asList(grads(layout, s)));
        }
        try (LayerwiseOptimizer dev = lamb(engine.backend(), LambPreset.OPTAX).lookahead(3, 0.6).build(layout)) {
            OptimizerCheckpoint.load(dev, file);
            for (int s = 3; s <= 7; s++) dev.step(Arrays.asList(w), Arrays.asList(grads(layout, s)));
            TestModels.assertSameBits(expected, weightsAndState(dev, w), "continued from the checkpoint");
        }
    }

    /**
     * Device steps (flat; list form on the emulator, whose device memory is host memory) and CUDA
     * graph replays carry the stage's copy and sync in their step values: five steps with k = 2
     * give the Java engine's weights and slow weights, for LARS (the grouped step) and LAMB.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.lars4j.testing.TargetEngine#defaultSteps")
    void deviceStepsAndGraphReplays(TargetEngine engine) {
        Backend b = engine.backend();
        List<Make> makes = List.of(x -> lars(x, LarsPreset.MLPERF).lookahead(2, 0.6).build(layout()),
                x -> lamb(x, LambPreset.APEX).lookahead(2, 0.6).build(layout()));
        for (int m = 0; m < makes.size(); m++) {
            Make make = makes.get(m);
            List<long[]> expected;
            ParamLayout layout = layout();
            float[][] w = initialWeights(layout);
            try (LayerwiseOptimizer cpu = make.on(Backend.CPU)) {
                for (int s = 1; s <= 5; s++) cpu.step(Arrays.asList(w), Arrays.asList(grads(layout, s)));
                expected = weightsAndState(cpu, w);
            }
            for (boolean graph : new boolean[] {false, true}) {
                long wd = DeviceBuffers.upload(b, flat(layout, initialWeights(layout)));
                long gd = DeviceBuffers.upload(b, new float[(int) layout.totalElements()]);
                long stream = DeviceBuffers.createStream(b);
                long exec = 0;
                try (LayerwiseOptimizer dev = make.on(b)) {
                    if (graph) {
                        DeviceBuffers.beginCapture(b, stream);
                        try {
                            dev.captureStep(wd, gd, stream);
                        } finally {
                            exec = DeviceBuffers.endCapture(b, stream);
                        }
                    }
                    for (int s = 1; s <= 5; s++) {
                        DeviceBuffers.uploadInto(b, gd, flat(layout, grads(layout, s)));
                        if (graph) {
                            dev.prepareGraphStep();
                            DeviceBuffers.launchGraph(b, exec, stream);
                        } else {
                            dev.stepDevice(wd, gd, stream);
                        }
                        DeviceBuffers.synchronize(b, stream);
                        assertFalse(dev.lastStepSkipped());
                    }
                    float[] got = new float[(int) layout.totalElements()];
                    DeviceBuffers.download(b, wd, got);
                    TestModels.assertSameBits(expected, weightsAndState(dev, segments(layout, got)), "rule " + m + (graph ? ", graph replays" : ", device steps"));
                } finally {
                    if (exec != 0) DeviceBuffers.destroyGraph(b, exec);
                    DeviceBuffers.destroyStream(b, stream);
                    DeviceBuffers.free(b, wd);
                    DeviceBuffers.free(b, gd);
                }
            }
            if (b == Backend.CUDA_EMULATOR) listFormDeviceSteps(make, layout, expected);
        }
    }

    /** The list form of device steps (device tables of per-segment pointers), on the emulator. */
    private static void listFormDeviceSteps(Make make, ParamLayout layout, List<long[]> expected) {
        float[][] w0 = initialWeights(layout);
        FloatPointer[] ws = new FloatPointer[layout.size()];
        FloatPointer[] gs = new FloatPointer[layout.size()];
        for (int i = 0; i < layout.size(); i++) {
            ws[i] = new FloatPointer(w0[i]);
            gs[i] = new FloatPointer(w0[i].length);
        }
        try (LayerwiseOptimizer emu = make.on(Backend.CUDA_EMULATOR);
             PointerPointer<FloatPointer> wt = new PointerPointer<>(ws);
             PointerPointer<FloatPointer> gt = new PointerPointer<>(gs)) {
            for (int s = 1; s <= 5; s++) {
                float[][] g = grads(layout, s);
                for (int i = 0; i < layout.size(); i++) gs[i].put(g[i]);
                CudaSteps.stepDeviceList(emu, wt, gt, null);
                DeviceBuffers.synchronize(Backend.CUDA_EMULATOR);
            }
            float[][] got = new float[layout.size()][];
            for (int i = 0; i < layout.size(); i++) {
                got[i] = new float[w0[i].length];
                ws[i].get(got[i]);
            }
            TestModels.assertSameBits(expected, weightsAndState(emu, got), "list-form device steps");
        } finally {
            for (int i = 0; i < layout.size(); i++) {
                ws[i].close();
                gs[i].close();
            }
        }
    }

    static float[] flat(ParamLayout layout, float[][] segments) {
        return new Tensors(Form.FLAT_ARRAY, layout, segments).flatArray;
    }

    static float[][] segments(ParamLayout layout, float[] flat) {
        float[][] out = new float[layout.size()][];
        for (int i = 0; i < layout.size(); i++) {
            int at = (int) layout.offset(i);
            out[i] = Arrays.copyOfRange(flat, at, at + layout.segment(i).length());
        }
        return out;
    }
}

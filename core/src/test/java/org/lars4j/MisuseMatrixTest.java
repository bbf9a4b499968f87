package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.lars4j.io.DType;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.io.OptimizerCheckpoint.CheckpointMismatchException;
import org.lars4j.io.SafetensorsFormatException;
import org.lars4j.io.SafetensorsWriter;
import org.lars4j.layout.ParamLayout;

/**
 * Every public entry point of an optimizer, on every engine that always runs (cpu,
 * cuda-emulator) and for both algorithms, against each class of bad input: null, wrong length,
 * NaN/Inf, a closed optimizer, a wrong dtype, wrong names. Each call must end in the expected
 * typed exception (or, for a non-finite gradient, the documented skipped step) and leave the
 * weights passed in, the state buffers and the counters exactly as they were.
 */
class MisuseMatrixTest {
    @TempDir
    static Path dir;

    static final ParamLayout LAYOUT = ParamLayout.builder().add("a.weight", 3, 4).add("a.bias", 3).build();
    static final int TOTAL = (int) LAYOUT.totalElements();

    /** One bad call: its input class, the entry point, the exception it must raise (null: a skipped step). */
    record Misuse(String kind, String entry, Class<? extends Throwable> expected, Consumer<LayerwiseOptimizer> call) {}

    static float[] ramp(int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = scale * (i + 1);
        return x;
    }

    static List<float[]> split(float[] flat) {
        return List.of(Arrays.copyOfRange(flat, 0, 12), Arrays.copyOfRange(flat, 12, 15));
    }

    static LayerwiseOptimizer build(Backend backend, boolean lamb) {
        return lamb ? Lamb.builder(LambPreset.APEX).learningRate(0.01).backend(backend).threads(1).build(LAYOUT)
                : Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(backend).threads(1).build(LAYOUT);
    }

    /** Everything a rejected call must leave alone: counters and every state buffer. */
    static List<Object> snapshot(LayerwiseOptimizer opt) {
        List<Object> s = new ArrayList<>(List.of(opt.stepCount(), opt.skippedSteps()));
        for (String b : opt.stateNames()) {
            for (int i = 0; i < LAYOUT.size(); i++) {
                float[] v = new float[LAYOUT.segment(i).length()];
                opt.readState(b, i, v);
                s.add(Arrays.toString(v));
            }
        }
        return s;
    }

    static final float[] W = ramp(TOTAL, 0.1f);

    static List<Misuse> misuses(Path stateF64, Path stateWrongNames, Path notSafetensors) {
        float[] nan = ramp(TOTAL, 0.01f);
        nan[3] = Float.NaN;
        float[] inf = ramp(TOTAL, 0.01f);
        inf[13] = Float.POSITIVE_INFINITY;
        List<Misuse> m = new ArrayList<>();
        // null
        m.add(new Misuse("null", "step(float[], float[])", TensorMismatchException.class, o -> o.step((float[]) null, ramp(TOTAL, 1))));
        m.add(new Misuse("null", "step(FloatBuffer, FloatBuffer)", TensorMismatchException.class,
                o -> o.step(FloatBuffer.wrap(W.clone()), (FloatBuffer) null)));
        m.add(new Misuse("null", "step(List, List)", TensorMismatchException.class, o -> o.step(Arrays.asList(W.clone(), null), split(W))));
        m.add(new Misuse("null", "stepBuffers", TensorMismatchException.class, o -> o.stepBuffers(null, List.of())));
        m.add(new Misuse("null", "readState", TensorMismatchException.class, o -> o.readState(o.stateNames().get(0), 0, null)));
        m.add(new Misuse("null", "writeState", TensorMismatchException.class, o -> o.writeState(o.stateNames().get(0), 0, null)));
        m.add(new Misuse("null", "lastTrustRatio(String)", IllegalArgumentException.class, o -> o.lastTrustRatio((String) null)));
        // The Java engine has no device memory at all: there, any device call is a BackendUnavailableException.
        m.add(new Misuse("null", "stepDevice(address 0)", TensorMismatchException.class, o -> o.stepDevice(0L, 0L, 0L)));
        m.add(new Misuse("null", "stepDeviceList(table 0)", TensorMismatchException.class, o -> o.stepDeviceList(0L, 0L, 0L)));
        m.add(new Misuse("null", "captureStep(address 0)", TensorMismatchException.class, o -> o.captureStep(0L, 64L, 0L)));
        m.add(new Misuse("null", "OptimizerCheckpoint.load", IOException.class, o -> io(() -> OptimizerCheckpoint.load(o, null))));
        // wrong length
        m.add(new Misuse("wrong length", "step(float[], float[])", TensorMismatchException.class, o -> o.step(ramp(TOTAL + 1, 1), ramp(TOTAL + 1, 1))));
        m.add(new Misuse("wrong length", "step(FloatBuffer, FloatBuffer)", TensorMismatchException.class,
                o -> o.step(FloatBuffer.wrap(ramp(TOTAL - 1, 1)), FloatBuffer.wrap(ramp(TOTAL - 1, 1)))));
        m.add(new Misuse("wrong length", "step(List, List)", TensorMismatchException.class,
                o -> o.step(List.of(ramp(12, 1), ramp(4, 1)), List.of(ramp(12, 1), ramp(4, 1)))));
        m.add(new Misuse("wrong length", "stepBuffers", TensorMismatchException.class,
                o -> o.stepBuffers(List.of(FloatBuffer.allocate(12)), List.of(FloatBuffer.allocate(12)))));
        m.add(new Misuse("wrong length", "writeState", TensorMismatchException.class, o -> o.writeState(o.stateNames().get(0), 1, new float[4])));
        m.add(new Misuse("wrong length", "lastTrustRatio(int)", IndexOutOfBoundsException.class, o -> o.lastTrustRatio(2)));
        m.add(new Misuse("wrong length", "readState(segment)", IndexOutOfBoundsException.class, o -> o.readState(o.stateNames().get(0), 5, new float[3])));
        // NaN / Inf: a non-finite gradient skips the step (SKIP_STEP); a non-finite count or rate is refused
        m.add(new Misuse("NaN/Inf", "step(float[], float[]) NaN gradient", null, o -> o.step(W.clone(), nan)));
        m.add(new Misuse("NaN/Inf", "step(List, List) Inf gradient", null, o -> o.step(split(W.clone()), split(inf))));
        m.add(new Misuse("NaN/Inf", "setStepCount(-1)", InvalidHyperparameterException.class, o -> o.setStepCount(-1)));
        m.add(new Misuse("NaN/Inf", "setSkippedSteps(-1)", InvalidHyperparameterException.class, o -> o.setSkippedSteps(-1)));
        // wrong dtype
        m.add(new Misuse("wrong dtype", "OptimizerCheckpoint.load F64 state", CheckpointMismatchException.class,
                o -> io(() -> OptimizerCheckpoint.load(o, stateF64, true))));
        m.add(new Misuse("wrong dtype", "OptimizerCheckpoint.load non-safetensors", SafetensorsFormatException.class,
                o -> io(() -> OptimizerCheckpoint.load(o, notSafetensors))));
        // wrong names
        m.add(new Misuse("wrong names", "readState(buffer name)", IllegalArgumentException.class, o -> o.readState("velocity", 0, new float[12])));
        m.add(new Misuse("wrong names", "writeState(buffer name)", IllegalArgumentException.class, o -> o.writeState("velocity", 0, new float[12])));
        m.add(new Misuse("wrong names", "lastGradNorm(segment name)", IllegalArgumentException.class, o -> o.lastGradNorm("b.weight")));
        m.add(new Misuse("wrong names", "OptimizerCheckpoint.load other names", CheckpointMismatchException.class,
                o -> io(() -> OptimizerCheckpoint.load(o, stateWrongNames, true))));
        return m;
    }

    interface IoCall { void run() throws IOException; }

    /** Rethrows an IOException unchecked so a Consumer can hold it; the matrix unwraps it. */
    static void io(IoCall c) {
        try {
            c.run();
        } catch (IOException e) {
            throw new Wrapped(e);
        }
    }

    static final class Wrapped extends RuntimeException {
        Wrapped(IOException e) { super(e); }
    }

    @TestFactory
    Stream<DynamicTest> everyEntryPointRejectsEachClassOfBadInputAndChangesNothing() throws IOException {
        Path f64 = dir.resolve("f64.safetensors");
        Path names = dir.resolve("names.safetensors");
        Path junk = dir.resolve("junk.safetensors");
        Files.write(junk, new byte[] {1, 2, 3});
        List<DynamicTest> tests = new ArrayList<>();
        for (Backend backend : new Backend[] {Backend.CPU, Backend.CUDA_EMULATOR}) {
            for (boolean lamb : new boolean[] {false, true}) {
                String algo = lamb ? "lamb" : "lars";
                // State files of the right optimizer, one with an F64 tensor, one with other names.
                SafetensorsWriter a = new SafetensorsWriter();
                SafetensorsWriter b = new SafetensorsWriter();
                try (LayerwiseOptimizer o = build(Backend.CPU, lamb)) {
                    for (var e : OptimizerCheckpoint.metadata(o).entrySet()) {
                        a.metadata(e.getKey(), e.getValue());
                        b.metadata(e.getKey(), e.getValue());
                    }
                    for (String buf : o.stateNames()) {
                        a.add("a.weight." + buf, DType.F64, new long[] {3, 4}, (from, dst) -> { while (dst.hasRemaining()) dst.put((byte) 0); });
                        a.addF32("a.bias." + buf, new int[] {3}, new float[3]);
                        b.addF32("x.weight." + buf, new int[] {3, 4}, new float[12]);
                        b.addF32("a.bias." + buf, new int[] {3}, new float[3]);
                    }
                }
                Path f64For = dir.resolve(algo + "-" + f64.getFileName());
                Path namesFor = dir.resolve(algo + "-" + names.getFileName());
                a.write(f64For);
                b.write(namesFor);
                for (Misuse m : misuses(f64For, namesFor, junk)) {
                    tests.add(DynamicTest.dynamicTest(backend.cliName() + " " + algo + ": " + m.kind() + ", " + m.entry(), () -> check(backend, lamb, m)));
                }
                tests.add(DynamicTest.dynamicTest(backend.cliName() + " " + algo + ": closed optimizer, every entry point", () -> closed(backend, lamb)));
            }
        }
        return tests.stream();
    }

    static void check(Backend backend, boolean lamb, Misuse m) {
        try (LayerwiseOptimizer opt = build(backend, lamb)) {
            float[] w = W.clone();
            opt.step(w, ramp(TOTAL, 0.01f));   // a state worth protecting
            List<Object> before = snapshot(opt);
            double trust = opt.lastTrustRatio(0);
            Class<? extends Throwable> want = m.expected();
            if (backend == Backend.CPU && (m.entry().startsWith("stepDevice") || m.entry().startsWith("captureStep"))) {
                want = BackendUnavailableException.class;
            }
            if (want == null) {
                m.call().accept(opt);   // a non-finite gradient: the documented skipped step
                assertEquals(true, opt.lastStepSkipped());
                List<Object> after = snapshot(opt);
                assertEquals(before.get(0), after.get(0), "step count");
                assertEquals((Long) before.get(1) + 1, after.get(1), "skipped steps counted");
                assertEquals(before.subList(2, before.size()), after.subList(2, after.size()), "state buffers");
                return;
            }
            Throwable t = assertThrows(Throwable.class, () -> m.call().accept(opt));
            if (t instanceof Wrapped) t = t.getCause();
            if (!want.isInstance(t)) throw new AssertionError("expected " + want.getSimpleName() + ", got " + t, t);
            assertFalse(t instanceof NullPointerException || t instanceof ArrayIndexOutOfBoundsException
                    || t instanceof ClassCastException, "a raw JDK error: " + t);
            assertEquals(before, snapshot(opt), "state unchanged");
            assertEquals(Double.doubleToLongBits(trust), Double.doubleToLongBits(opt.lastTrustRatio(0)), "diagnostics unchanged");
        }
    }

    static void closed(Backend backend, boolean lamb) {
        LayerwiseOptimizer opt = build(backend, lamb);
        opt.close();
        String buf = opt.stateNames().get(0);
        List<org.junit.jupiter.api.function.Executable> calls = List.of(
                () -> opt.step(W.clone(), ramp(TOTAL, 1)),
                () -> opt.step(FloatBuffer.wrap(W.clone()), FloatBuffer.wrap(ramp(TOTAL, 1))),
                () -> opt.step(split(W), split(ramp(TOTAL, 1))),
                () -> opt.stepBuffers(List.of(FloatBuffer.allocate(12), FloatBuffer.allocate(3)), List.of(FloatBuffer.allocate(12), FloatBuffer.allocate(3))),
                () -> opt.stepDevice(64L, 128L, 0L),
                () -> opt.stepDeviceList(64L, 128L, 0L),
                opt::prepareGraphStep,
                () -> opt.captureStep(64L, 128L, 0L),
                () -> opt.readState(buf, 0, new float[12]),
                () -> opt.writeState(buf, 0, new float[12]),
                () -> opt.setStepCount(3),
                () -> opt.setSkippedSteps(3),
                opt::resetState,
                () -> opt.lastTrustRatio(0),
                () -> opt.lastWeightNorm("a.weight"),
                () -> opt.lastGradNorm(1),
                () -> OptimizerCheckpoint.save(opt, dir.resolve("closed.safetensors")));
        for (int i = 0; i < calls.size(); i++) {
            assertThrows(OptimizerClosedException.class, calls.get(i), "call #" + i);
        }
        assertFalse(Files.exists(dir.resolve("closed.safetensors")), "nothing written by a closed optimizer");
        opt.close();   // closing twice is fine
    }
}

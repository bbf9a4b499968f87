package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.error.OptimizerClosedException;
import org.lars4j.error.TensorMismatchException;
import org.lars4j.io.DType;
import org.lars4j.io.OptimizerCheckpoint.CheckpointMismatchException;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.io.SafetensorsFormatException;
import org.lars4j.io.SafetensorsWriter;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;

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

    /**
     * One bad call: its input class, the entry point, the exception it must raise (null: a skipped
     * step), and the caller's buffers it hands over, whose bytes, position, limit and order must be
     * left exactly as they were.
     */
    record Misuse(String kind, String entry, Class<? extends Throwable> expected, Consumer<LayerwiseOptimizer> call,
            List<ByteBuffer> watched) {
        Misuse(String kind, String entry, Class<? extends Throwable> expected, Consumer<LayerwiseOptimizer> call) {
            this(kind, entry, expected, call, List.of());
        }
    }

    /** {@code v} as float32 in {@code order}, starting {@code lead} bytes in, positioned there. */
    static ByteBuffer bytes(float[] v, ByteOrder order, boolean direct, int lead) {
        ByteBuffer b = (direct ? ByteBuffer.allocateDirect(lead + Float.BYTES * v.length) : ByteBuffer.allocate(lead + Float.BYTES * v.length)).order(order);
        for (int i = 0; i < v.length; i++) b.putFloat(lead + Float.BYTES * i, v[i]);
        return b.position(lead);
    }

    static ByteBuffer bytes(float[] v) {
        return bytes(v, ByteOrder.nativeOrder(), true, 0);
    }

    /** The list form in byte buffers: one per segment (heap, big-endian: the other layout from {@link #bytes(float[])}). */
    static List<ByteBuffer> splitBytes(float[] flat) {
        List<ByteBuffer> l = new ArrayList<>();
        for (float[] seg : split(flat)) l.add(bytes(seg, ByteOrder.BIG_ENDIAN, false, 0));
        return l;
    }

    static List<ByteBuffer> all(Object... buffersOrLists) {
        List<ByteBuffer> l = new ArrayList<>();
        for (Object o : buffersOrLists) {
            if (o instanceof ByteBuffer b) l.add(b);
            else for (Object e : (List<?>) o) if (e != null) l.add((ByteBuffer) e);
        }
        return l;
    }

    /** Everything of a caller's buffer a rejected call must leave alone. */
    static List<Object> contents(List<ByteBuffer> buffers) {
        List<Object> s = new ArrayList<>();
        for (ByteBuffer b : buffers) {
            byte[] all = new byte[b.capacity()];
            b.duplicate().clear().get(all);
            s.add(b.position() + "/" + b.limit() + "/" + b.order() + "/" + Arrays.toString(all));
        }
        return s;
    }

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
        byteBufferMisuses(m, nan, inf);
        return m;
    }

    /**
     * The byte-buffer forms, step(ByteBuffer, ByteBuffer) and stepByteBuffers: float32 in each
     * buffer's byte order, from a position that must be a multiple of 4. Each call gets its own
     * buffers, watched: a rejected call must not write the weights nor move a position.
     */
    static void byteBufferMisuses(List<Misuse> m, float[] nan, float[] inf) {
        float[] g = ramp(TOTAL, 0.01f);
        String flat = "step(ByteBuffer, ByteBuffer)";
        String list = "stepByteBuffers";
        // null
        {
            ByteBuffer p = bytes(W);
            m.add(new Misuse("null", flat + " grads", TensorMismatchException.class, o -> o.step(p, (ByteBuffer) null), all(p)));
            ByteBuffer gr = bytes(g);
            m.add(new Misuse("null", flat + " params", TensorMismatchException.class, o -> o.step((ByteBuffer) null, gr), all(gr)));
            List<ByteBuffer> ps = splitBytes(W);
            m.add(new Misuse("null", list + " grads list", TensorMismatchException.class, o -> o.stepByteBuffers(ps, null), all(ps)));
            List<ByteBuffer> gs = splitBytes(g);
            m.add(new Misuse("null", list + " params list", TensorMismatchException.class, o -> o.stepByteBuffers(null, gs), all(gs)));
            List<ByteBuffer> p1 = Arrays.asList(splitBytes(W).get(0), null);
            List<ByteBuffer> g1 = splitBytes(g);
            m.add(new Misuse("null", list + " params element 1", TensorMismatchException.class, o -> o.stepByteBuffers(p1, g1), all(p1, g1)));
            List<ByteBuffer> p2 = splitBytes(W);
            List<ByteBuffer> g2 = Arrays.asList(null, splitBytes(g).get(1));
            m.add(new Misuse("null", list + " grads element 0", TensorMismatchException.class, o -> o.stepByteBuffers(p2, g2), all(p2, g2)));
        }
        // wrong length / remaining, list size
        {
            ByteBuffer p = bytes(ramp(TOTAL - 1, 1));
            ByteBuffer gr = bytes(ramp(TOTAL - 1, 1));
            m.add(new Misuse("wrong length", flat + " one float short", TensorMismatchException.class, o -> o.step(p, gr), all(p, gr)));
            ByteBuffer p1 = bytes(ramp(TOTAL + 1, 1));
            ByteBuffer g1 = bytes(g);
            m.add(new Misuse("wrong length", flat + " params one float long", TensorMismatchException.class, o -> o.step(p1, g1), all(p1, g1)));
            ByteBuffer p2 = bytes(W);
            ByteBuffer g2 = bytes(g).limit(Float.BYTES * TOTAL - 2);   // not a whole number of floats
            m.add(new Misuse("wrong length", flat + " grads 2 bytes short", TensorMismatchException.class, o -> o.step(p2, g2), all(p2, g2)));
            ByteBuffer p3 = bytes(W, ByteOrder.LITTLE_ENDIAN, false, 0);
            ByteBuffer g3 = ByteBuffer.allocate(Float.BYTES * TOTAL + 2).order(ByteOrder.LITTLE_ENDIAN);   // a whole layout and 2 bytes
            for (int i = 0; i < TOTAL; i++) g3.putFloat(Float.BYTES * i, g[i]);
            m.add(new Misuse("wrong length", flat + " grads 2 bytes long", TensorMismatchException.class, o -> o.step(p3, g3), all(p3, g3)));
            List<ByteBuffer> ps = List.of(splitBytes(W).get(0));
            List<ByteBuffer> gs = List.of(splitBytes(g).get(0));
            m.add(new Misuse("wrong length", list + " list of 1", TensorMismatchException.class, o -> o.stepByteBuffers(ps, gs), all(ps, gs)));
            List<ByteBuffer> ps1 = splitBytes(W);
            List<ByteBuffer> gs1 = new ArrayList<>(splitBytes(g));
            gs1.add(bytes(ramp(3, 1)));
            m.add(new Misuse("wrong length", list + " grads list of 3", TensorMismatchException.class, o -> o.stepByteBuffers(ps1, gs1), all(ps1, gs1)));
            // segment 0 is right: nothing of it may be written before segment 1 is refused
            List<ByteBuffer> ps2 = List.of(splitBytes(W).get(0), bytes(ramp(4, 1)));
            List<ByteBuffer> gs2 = List.of(splitBytes(g).get(0), bytes(ramp(4, 1)));
            m.add(new Misuse("wrong length", list + " segment 1 of 4 floats", TensorMismatchException.class, o -> o.stepByteBuffers(ps2, gs2), all(ps2, gs2)));
            List<ByteBuffer> ps3 = splitBytes(W);
            List<ByteBuffer> gs3 = List.of(splitBytes(g).get(0), bytes(ramp(4, 1)).limit(13));
            m.add(new Misuse("wrong length", list + " grads segment 1 of 13 bytes", TensorMismatchException.class, o -> o.stepByteBuffers(ps3, gs3), all(ps3, gs3)));
        }
        // position not a multiple of 4 (remaining right)
        {
            ByteBuffer p = bytes(W, ByteOrder.nativeOrder(), true, 2);
            ByteBuffer gr = bytes(g);
            m.add(new Misuse("misaligned", flat + " params position 2", TensorMismatchException.class, o -> o.step(p, gr), all(p, gr)));
            ByteBuffer p1 = bytes(W, ByteOrder.BIG_ENDIAN, false, 0);
            ByteBuffer g1 = bytes(g, ByteOrder.BIG_ENDIAN, false, 1);
            m.add(new Misuse("misaligned", flat + " grads position 1", TensorMismatchException.class, o -> o.step(p1, g1), all(p1, g1)));
            List<ByteBuffer> ps = List.of(splitBytes(W).get(0), bytes(split(W).get(1), ByteOrder.nativeOrder(), true, 2));
            List<ByteBuffer> gs = splitBytes(g);
            m.add(new Misuse("misaligned", list + " params segment 1 position 2", TensorMismatchException.class, o -> o.stepByteBuffers(ps, gs), all(ps, gs)));
            List<ByteBuffer> ps1 = splitBytes(W);
            List<ByteBuffer> gs1 = List.of(bytes(split(g).get(0), ByteOrder.BIG_ENDIAN, false, 3), splitBytes(g).get(1));
            m.add(new Misuse("misaligned", list + " grads segment 0 position 3", TensorMismatchException.class, o -> o.stepByteBuffers(ps1, gs1), all(ps1, gs1)));
        }
        // read-only params
        {
            ByteBuffer p = bytes(W, ByteOrder.BIG_ENDIAN, false, 0).asReadOnlyBuffer();
            ByteBuffer gr = bytes(g);
            m.add(new Misuse("read-only", flat + " params", TensorMismatchException.class, o -> o.step(p, gr), all(p, gr)));
            List<ByteBuffer> ps = List.of(splitBytes(W).get(0), bytes(split(W).get(1)).asReadOnlyBuffer().order(ByteOrder.nativeOrder()));
            List<ByteBuffer> gs = splitBytes(g);
            m.add(new Misuse("read-only", list + " params segment 1", TensorMismatchException.class, o -> o.stepByteBuffers(ps, gs), all(ps, gs)));
        }
        // params and grads the same buffer
        {
            ByteBuffer p = bytes(W);
            m.add(new Misuse("same buffer", flat, TensorMismatchException.class, o -> o.step(p, p), all(p)));
            ByteBuffer shared = bytes(split(W).get(1));
            List<ByteBuffer> ps = List.of(splitBytes(W).get(0), shared);
            List<ByteBuffer> gs = List.of(splitBytes(g).get(0), shared);
            m.add(new Misuse("same buffer", list + " segment 1", TensorMismatchException.class, o -> o.stepByteBuffers(ps, gs), all(ps, gs)));
        }
        // NaN / Inf gradient: the documented skipped step, weights untouched
        {
            ByteBuffer p = bytes(W, ByteOrder.BIG_ENDIAN, false, 0);
            ByteBuffer gr = bytes(nan, ByteOrder.BIG_ENDIAN, false, 0);
            m.add(new Misuse("NaN/Inf", flat + " NaN gradient", null, o -> o.step(p, gr), all(p, gr)));
            ByteBuffer p1 = bytes(W, ByteOrder.nativeOrder(), true, 8).slice().order(ByteOrder.nativeOrder());
            ByteBuffer g1 = bytes(inf);
            m.add(new Misuse("NaN/Inf", flat + " Inf gradient (direct)", null, o -> o.step(p1, g1), all(p1, g1)));
            List<ByteBuffer> ps = splitBytes(W);
            List<ByteBuffer> gs = List.of(bytes(split(inf).get(0)), bytes(split(inf).get(1)));
            m.add(new Misuse("NaN/Inf", list + " Inf gradient", null, o -> o.stepByteBuffers(ps, gs), all(ps, gs)));
            List<ByteBuffer> ps1 = List.of(bytes(split(W).get(0)), bytes(split(W).get(1)));
            List<ByteBuffer> gs1 = splitBytes(nan);
            m.add(new Misuse("NaN/Inf", list + " NaN gradient", null, o -> o.stepByteBuffers(ps1, gs1), all(ps1, gs1)));
        }
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
            List<Object> weights = contents(m.watched());
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
                assertEquals(weights, contents(m.watched()), "buffers passed in unchanged");
                return;
            }
            Throwable t = assertThrows(Throwable.class, () -> m.call().accept(opt));
            if (t instanceof Wrapped) t = t.getCause();
            if (!want.isInstance(t)) throw new AssertionError("expected " + want.getSimpleName() + ", got " + t, t);
            assertFalse(t instanceof NullPointerException || t instanceof ArrayIndexOutOfBoundsException
                    || t instanceof ClassCastException, "a raw JDK error: " + t);
            assertEquals(before, snapshot(opt), "state unchanged");
            assertEquals(weights, contents(m.watched()), "buffers passed in unchanged");
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
                () -> opt.step(bytes(W), bytes(ramp(TOTAL, 1))),
                () -> opt.stepByteBuffers(splitBytes(W), splitBytes(ramp(TOTAL, 1))),
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

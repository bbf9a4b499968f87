package org.lars4j;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.List;
import org.lars4j.engine.DeviceStepper;
import org.lars4j.engine.Engine;
import org.lars4j.engine.EnginePlan;
import org.lars4j.engine.HostTensors;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.error.InvalidLayoutException;
import org.lars4j.error.OptimizerClosedException;
import org.lars4j.error.TensorMismatchException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.Rule;
import org.lars4j.rule.StepValues;

/**
 * A layer-wise adaptive optimizer planned for one model on one engine. Build it with
 * {@link Lars#builder}; then call a {@code step} method once per training step with the
 * parameters (updated in place) and their gradients, in either storage form:
 * <ul>
 * <li>flat: one {@code float[]}, {@link FloatBuffer} or {@link ByteBuffer} of float32 holding
 *     every segment at its layout offset (DL4J's form);</li>
 * <li>list: one {@code float[]}, {@code FloatBuffer} or {@code ByteBuffer} per segment, in
 *     layout order (DJL, Tribuo).</li>
 * </ul>
 * For off-heap memory, hand over byte buffers: the Java engine reads and writes them in place,
 * while it copies a direct {@code FloatBuffer} tile by tile ({@link #step(ByteBuffer, ByteBuffer)}).
 * Every argument is validated before anything is written; a rejected call changes nothing.
 * The optimizer owns its state (momentum buffers, step count), readable and writable for
 * checkpoints. A step allocates nothing. Not thread-safe: one step at a time.
 */
public final class LayerwiseOptimizer implements AutoCloseable {
    private final Rule config;
    private final ParamLayout layout;
    private final Engine engine;
    private final EnginePlan plan;
    private final HostTensors params;
    private final HostTensors grads;
    private final StepValues scalars;
    private final boolean skipNonFinite;
    private long stepCount;
    private long skippedSteps;
    private boolean lastSkipped;
    private boolean deviceStepPending;
    private boolean closed;
    // False until a step ran in this process: the engines' diagnostic arrays hold nothing yet
    // (zeros on the Java engine, whatever native memory held on the others).
    private boolean diagnosed;

    LayerwiseOptimizer(Rule config, ParamLayout layout, Backend backend, int threads) {
        if (layout == null) throw new InvalidLayoutException("layout is null");
        if (threads < 1) throw new InvalidHyperparameterException("threads must be >= 1, got " + threads);
        this.config = config;
        this.layout = config.resolveFlags(layout);
        this.engine = Engines.select(backend);
        this.plan = engine.plan(config, this.layout, threads);
        this.params = new HostTensors(this.layout);
        this.grads = new HostTensors(this.layout);
        this.skipNonFinite = config.nonFinitePolicy() == NonFinitePolicy.SKIP_STEP;
        this.scalars = config.newStepValues();
    }

    // ---- steps ------------------------------------------------------------------------------

    /** One step on the flat form: {@code params} and {@code grads} each hold every segment. */
    public boolean step(float[] params, float[] grads) {
        checkOpen();
        checkFlatArray("params", params);
        checkFlatArray("grads", grads);
        if (params == grads) throw new TensorMismatchException("params and grads are the same array");
        prepareScalars();
        this.params.bindFlat(params);
        this.grads.bindFlat(grads);
        return run();
    }

    /** One step on the flat form held in buffers (direct or heap), from their positions. */
    public boolean step(FloatBuffer params, FloatBuffer grads) {
        checkOpen();
        checkFlatBuffer("params", params);
        checkFlatBuffer("grads", grads);
        if (params.isReadOnly()) throw new TensorMismatchException("params buffer is read-only");
        if (params == grads) throw new TensorMismatchException("params and grads are the same buffer");
        prepareScalars();
        this.params.bindFlat(params);
        this.grads.bindFlat(grads);
        return run();
    }

    /**
     * One step on the flat form held in byte buffers of float32 values in each buffer's byte order
     * (direct or heap), from their positions, which must be multiples of 4: e.g. DL4J's flat
     * parameters and gradients as {@code INDArray.data().asNio()} gives them (direct, native
     * order). On JDK 17-19 the Java engine's Vector API kernels read and write these in place
     * (measured 1.08-1.18x the {@code float[]} step, bench/RESULTS.md), where a direct
     * {@code FloatBuffer} is copied tile by tile (1.58x), because the Vector API cannot load from
     * one. From JDK 20 on ({@code FloatVector.fromByteBuffer} is gone) byte buffers are copied too.
     */
    public boolean step(ByteBuffer params, ByteBuffer grads) {
        checkOpen();
        checkFlatBytes("params", params);
        checkFlatBytes("grads", grads);
        if (params.isReadOnly()) throw new TensorMismatchException("params buffer is read-only");
        if (params == grads) throw new TensorMismatchException("params and grads are the same buffer");
        prepareScalars();
        this.params.bindFlat(params);
        this.grads.bindFlat(grads);
        return run();
    }

    /** One step on the list form: one array per segment, in layout order. */
    public boolean step(List<float[]> params, List<float[]> grads) {
        checkOpen();
        checkList("params", params);
        checkList("grads", grads);
        for (int i = 0; i < layout.size(); i++) {
            Segment s = layout.segment(i);
            float[] p = params.get(i);
            float[] g = grads.get(i);
            checkLength("params", s, p == null ? -1 : p.length);
            checkLength("grads", s, g == null ? -1 : g.length);
            if (p == g) throw new TensorMismatchException("params and grads of segment '" + s.name() + "' are the same array");
        }
        prepareScalars();
        this.params.bindArrays(params);
        this.grads.bindArrays(grads);
        return run();
    }

    /** One step on the list form held in buffers: one per segment, each from its position. */
    public boolean stepBuffers(List<FloatBuffer> params, List<FloatBuffer> grads) {
        checkOpen();
        checkList("params", params);
        checkList("grads", grads);
        for (int i = 0; i < layout.size(); i++) {
            Segment s = layout.segment(i);
            FloatBuffer p = params.get(i);
            FloatBuffer g = grads.get(i);
            checkLength("params", s, p == null ? -1 : p.remaining());
            checkLength("grads", s, g == null ? -1 : g.remaining());
            if (p.isReadOnly()) throw new TensorMismatchException("params buffer of segment '" + s.name() + "' is read-only");
            if (p == g) throw new TensorMismatchException("params and grads of segment '" + s.name() + "' are the same buffer");
        }
        prepareScalars();
        this.params.bindBuffers(params);
        this.grads.bindBuffers(grads);
        return run();
    }

    /**
     * One step on the list form held in byte buffers: one per segment, in layout order, each
     * holding the segment's float32 values in its byte order from its position (a multiple of 4).
     * See {@link #step(ByteBuffer, ByteBuffer)} for why byte buffers.
     */
    public boolean stepByteBuffers(List<ByteBuffer> params, List<ByteBuffer> grads) {
        checkOpen();
        checkList("params", params);
        checkList("grads", grads);
        for (int i = 0; i < layout.size(); i++) {
            Segment s = layout.segment(i);
            ByteBuffer p = params.get(i);
            ByteBuffer g = grads.get(i);
            checkLength("params", s, floatsIn("params", s, p));
            checkLength("grads", s, floatsIn("grads", s, g));
            if (p.isReadOnly()) throw new TensorMismatchException("params buffer of segment '" + s.name() + "' is read-only");
            if (p == g) throw new TensorMismatchException("params and grads of segment '" + s.name() + "' are the same buffer");
        }
        prepareScalars();
        this.params.bindByteBuffers(params);
        this.grads.bindByteBuffers(grads);
        return run();
    }

    // ---- device-resident tensors (cuda, cuda-emulator) ----------------------------------------

    /**
     * One step on device-resident tensors in the flat form, enqueued on stream {@code streamHandle}
     * (0: the default stream) without synchronising: {@code paramsAddress} and {@code gradsAddress}
     * each hold {@link ParamLayout#totalElements()} floats. On the emulator, "device" memory is
     * host memory. The step count advances when the step is enqueued; whether a step was skipped
     * for a non-finite gradient is known after synchronising ({@link #lastStepSkipped()}). With
     * bytedeco's {@code Pointer} and {@code CUstream_st}, use {@code org.lars4j.engine.cuda.CudaSteps}.
     */
    public void stepDevice(long paramsAddress, long gradsAddress, long streamHandle) {
        DeviceStepper d = deviceStepper();
        checkAddress("params", paramsAddress);
        checkAddress("grads", gradsAddress);
        if (paramsAddress == gradsAddress) throw new TensorMismatchException("params and grads are the same device address");
        prepareScalars();
        d.stepDevice(paramsAddress, gradsAddress, 0, 0, streamHandle, scalars);
        diagnosed = true;
        stepCount++;
        lastSkipped = false;
        deviceStepPending = true;
    }

    /**
     * One step on device-resident tensors in the list form: {@code paramsTable} and
     * {@code gradsTable} are device arrays of one pointer per segment, in layout order. With
     * carried weight norms, a change of the pointers inside the same table is not seen: call
     * {@link #weightsChanged()} after one.
     */
    public void stepDeviceList(long paramsTable, long gradsTable, long streamHandle) {
        DeviceStepper d = deviceStepper();
        checkAddress("params table", paramsTable);
        checkAddress("grads table", gradsTable);
        prepareScalars();
        d.stepDevice(0, 0, paramsTable, gradsTable, streamHandle, scalars);
        diagnosed = true;
        stepCount++;
        lastSkipped = false;
        deviceStepPending = true;
    }

    /**
     * CUDA graphs, part 1: outside any stream capture, before each replay of a graph holding
     * {@link #captureStep}: computes the values of the next step (learning rate, momentum, ...)
     * on the host, writes them into the plan's device memory (synchronously) and advances the
     * step count. The flat weights the graph updates are assumed to be the ones the previous
     * step left (for carried norms, call {@link #weightsChanged()} otherwise).
     */
    public void prepareGraphStep() {
        DeviceStepper d = deviceStepper();
        prepareScalars();
        d.writeStepParams(scalars);
        diagnosed = true;
        stepCount++;
        lastSkipped = false;
        deviceStepPending = true;
    }

    /**
     * CUDA graphs, part 2: enqueues only the kernel launches of a step on device-resident flat
     * tensors; no copy and no synchronisation, so it may be called while {@code stream} is being
     * captured. The launches read the values written by {@link #prepareGraphStep()} at each run.
     */
    public void captureStep(long paramsAddress, long gradsAddress, long streamHandle) {
        DeviceStepper d = deviceStepper();
        checkAddress("params", paramsAddress);
        checkAddress("grads", gradsAddress);
        if (paramsAddress == gradsAddress) throw new TensorMismatchException("params and grads are the same device address");
        d.launchStep(paramsAddress, gradsAddress, 0, 0, streamHandle);
    }

    /**
     * Benchmark support for the device engines: times {@code reps} steps (after {@code warmup}) on
     * device-resident flat buffers, rotating through {@code paramsAddresses}/{@code gradsAddresses}
     * so that the inputs are not already in L2; CUDA events time each step alone. Equivalent to
     * {@link #timeDeviceSteps(long[], long[], int, int, int, boolean)} with a batch of 1, no graph.
     */
    public double[] timeDeviceSteps(long[] paramsAddresses, long[] gradsAddresses, int warmup, int reps) {
        return timeDeviceSteps(paramsAddresses, gradsAddresses, warmup, reps, 1, false);
    }

    /**
     * Benchmark support for the device engines: {@code reps} samples (after {@code warmup} steps),
     * each {@code batch} back-to-back steps (1..32) on device-resident flat buffers, rotating
     * through {@code paramsAddresses}/{@code gradsAddresses} so that the inputs are not already in
     * L2, timed between two CUDA events with the stream held while the sample is enqueued (so the
     * host's enqueue is outside the window); with {@code graphs}, replays of one captured CUDA
     * graph per buffer pair. The steps use the scalars of the next step and do not advance the
     * step count. Returns each sample's microseconds per step.
     */
    public double[] timeDeviceSteps(long[] paramsAddresses, long[] gradsAddresses, int warmup, int reps, int batch, boolean graphs) {
        DeviceStepper d = deviceStepper();
        if (paramsAddresses.length == 0 || paramsAddresses.length != gradsAddresses.length) {
            throw new TensorMismatchException("need as many params as grads buffers, at least one");
        }
        for (int i = 0; i < paramsAddresses.length; i++) {
            checkAddress("params[" + i + "]", paramsAddresses[i]);
            checkAddress("grads[" + i + "]", gradsAddresses[i]);
        }
        if (warmup < 0 || reps < 1) throw new IllegalArgumentException("warmup must be >= 0 and reps >= 1");
        if (batch < 1 || batch > DeviceStepper.MAX_BATCH) {
            throw new IllegalArgumentException("batch must be 1.." + DeviceStepper.MAX_BATCH + ", got " + batch);
        }
        prepareScalars();
        return d.timeSteps(paramsAddresses, gradsAddresses, warmup, reps, batch, graphs, scalars);
    }

    private DeviceStepper deviceStepper() {
        checkOpen();
        DeviceStepper d = plan.deviceStepper();
        if (d == null) {
            throw new BackendUnavailableException("device-resident tensors need the cuda or cuda-emulator engine; this optimizer runs on "
                    + engine.name());
        }
        return d;
    }

    private static void checkAddress(String role, long address) {
        if (address == 0) throw new TensorMismatchException(role + " is a null device address");
        if ((address & 3) != 0) throw new TensorMismatchException(role + " device address 0x" + Long.toHexString(address) + " is not 4-byte aligned");
    }

    private void prepareScalars() {
        // At the limit the next step number, or the skipped count, would wrap to a negative
        // count that no checkpoint reader accepts: refuse before anything is touched.
        if (stepCount == Long.MAX_VALUE || skippedSteps == Long.MAX_VALUE) {
            throw new IllegalStateException("the step counter is at its limit (" + Long.MAX_VALUE + " steps"
                    + (stepCount == Long.MAX_VALUE ? "" : " skipped") + "); no further step can be counted");
        }
        config.fillStepValues(stepCount + 1, scalars); // may throw: nothing is bound or written yet
    }

    /**
     * Declares that the weights were written outside the optimizer (a checkpoint loaded into the
     * same arrays, weight averaging, ...): the next step recomputes ||w|| instead of using the
     * norm carried from the last update (only relevant with {@code carryWeightNorms}).
     */
    public void weightsChanged() {
        if (!closed) plan.weightsChanged();
    }

    private boolean run() {
        deviceStepPending = false;
        try {
            boolean applied = plan.step(params, grads, scalars, skipNonFinite);
            diagnosed = true;
            lastSkipped = !applied;
            if (applied) stepCount++;
            else skippedSteps++;
            return applied;
        } finally {
            params.clear();
            grads.clear();
        }
    }

    // ---- validation -------------------------------------------------------------------------

    private void checkOpen() {
        if (closed) throw new OptimizerClosedException("optimizer is closed");
    }

    private long flatLength() {
        long total = layout.totalElements();
        if (total > ParamLayout.MAX_SEGMENT_LENGTH) {
            throw new TensorMismatchException("the layout has " + total + " parameters, more than one Java array or buffer can hold; "
                    + "use the list form");
        }
        return total;
    }

    private void checkFlatArray(String role, float[] a) {
        if (a == null) throw new TensorMismatchException(role + " is null");
        long total = flatLength();
        if (a.length != total) {
            throw new TensorMismatchException(role + ": flat array has " + a.length + " elements but the layout has " + total);
        }
    }

    private void checkFlatBuffer(String role, FloatBuffer b) {
        if (b == null) throw new TensorMismatchException(role + " is null");
        long total = flatLength();
        if (b.remaining() != total) {
            throw new TensorMismatchException(role + ": flat buffer has " + b.remaining() + " elements remaining but the layout has " + total);
        }
    }

    private void checkFlatBytes(String role, ByteBuffer b) {
        if (b == null) throw new TensorMismatchException(role + " is null");
        long total = flatLength();
        checkFloatAligned(role, null, b);
        if (b.remaining() != Float.BYTES * total) {
            throw new TensorMismatchException(role + ": flat byte buffer has " + b.remaining() + " bytes remaining but the layout's "
                    + total + " floats need " + Float.BYTES * total);
        }
    }

    /** The floats a segment's byte buffer holds from its position; -1 for null (checkLength's "null"). */
    private static int floatsIn(String role, Segment s, ByteBuffer b) {
        if (b == null) return -1;
        checkFloatAligned(role, s, b);
        if (b.remaining() % Float.BYTES != 0) {
            throw new TensorMismatchException(role + ": byte buffer of segment '" + s.name() + "' has " + b.remaining()
                    + " bytes remaining, not a whole number of floats");
        }
        return b.remaining() / Float.BYTES;
    }

    /**
     * Element indices are kept in floats: a byte buffer's float32 values must start at a multiple
     * of 4. {@code s}: the segment of a list-form buffer, null for a flat one (no message is built
     * unless the check fails: steps allocate nothing).
     */
    private static void checkFloatAligned(String role, Segment s, ByteBuffer b) {
        if (b.position() % Float.BYTES != 0) {
            throw new TensorMismatchException(role + (s == null ? "" : ": segment '" + s.name() + "'") + ": byte buffer position "
                    + b.position() + " is not a multiple of 4 (use slice())");
        }
    }

    private void checkList(String role, List<?> list) {
        if (list == null) throw new TensorMismatchException(role + " is null");
        if (list.size() != layout.size()) {
            throw new TensorMismatchException(role + ": list has " + list.size() + " tensors but the layout has " + layout.size() + " segments");
        }
    }

    private static void checkLength(String role, Segment s, int length) {
        if (length < 0) throw new TensorMismatchException(role + ": tensor for segment '" + s.name() + "' is null");
        if (length != s.length()) {
            throw new TensorMismatchException(role + ": segment '" + s.name() + "' " + s.shapeString() + " needs "
                    + s.length() + " elements, got " + length);
        }
    }

    // ---- state ------------------------------------------------------------------------------

    /** Applied steps so far (skipped steps are not counted). The next step is {@code stepCount() + 1}. */
    public long stepCount() { return stepCount; }

    /** Sets the applied-step count, e.g. when restoring a checkpoint. */
    public void setStepCount(long steps) {
        checkOpen();
        if (steps < 0) throw new InvalidHyperparameterException("step count must be >= 0, got " + steps);
        this.stepCount = steps;
    }

    /** Steps skipped because a gradient was not finite (policy {@link NonFinitePolicy#SKIP_STEP}). */
    public long skippedSteps() { return skippedSteps; }

    /** Sets the skipped-steps counter, e.g. when restoring a checkpoint. */
    public void setSkippedSteps(long steps) {
        checkOpen();
        if (steps < 0) throw new InvalidHyperparameterException("skipped-step count must be >= 0, got " + steps);
        this.skippedSteps = steps;
    }

    /**
     * Whether the most recent step skipped its update (non-finite gradient). After a device step
     * this synchronises with its stream and reads the device's flag.
     */
    public boolean lastStepSkipped() {
        if (deviceStepPending) {
            checkOpen();
            lastSkipped = plan.deviceStepper().lastStepSkipped();
            deviceStepPending = false;
        }
        return lastSkipped;
    }

    /** Names of the per-segment state buffers, as PyTorch's state_dict names them. */
    public List<String> stateNames() { return config.stateNames(); }

    /** Copies state buffer {@code name} of segment {@code segment} into {@code dst}. */
    public void readState(String name, int segment, float[] dst) {
        int b = stateIndex(name, segment, dst);
        plan.readState(b, segment, dst);
    }

    /** Overwrites state buffer {@code name} of segment {@code segment} with {@code src}. */
    public void writeState(String name, int segment, float[] src) {
        int b = stateIndex(name, segment, src);
        plan.writeState(b, segment, src);
    }

    /** Zeroes every state buffer and the step counters. */
    public void resetState() {
        checkOpen();
        plan.resetState();
        stepCount = 0;
        skippedSteps = 0;
    }

    private int stateIndex(String name, int segment, float[] data) {
        checkOpen();
        int b = config.stateNames().indexOf(name);
        if (b < 0) throw new IllegalArgumentException("no state buffer '" + name + "'; this optimizer has " + config.stateNames());
        if (segment < 0 || segment >= layout.size()) {
            throw new IndexOutOfBoundsException("segment index " + segment + " outside 0.." + (layout.size() - 1));
        }
        checkLength(name, layout.segment(segment), data == null ? -1 : data.length);
        return b;
    }

    // ---- introspection ----------------------------------------------------------------------

    /** The layout with the preset's rules applied: the flags every step uses. */
    public ParamLayout layout() { return layout; }

    public Rule config() { return config; }

    /** The engine running the steps: {@code cpu}, {@code cuda} or {@code cuda-emulator}. */
    public String engineName() { return engine.name(); }

    /**
     * How this engine runs the steps, e.g. {@code blocks of 1048576 elements (3 blocks)} on the
     * Java engine or {@code one cooperative launch of 6 blocks, float4 loads} on CUDA: the
     * variants (system properties {@code lars4j.cpu.blockElements}, {@code lars4j.cuda.*}) in use.
     */
    public String engineVariant() { return plan.variant(); }

    /**
     * ||w|| of segment {@code i} in the last step: NaN where the rule did not need it, and on
     * every engine NaN before the first step of this optimizer.
     *
     * @throws IndexOutOfBoundsException naming the index and the valid range
     */
    public double lastWeightNorm(int i) { return diagnosed(i) ? plan.lastWeightNorm(i) : Double.NaN; }

    /** ||g|| of segment {@code i} in the last step (NaN where not needed, or before the first step). */
    public double lastGradNorm(int i) { return diagnosed(i) ? plan.lastGradNorm(i) : Double.NaN; }

    /** The trust ratio applied to segment {@code i} in the last step (1 where not adapted; NaN before the first step). */
    public double lastTrustRatio(int i) { return diagnosed(i) ? plan.lastTrustRatio(i) : Double.NaN; }

    /** {@link #lastWeightNorm(int)} of the segment named {@code segment}. */
    public double lastWeightNorm(String segment) { return lastWeightNorm(segmentIndex(segment)); }

    /** {@link #lastGradNorm(int)} of the segment named {@code segment}. */
    public double lastGradNorm(String segment) { return lastGradNorm(segmentIndex(segment)); }

    /** {@link #lastTrustRatio(int)} of the segment named {@code segment}. */
    public double lastTrustRatio(String segment) { return lastTrustRatio(segmentIndex(segment)); }

    private boolean diagnosed(int i) {
        checkOpen();
        if (i < 0 || i >= layout.size()) {
            throw new IndexOutOfBoundsException("segment index " + i + " outside 0.." + (layout.size() - 1));
        }
        return diagnosed;
    }

    private int segmentIndex(String name) {
        int i = name == null ? -1 : layout.indexOf(name);
        if (i < 0) throw new IllegalArgumentException("no segment named '" + name + "' in the layout");
        return i;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            plan.close();
        }
    }
}

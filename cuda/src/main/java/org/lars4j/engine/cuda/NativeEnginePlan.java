package org.lars4j.engine.cuda;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import org.lars4j.engine.DeviceStepper;
import org.lars4j.engine.EnginePlan;
import org.lars4j.engine.HostTensors;
import org.lars4j.engine.WeightsTracker;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.error.NativeEngineException;
import org.lars4j.error.TensorMismatchException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.Rule;
import org.lars4j.rule.StepValues;

/**
 * A plan of any rule on the native engines (CUDA, or the CUDA kernels on the SIMT emulator). The
 * rule's side of the boundary (its constants and step-values structs) is its {@link NativeRule},
 * found by {@link NativeRules}. Host tensors are staged through native buffers made at plan time;
 * device tensors go straight to the kernels ({@link #stepDevice}).
 */
final class NativeEnginePlan implements EnginePlan, DeviceStepper {
    static final int KIND_CUDA = 0;
    static final int KIND_EMULATOR = 1;

    /**
     * 16-byte loads and stores on full, aligned fp32 tiles. The same operations in the same
     * order, so the same bits; on by default, switchable for experiments with
     * {@code -Dlars4j.cuda.vectorLoads=false}.
     */
    static final boolean VECTOR_LOADS = Boolean.parseBoolean(System.getProperty("lars4j.cuda.vectorLoads", "true"));

    /**
     * The grouped LARS step: one cooperative launch that runs norms, scalars and update group by
     * group, groups of whole segments sized to the L2, so that w and g come from DRAM once (20
     * bytes per parameter, docs/BYTES.md). Same bits as the three launches over the whole model
     * (28 bytes per parameter), which {@code -Dlars4j.cuda.cooperative=false} selects and which
     * the plan falls back to where the device refuses cooperative launches. Read when a plan is made.
     */
    static final String COOPERATIVE_PROPERTY = "lars4j.cuda.cooperative";

    /**
     * Elements per group of the grouped step: unset or {@code -1}, from the device's L2 (a
     * group's w and g fill about half of it); {@code 0}, the whole model as one group; else that
     * many (a longer segment is a group by itself). Read when a plan is made.
     */
    static final String GROUP_ELEMENTS_PROPERTY = "lars4j.cuda.groupElements";

    private static final System.Logger LOG = System.getLogger("org.lars4j.engine");

    private final String engine;
    private final NativeRule rule;
    private final NativeLars.NativePlan plan;
    private final int stateBuffers;
    private final int nSeg;
    private final int[] length;
    private final long[] offset;
    private final long total;
    private final FloatBuffer stagedW;
    private final FloatBuffer stagedG;
    private final double[] normW;
    private final double[] normG;
    private final double[] trust;
    private boolean diagnosticsStale = true;
    private boolean closed;
    /** A cooperative grid was planned: a later refusal by the device switches to three launches, said once. */
    private boolean cooperativePlanned;
    /** Carried weight norms (LARS): whether a step's weights are the ones the last step wrote. */
    private final boolean carry;
    private final WeightsTracker weights;

    /** Plans {@code config} for {@code layout} on engine {@code kind}. */
    static NativeEnginePlan create(String engine, int kind, Rule config, ParamLayout layout) {
        return new NativeEnginePlan(engine, kind, NativeRules.bind(engine, config, layout), layout);
    }

    /** {@link #GROUP_ELEMENTS_PROPERTY}, checked: a typed exception for a value that is not -1 or more. */
    static int groupElements() {
        String v = System.getProperty(GROUP_ELEMENTS_PROPERTY);
        if (v == null || v.isBlank()) return -1;
        int n;
        try {
            n = Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(GROUP_ELEMENTS_PROPERTY + " must be an integer (-1: from the L2, 0: one group), got '" + v + "'");
        }
        if (n < -1) throw new IllegalArgumentException(GROUP_ELEMENTS_PROPERTY + " must be -1, 0 or positive, got " + n);
        return n;
    }

    private NativeEnginePlan(String engine, int kind, NativeRule rule, ParamLayout layout) {
        this.engine = engine;
        this.rule = rule;
        this.carry = rule.carriesWeights();
        nSeg = layout.size();
        weights = new WeightsTracker(nSeg);
        length = new int[nSeg];
        offset = new long[nSeg];
        for (int i = 0; i < nSeg; i++) {
            length[i] = layout.segment(i).length();
            offset[i] = layout.offset(i);
        }
        total = layout.totalElements();
        if (total > ParamLayout.MAX_SEGMENT_LENGTH) {
            throw new TensorMismatchException(engine + ": models over " + ParamLayout.MAX_SEGMENT_LENGTH
                    + " parameters need device-resident tensors (stepDevice)");
        }
        plan = new NativeLars.NativePlan(kind, rule.id(), nSeg, length, rule.modes(), rule.lambdas(), rule.constants(), true);
        if (plan.status() != 0) {
            String why = plan.statusMessage();
            plan.close();
            throw new BackendUnavailableException(engine + " engine cannot plan: " + why);
        }
        stateBuffers = plan.stateBuffers();
        if (!plan.variantNote().isEmpty()) LOG.log(Level.DEBUG, "lars4j: " + engine + " engine: " + plan.variantNote());
        cooperativePlanned = plan.cooperativeBlocks() > 0;
        stagedW = plan.hostParams().capacity(total).asBuffer();
        stagedG = plan.hostGrads().capacity(total).asBuffer();
        normW = new double[nSeg];
        normG = new double[nSeg];
        trust = new double[nSeg];
    }

    @Override
    public String variant() {
        return rule.launches(plan) + (VECTOR_LOADS ? ", float4 loads" : ", scalar loads");
    }

    /** {@code skipNonFinite} is part of the plan's constants here (the kernels decide on the device). */
    @Override
    public boolean step(HostTensors params, HostTensors grads, StepValues sc, boolean skipNonFinite) {
        boolean asLeft = carry && weights.hostStep(params);
        stage(params, stagedW);
        stage(grads, stagedG);
        check("step", plan.stepHost(rule.stepValues(sc, sc.firstStep(), asLeft)));
        diagnosticsStale = true;
        int skipped = plan.lastSkipped();
        if (skipped < 0) check("step", plan.status());
        if (skipped == 1) {
            weights.stepDone();
            return false;
        }
        for (int i = 0; i < nSeg; i++) {
            int at = (int) offset[i];
            float[] a = params.array(i);
            FloatBuffer fb = params.floatBuffer(i);
            if (a != null) {
                stagedW.get(at, a, params.offset(i), length[i]);
            } else if (fb != null) {
                fb.put(params.offset(i), stagedW, at, length[i]);
            } else {
                ByteBuffer bb = params.byteBuffer(i);
                int o = params.offset(i);
                for (int k = 0; k < length[i]; k++) bb.putFloat((o + k) * Float.BYTES, stagedW.get(at + k));
            }
        }
        weights.stepDone();
        return true;
    }

    private void stage(HostTensors t, FloatBuffer dst) {
        for (int i = 0; i < nSeg; i++) {
            int at = (int) offset[i];
            float[] a = t.array(i);
            FloatBuffer fb = t.floatBuffer(i);
            if (a != null) {
                dst.put(at, a, t.offset(i), length[i]);
            } else if (fb != null) {
                dst.put(at, fb, t.offset(i), length[i]);
            } else {
                ByteBuffer bb = t.byteBuffer(i);  // a byte buffer has no bulk get of floats
                int o = t.offset(i);
                for (int k = 0; k < length[i]; k++) dst.put(at + k, bb.getFloat((o + k) * Float.BYTES));
            }
        }
    }

    @Override
    public DeviceStepper deviceStepper() { return this; }

    @Override
    public void stepDevice(long wBase, long gBase, long wTable, long gTable, long stream, StepValues sc) {
        boolean asLeft = carry && (wTable != 0 ? weights.deviceStep(wTable, WeightsTracker.DEVICE_TABLE)
                                               : weights.deviceStep(wBase, WeightsTracker.DEVICE_FLAT));
        check("device step", plan.stepDevice(wBase, gBase, wTable, gTable, stream, rule.stepValues(sc, sc.firstStep(), asLeft)));
        diagnosticsStale = true;
        weights.stepDone();
    }

    @Override
    public double[] timeSteps(long[] wBases, long[] gBases, int warmup, int reps, int batch, boolean graphs, StepValues sc) {
        weights.changed();   // the buffers rotate: never the weights the last step wrote
        float[] ms = new float[reps];
        // Every timed step is a later step on rotating buffers: not the first, nothing carried.
        check("timed device steps", plan.timeDeviceSteps(wBases, gBases, wBases.length, warmup, reps, batch, graphs ? 1 : 0,
                rule.stepValues(sc, false, false), ms));
        diagnosticsStale = true;
        double[] us = new double[reps];
        for (int i = 0; i < reps; i++) us[i] = ms[i] * 1e3;
        return us;
    }

    @Override
    public void writeStepParams(StepValues sc) {
        boolean asLeft = carry && weights.graphStep();
        check("writing step parameters", plan.writeStepParams(rule.stepValues(sc, sc.firstStep(), asLeft)));
        weights.stepDone();
    }

    @Override
    public void launchStep(long wBase, long gBase, long wTable, long gTable, long stream) {
        check("step launch", plan.launchStep(wBase, gBase, wTable, gTable, stream));
        diagnosticsStale = true;
    }

    @Override
    public boolean lastStepSkipped() {
        int s = plan.lastSkipped();
        if (s < 0) check("reading the skip flag", plan.status());
        return s == 1;
    }

    private void check(String what, int code) {
        if (code != 0) throw new NativeEngineException(engine + " " + what, code, plan.lastError());
        if (cooperativePlanned && plan.cooperativeBlocks() == 0) {
            cooperativePlanned = false;
            LOG.log(Level.WARNING, "lars4j: " + engine + " engine: " + plan.variantNote());
        }
    }

    @Override
    public void readState(int buffer, int segment, float[] dst) {
        checkBuffer(buffer);
        check("readState", plan.readState(buffer, segment, dst));
    }

    @Override
    public void writeState(int buffer, int segment, float[] src) {
        checkBuffer(buffer);
        check("writeState", plan.writeState(buffer, segment, src));
    }

    @Override
    public void resetState() {
        weights.changed();
        check("resetState", plan.resetState());
    }

    @Override public void weightsChanged() { weights.changed(); }

    private void checkBuffer(int buffer) {
        if (buffer < 0 || buffer >= stateBuffers) {
            throw new IndexOutOfBoundsException("this plan has " + stateBuffers + " state buffer(s), asked for #" + buffer);
        }
    }

    private void refreshDiagnostics() {
        if (diagnosticsStale) {
            check("readDiagnostics", plan.readDiagnostics(normW, normG, trust));
            diagnosticsStale = false;
        }
    }

    @Override public double lastWeightNorm(int segment) { refreshDiagnostics(); return normW[segment]; }
    @Override public double lastGradNorm(int segment) { refreshDiagnostics(); return normG[segment]; }
    @Override public double lastTrustRatio(int segment) { refreshDiagnostics(); return trust[segment]; }

    /**
     * The tile table the kernels read, as {@code {at, seg, len}} per tile (at: the tile's first
     * element in the flat form). For the test that holds it against the Java engine's mirror.
     */
    long[][] tileTable() {
        int n = plan.tiles();
        long[] at = new long[n];
        int[] seg = new int[n];
        int[] len = new int[n];
        check("readTileTable", plan.readTileTable(at, seg, len));
        long[][] out = new long[3][n];
        out[0] = at;
        for (int k = 0; k < n; k++) {
            out[1][k] = seg[k];
            out[2][k] = len[k];
        }
        return out;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            plan.close();
        }
    }
}

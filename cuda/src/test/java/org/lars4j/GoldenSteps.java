package org.lars4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import java.util.zip.CRC32;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;
import org.lars4j.schedule.LrSchedule;

/**
 * The fixed set of optimizer runs behind the golden file {@code golden/steps.txt} (the architecture change,
 * "not one result bit may change"): the configurations ({@link #cases()}), the model and its
 * seeded data, how one run is recorded, and the file format. {@link GoldenStepsGenerator}
 * writes the file, {@link GoldenStepsTest} compares every engine against it.
 *
 * <p>Self-contained on purpose: it uses only the public optimizer API (as it was at commit
 * {@code de79524}, where the file was recorded; only the packages of the classes it names have
 * moved since) and none of the shared test helpers, so that a change to those helpers cannot
 * silently change what the golden file means. Everything here
 * (layout, seeds, schedules, options, the order of the tensors) is part of the recorded
 * contract: changing it means regenerating the file (see {@link GoldenStepsGenerator}).
 *
 * <p>What one run records, after every step: whether the step was applied, the step count, the
 * skipped-step count, and these tensors, in this order: the weights of every segment
 * ({@code w:<segment>}), every state buffer of every segment ({@code <state>:<segment>}, in
 * {@link LayerwiseOptimizer#stateNames()} order), and {@code norms}: per segment the float64
 * {@code lastWeightNorm, lastGradNorm, lastTrustRatio}, after applied steps only (after a
 * skipped step these are unspecified, and at de79524 the engines already disagreed on them: the
 * Java engine kept the last applied step's values, the CUDA kernels reported the skipped step's
 * partial ones). Values are hashed as their IEEE bits,
 * little-endian, with NaNs canonicalised ({@link Float#floatToIntBits}): NaN payloads are
 * outside the engines' bitwise contract (docs/EMULATOR.md).
 */
final class GoldenSteps {
    private GoldenSteps() {}

    /** The class-path name of the golden file. */
    static final String RESOURCE = "/golden/steps.txt";

    /** How a run hands its tensors to the optimizer. */
    enum Form {
        /** {@code step(float[], float[])}. */
        FLAT_ARRAY,
        /** {@code step(List<float[]>, List<float[]>)}. */
        LIST_ARRAYS,
        /** {@code step(FloatBuffer, FloatBuffer)}: direct, native order, from position 3. */
        FLAT_FLOATBUFFER,
        /** {@code stepBuffers(List<FloatBuffer>, ...)}: heap buffers over arrays, each from position 1. */
        LIST_FLOATBUFFERS,
        /** {@code step(ByteBuffer, ByteBuffer)}: direct, native order, float32 from byte 12. */
        FLAT_BYTES,
        /** {@code stepByteBuffers(List<ByteBuffer>, ...)}: heap buffers in the non-native byte order. */
        LIST_BYTES;

        boolean flat() { return this == FLAT_ARRAY || this == FLAT_FLOATBUFFER || this == FLAT_BYTES; }

        boolean bytes() { return this == FLAT_BYTES || this == LIST_BYTES; }
    }

    /**
     * The byte-buffer step methods, which the API at de79524 did not have (so this class cannot
     * name them): {@link GoldenStepsTest} passes an implementation; the generator at de79524
     * passed none, and then a byte form runs as its float[] form ({@link #arrayTwin}), which is
     * the contract of the byte forms: the same bits.
     */
    interface ByteSteps {
        boolean step(LayerwiseOptimizer opt, ByteBuffer params, ByteBuffer grads);

        boolean step(LayerwiseOptimizer opt, List<ByteBuffer> params, List<ByteBuffer> grads);
    }

    /** What the optimizer is built from, besides the engine. */
    interface Factory {
        LayerwiseOptimizer build(Backend backend, ParamLayout layout);
    }

    /**
     * One configuration in one storage form. {@code badGradientAt}: the step (1-based call
     * number) whose gradient carries a NaN, 0 for none; {@code rules}: whether the layout has the
     * exclusion rules.
     */
    static final class Case {
        final String config;
        final Form form;
        final String algorithm;
        final int steps;
        final int badGradientAt;
        final boolean rules;
        final Factory factory;

        Case(String config, Form form, String algorithm, int steps, int badGradientAt, boolean rules, Factory factory) {
            this.config = config;
            this.form = form;
            this.algorithm = algorithm;
            this.steps = steps;
            this.badGradientAt = badGradientAt;
            this.rules = rules;
            this.factory = factory;
        }

        /** The name in the golden file and in messages, e.g. {@code lars.paper.wd.nesterov/FLAT_ARRAY}. */
        String name() { return config + "/" + form; }

        Case in(Form f) { return new Case(config, f, algorithm, steps, badGradientAt, rules, factory); }

        /** The layout with the exclusion rules. */
        Case withRules() { return new Case(config, form, algorithm, steps, badGradientAt, true, factory); }

        /** {@link #STEPS_WITH_BAD} calls, call {@link #BAD_AT} with a NaN gradient (SKIP_STEP skips it). */
        Case skip() { return new Case(config, form, algorithm, STEPS_WITH_BAD, BAD_AT, rules, factory); }

        /** A NaN in the gradient of call {@link #PROPAGATE_BAD_AT}, for the PROPAGATE policy. */
        Case propagate() { return new Case(config, form, algorithm, steps, PROPAGATE_BAD_AT, rules, factory); }

        @Override public String toString() { return name(); }
    }

    /** What one step left behind. */
    static final class StepRecord {
        final int step;
        final boolean applied;
        final long stepCount;
        final long skippedSteps;
        final List<String> tensorNames;
        final List<byte[]> tensors;

        StepRecord(int step, boolean applied, long stepCount, long skippedSteps, List<String> tensorNames, List<byte[]> tensors) {
            this.step = step;
            this.applied = applied;
            this.stepCount = stepCount;
            this.skippedSteps = skippedSteps;
            this.tensorNames = tensorNames;
            this.tensors = tensors;
        }

        /** The first 96 bits of the SHA-256 of every tensor's bytes, in order: the authoritative check. */
        String digest() {
            try {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                for (byte[] t : tensors) md.update(t);
                return HexFormat.of().formatHex(md.digest(), 0, 12);
            } catch (NoSuchAlgorithmException e) {
                throw new AssertionError(e);
            }
        }

        /**
         * A 16-bit tag of each tensor (the low half of its CRC32, 4 hex digits): tells which tensor
         * differs first (a change escapes its tag once in 65536 times; never the digest).
         */
        String[] tensorTags() {
            String[] out = new String[tensors.size()];
            for (int i = 0; i < out.length; i++) {
                CRC32 c = new CRC32();
                c.update(tensors.get(i));
                out[i] = String.format("%04x", c.getValue() & 0xffff);
            }
            return out;
        }

        /** The golden file's line for this step of {@code c}. */
        String line(Case c) {
            return c.name() + " " + step + " " + (applied ? "applied" : "skipped") + " " + stepCount + " " + skippedSteps + " "
                    + digest() + " " + String.join("", tensorTags());
        }
    }

    // ---- the model and its data -------------------------------------------------------------

    /**
     * The model: the tile-boundary lengths of the conformance tests (4095, 4096, 4097 with
     * 4096-element tiles), a segment of six tiles and a ragged tail, a matrix of three tiles, a
     * BN pair, biases, a length-1 rank-2 segment, a scalar; one segment whose gradient is always
     * zero and one whose weights start at zero (the zero-norm branches).
     */
    static ParamLayout layout(boolean rules) {
        ParamLayout.Builder b = ParamLayout.builder()
                .add("conv.weight", 8, 3, 3, 3)      // 216
                .add("bn.weight", 61)
                .add("bn.bias", 61)
                .add("len1", 1, 1)                   // rank 2, length 1
                .add("len4095", 4095, 1)
                .add("len4096", 64, 64)
                .add("len4097", 4097, 1)
                .add("fc.weight", 37, 301)           // 11137: three tiles, a ragged tail
                .add("fc.bias", 37)
                .add("long.weight", 7, 3512)         // 24584: six tiles and 8
                .add("frozen.weight", 5, 20)         // gradient always zero
                .add("zero.bias", 100)               // weights start at zero
                .add("temperature");                 // scalar, rank 0
        if (rules) b.excludeFromWeightDecay("bias$|^bn\\.").excludeFromAdaptation("^bn\\.|temperature");
        return b.build();
    }

    static final int FROZEN = 10;
    static final int ZERO_INIT = 11;
    /** Where a bad gradient goes: segment fc.weight, element 5000 (its second tile). */
    static final int BAD_SEGMENT = 7;
    static final int BAD_ELEMENT = 5000;

    static float[][] initialWeights(ParamLayout layout) {
        float[][] w = gaussian(layout, 1, 0.5);
        Arrays.fill(w[ZERO_INIT], 0f);
        return w;
    }

    /** The gradient of call {@code step} (1-based); a NaN in it when {@code bad}. */
    static float[][] gradient(ParamLayout layout, int step, boolean bad) {
        float[][] g = gaussian(layout, 100 + step, 0.02);
        Arrays.fill(g[FROZEN], 0f);
        if (bad) g[BAD_SEGMENT][BAD_ELEMENT] = Float.NaN;
        return g;
    }

    private static float[][] gaussian(ParamLayout layout, long seed, double sigma) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] out = new float[layout.size()][];
        for (int i = 0; i < layout.size(); i++) {
            out[i] = new float[layout.segment(i).length()];
            for (int k = 0; k < out[i].length; k++) {
                double u = 1.0 - r.nextDouble();
                out[i][k] = (float) (sigma * StrictMath.sqrt(-2 * StrictMath.log(u)) * StrictMath.cos(2 * StrictMath.PI * r.nextDouble()));
            }
        }
        return out;
    }

    // ---- the configurations -----------------------------------------------------------------

    /** LARS: warm-up over 2 steps, then a cosine decay: 0.5, 1.0, 0.775, 0.325, 0.1. */
    static final LrSchedule LARS_LR = LrSchedule.linearWarmup(1.0, 2).then(2, LrSchedule.cosine(1.0, 0.1, 3));
    /** LAMB: the same shape from 0.01. */
    static final LrSchedule LAMB_LR = LrSchedule.linearWarmup(0.01, 2).then(2, LrSchedule.cosine(0.01, 0.001, 3));

    static final int STEPS = 4;

    /**
     * The LAMB presets with recorded bits: those that existed when the file was recorded. The file
     * guards the bits that existed before the architecture change; RANGER_LARS and the stages,
     * added after it, are held across engines by their conformance tests and against the float64
     * reference.
     */
    static final List<LambPreset> LAMB_PRESETS = List.of(LambPreset.PAPER, LambPreset.OPTAX, LambPreset.APEX);
    /** Runs with a bad gradient take 5 calls, the third one bad. */
    static final int STEPS_WITH_BAD = 5;
    static final int BAD_AT = 3;
    static final int PROPAGATE_BAD_AT = 2;

    /** Configurations run in every storage form; every other one runs in the flat float[] form only. */
    static final List<String> ALL_FORMS = List.of("lars.paper.wd", "lars.tvlars.wd.rules", "lars.paper.wd.carryWeightNorms",
            "lars.paper.wd.skip", "lamb.apex.defaults", "lamb.paper.wd.skip");

    /** Every case, in the golden file's order. */
    static List<Case> cases() {
        List<Case> configs = new ArrayList<>();
        for (LarsPreset p : LarsPreset.values()) configs.add(lars(p, "defaults", b -> b));
        for (LarsPreset p : LarsPreset.values()) configs.add(lars(p, "wd", wd()));
        for (LarsPreset p : LarsPreset.values()) configs.add(lars(p, "wd.rules", wd()).withRules());
        configs.add(lars(LarsPreset.PAPER, "wd.nesterov", wd(b -> b.nesterov(true))));
        configs.add(lars(LarsPreset.TIMM, "wd.nesterov", wd(b -> b.nesterov(true))));
        configs.add(lars(LarsPreset.TIMM, "wd.dampening", wd(b -> b.dampening(0.25))));
        configs.add(lars(LarsPreset.LARC_SCALE, "wd.dampening", wd(b -> b.dampening(0.5))));
        configs.add(lars(LarsPreset.PAPER, "wd.momentum0", wd(b -> b.momentum(0))));
        configs.add(lars(LarsPreset.PAPER, "wd.momentumCorrection", wd(b -> b.momentumCorrection(true))));
        configs.add(lars(LarsPreset.MLPERF, "wd.momentumCorrection", wd(b -> b.momentumCorrection(true))));
        configs.add(lars(LarsPreset.PAPER, "wd.carryWeightNorms", wd(b -> b.carryWeightNorms(true))));
        configs.add(lars(LarsPreset.TVLARS, "wd.carryWeightNorms", wd(b -> b.carryWeightNorms(true))));
        configs.add(lars(LarsPreset.LARC_CLIP, "wd.carryWeightNorms", wd(b -> b.carryWeightNorms(true))));
        configs.add(lars(LarsPreset.PAPER, "wd.propagate", wd(b -> b.nonFinitePolicy(NonFinitePolicy.PROPAGATE))).propagate());
        configs.add(lars(LarsPreset.TIMM, "wd.propagate", wd(b -> b.nonFinitePolicy(NonFinitePolicy.PROPAGATE))).propagate());
        configs.add(lars(LarsPreset.PAPER, "wd.clip", wd(b -> b.clip(true))));
        configs.add(lars(LarsPreset.TIMM, "wd.clip", wd(b -> b.clip(true))));
        configs.add(lars(LarsPreset.PAPER, "wd.normClamp", wd(b -> b.normClamp(1.0))));
        configs.add(lars(LarsPreset.OPTAX, "wd.normClamp", wd(b -> b.normClamp(2.0))));
        configs.add(lars(LarsPreset.TVLARS, "wd.noNormClamp", wd(b -> b.normClamp(Double.POSITIVE_INFINITY))));
        configs.add(lars(LarsPreset.PAPER, "wd.normOfSum", wd(b -> b.trustRatioForm(TrustRatioForm.NORM_OF_SUM))));
        configs.add(lars(LarsPreset.OPTAX, "wd.sumOfNorms", wd(b -> b.trustRatioForm(TrustRatioForm.SUM_OF_NORMS))));
        configs.add(lars(LarsPreset.PAPER, "wd.lrOutside", wd(b -> b.lrPlacement(LrPlacement.OUTSIDE))));
        configs.add(lars(LarsPreset.TIMM, "wd.lrInside", wd(b -> b.lrPlacement(LrPlacement.INSIDE))));
        configs.add(lars(LarsPreset.TVLARS, "wd.lrInside", wd(b -> b.lrPlacement(LrPlacement.INSIDE))));
        configs.add(lars(LarsPreset.PAPER, "wd.epsEta", wd(b -> b.eps(1e-6).trustCoefficient(0.01))));
        configs.add(lars(LarsPreset.TIMM, "wd.rules.alwaysAdapt", wd(b -> b.alwaysAdapt(true))).withRules());
        configs.add(lars(LarsPreset.TIMM, "alwaysAdapt", b -> b.alwaysAdapt(true)));
        configs.add(lars(LarsPreset.PAPER, "wd.zeroNormSkipsDecay", wd(b -> b.zeroNormSkipsDecay(true))));
        configs.add(lars(LarsPreset.LARC_CLIP, "wd.noZeroNormQuirk", wd(b -> b.zeroNormSkipsDecay(false))));
        configs.add(lars(LarsPreset.PAPER, "wd.excludeOneDimensional", wd(b -> b.excludeOneDimensional(true))));
        configs.add(lars(LarsPreset.MLPERF, "wd.includeOneDimensional", wd(b -> b.excludeOneDimensional(false))));
        configs.add(lars(LarsPreset.TVLARS, "wd.phi", wd(b -> b.tvlars(0.5, 0.3, 1, 0.05))));
        configs.add(lars(LarsPreset.TVLARS, "wd.noPhi", wd(b -> b.tvlarsPhi(false))));
        configs.add(lars(LarsPreset.PAPER, "tvlarsPhi", b -> b.tvlarsPhi(true)));
        configs.add(lars(LarsPreset.PAPER, "wd.skip", wd()).skip());
        configs.add(lars(LarsPreset.TVLARS, "wd.skip", wd()).skip());
        configs.add(lars(LarsPreset.PAPER, "wd.carryWeightNorms.skip", wd(b -> b.carryWeightNorms(true))).skip());
        configs.add(lars(LarsPreset.MLPERF, "wd.momentumCorrection.skip", wd(b -> b.momentumCorrection(true))).skip());

        for (LambPreset p : LAMB_PRESETS) configs.add(lamb(p, "defaults", b -> b));
        for (LambPreset p : LAMB_PRESETS) configs.add(lamb(p, "wd", lambWd()));
        for (LambPreset p : LAMB_PRESETS) configs.add(lamb(p, "wd.rules", lambWd()).withRules());
        configs.add(lamb(LambPreset.PAPER, "wd.noBiasCorrection", lambWd(b -> b.biasCorrection(false))));
        configs.add(lamb(LambPreset.PAPER, "wd.noGradAveraging", lambWd(b -> b.gradAveraging(false))));
        configs.add(lamb(LambPreset.PAPER, "wd.l2", lambWd(b -> b.adamWMode(false))));
        configs.add(lamb(LambPreset.APEX, "wd.l2", lambWd(b -> b.adamWMode(false))));
        configs.add(lamb(LambPreset.PAPER, "wd.phiClamp", lambWd(b -> b.phiClamp(0.5, 3.0))));
        configs.add(lamb(LambPreset.OPTAX, "wd.phiClamp", lambWd(b -> b.phiClamp(2.0, 20.0))));
        configs.add(lamb(LambPreset.PAPER, "wd.trustClip", lambWd(b -> b.trustClip(true))));
        configs.add(lamb(LambPreset.PAPER, "wd.maxGradNorm", lambWd(b -> b.maxGradNorm(0.05))));
        configs.add(lamb(LambPreset.APEX, "noMaxGradNorm", b -> b.maxGradNorm(0)));
        configs.add(lamb(LambPreset.APEX, "rules.nvlamb", b -> b.nvlamb(true)).withRules());
        configs.add(lamb(LambPreset.APEX, "wd0", b -> b.weightDecay(0)));
        configs.add(lamb(LambPreset.APEX, "wd0.nvlamb", b -> b.weightDecay(0).nvlamb(true)));
        configs.add(lamb(LambPreset.PAPER, "wd.betasEps", lambWd(b -> b.beta1(0.8).beta2(0.99).eps(1e-8))));
        configs.add(lamb(LambPreset.PAPER, "wd.everyOption", lambWd(b -> b.biasCorrection(false).gradAveraging(false)
                .adamWMode(false).phiClamp(0.5, 3.0).trustClip(true).maxGradNorm(0.05))));
        configs.add(lamb(LambPreset.PAPER, "wd.propagate", lambWd(b -> b.nonFinitePolicy(NonFinitePolicy.PROPAGATE))).propagate());
        configs.add(lamb(LambPreset.APEX, "propagate", b -> b.nonFinitePolicy(NonFinitePolicy.PROPAGATE)).propagate());
        configs.add(lamb(LambPreset.PAPER, "wd.skip", lambWd()).skip());
        configs.add(lamb(LambPreset.APEX, "skip", b -> b).skip());

        List<Case> out = new ArrayList<>();
        for (Case c : configs) {
            if (ALL_FORMS.contains(c.config)) {
                for (Form f : Form.values()) out.add(c.in(f));
            } else {
                out.add(c);
            }
        }
        return out;
    }

    private static UnaryOperator<Lars.Builder> wd() { return wd(b -> b); }

    private static UnaryOperator<Lars.Builder> wd(UnaryOperator<Lars.Builder> more) {
        return b -> more.apply(b.weightDecay(5e-3));
    }

    private static UnaryOperator<Lamb.Builder> lambWd() { return lambWd(b -> b); }

    private static UnaryOperator<Lamb.Builder> lambWd(UnaryOperator<Lamb.Builder> more) {
        return b -> more.apply(b.weightDecay(0.02));
    }

    private static Case lars(LarsPreset p, String options, UnaryOperator<Lars.Builder> opts) {
        String config = "lars." + p.name().toLowerCase(java.util.Locale.ROOT) + "." + options;
        return new Case(config, Form.FLAT_ARRAY, "lars", STEPS, 0, false,
                (backend, layout) -> opts.apply(Lars.builder(p).learningRate(LARS_LR)).backend(backend).threads(2).build(layout));
    }

    private static Case lamb(LambPreset p, String options, UnaryOperator<Lamb.Builder> opts) {
        String config = "lamb." + p.name().toLowerCase(java.util.Locale.ROOT) + "." + options;
        return new Case(config, Form.FLAT_ARRAY, "lamb", STEPS, 0, false,
                (backend, layout) -> opts.apply(Lamb.builder(p).learningRate(LAMB_LR)).backend(backend).threads(2).build(layout));
    }

    // ---- running one case -------------------------------------------------------------------

    /**
     * Runs {@code c} on {@code backend}; byte forms through {@code bytes}, or (null) as their
     * float[] twins.
     */
    static List<StepRecord> run(Case c, Backend backend, ByteSteps bytes) {
        Form form = c.form.bytes() && bytes == null ? arrayTwin(c.form) : c.form;
        ParamLayout layout = layout(c.rules);
        List<StepRecord> out = new ArrayList<>();
        try (LayerwiseOptimizer opt = c.factory.build(backend, layout)) {
            Storage w = new Storage(form, layout, initialWeights(layout));
            Storage g = new Storage(form, layout, gradient(layout, 1, false));
            for (int s = 1; s <= c.steps; s++) {
                g.load(gradient(layout, s, s == c.badGradientAt));
                boolean applied = step(opt, w, g, bytes);
                out.add(record(opt, layout, s, applied, w.read()));
            }
        }
        return out;
    }

    /** The float[] form a byte form must equal. */
    static Form arrayTwin(Form f) {
        return f == Form.FLAT_BYTES ? Form.FLAT_ARRAY : f == Form.LIST_BYTES ? Form.LIST_ARRAYS : f;
    }

    private static boolean step(LayerwiseOptimizer opt, Storage w, Storage g, ByteSteps bytes) {
        switch (w.form) {
            case FLAT_ARRAY: return opt.step(w.flat, g.flat);
            case LIST_ARRAYS: return opt.step(w.arrays, g.arrays);
            case FLAT_FLOATBUFFER: return opt.step(w.flatBuffer, g.flatBuffer);
            case LIST_FLOATBUFFERS: return opt.stepBuffers(w.buffers, g.buffers);
            case FLAT_BYTES: return bytes.step(opt, w.flatBytes, g.flatBytes);
            case LIST_BYTES: return bytes.step(opt, w.byteBuffers, g.byteBuffers);
            default: throw new AssertionError(w.form);
        }
    }

    private static StepRecord record(LayerwiseOptimizer opt, ParamLayout layout, int step, boolean applied, float[][] weights) {
        List<String> names = new ArrayList<>();
        List<byte[]> tensors = new ArrayList<>();
        for (int i = 0; i < layout.size(); i++) {
            names.add("w:" + layout.segment(i).name());
            tensors.add(bits(weights[i]));
        }
        for (String state : opt.stateNames()) {
            for (int i = 0; i < layout.size(); i++) {
                float[] s = new float[layout.segment(i).length()];
                opt.readState(state, i, s);
                names.add(state + ":" + layout.segment(i).name());
                tensors.add(bits(s));
            }
        }
        if (!applied) return new StepRecord(step, applied, opt.stepCount(), opt.skippedSteps(), names, tensors);
        ByteBuffer norms = ByteBuffer.allocate(3 * 8 * layout.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < layout.size(); i++) {
            norms.putLong(Double.doubleToLongBits(opt.lastWeightNorm(i)));
            norms.putLong(Double.doubleToLongBits(opt.lastGradNorm(i)));
            norms.putLong(Double.doubleToLongBits(opt.lastTrustRatio(i)));
        }
        names.add("norms");
        tensors.add(norms.array());
        return new StepRecord(step, applied, opt.stepCount(), opt.skippedSteps(), names, tensors);
    }

    static byte[] bits(float[] x) {
        ByteBuffer b = ByteBuffer.allocate(4 * x.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : x) b.putInt(Float.floatToIntBits(v));
        return b.array();
    }

    /** The tensors of one run in one storage form; the same objects stay bound across steps. */
    private static final class Storage {
        static final int FLAT_BUFFER_POSITION = 3;
        static final int FLAT_BYTES_POSITION = 12;

        final Form form;
        final ParamLayout layout;
        float[] flat;
        List<float[]> arrays;
        FloatBuffer flatBuffer;
        List<FloatBuffer> buffers;
        ByteBuffer flatBytes;
        List<ByteBuffer> byteBuffers;

        Storage(Form form, ParamLayout layout, float[][] data) {
            this.form = form;
            this.layout = layout;
            int total = (int) layout.totalElements();
            switch (form) {
                case FLAT_ARRAY:
                    flat = new float[total];
                    break;
                case LIST_ARRAYS:
                    arrays = new ArrayList<>();
                    for (float[] d : data) arrays.add(new float[d.length]);
                    break;
                case FLAT_FLOATBUFFER:
                    flatBuffer = ByteBuffer.allocateDirect(4 * (FLAT_BUFFER_POSITION + total)).order(ByteOrder.nativeOrder()).asFloatBuffer();
                    flatBuffer.position(FLAT_BUFFER_POSITION);
                    break;
                case LIST_FLOATBUFFERS:
                    buffers = new ArrayList<>();
                    for (float[] d : data) buffers.add(FloatBuffer.wrap(new float[d.length + 2], 1, d.length));
                    break;
                case FLAT_BYTES:
                    flatBytes = ByteBuffer.allocateDirect(FLAT_BYTES_POSITION + 4 * total).order(ByteOrder.nativeOrder());
                    flatBytes.position(FLAT_BYTES_POSITION);
                    break;
                case LIST_BYTES:
                    ByteOrder other = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
                    byteBuffers = new ArrayList<>();
                    for (float[] d : data) byteBuffers.add(ByteBuffer.allocate(4 * d.length).order(other));
                    break;
                default:
                    throw new AssertionError(form);
            }
            load(data);
        }

        /** Overwrites the values in place. */
        void load(float[][] data) {
            for (int i = 0; i < data.length; i++) {
                int off = (int) layout.offset(i);
                for (int k = 0; k < data[i].length; k++) put(i, off, k, data[i][k]);
            }
        }

        float[][] read() {
            float[][] out = new float[layout.size()][];
            for (int i = 0; i < out.length; i++) {
                int off = (int) layout.offset(i);
                out[i] = new float[layout.segment(i).length()];
                for (int k = 0; k < out[i].length; k++) out[i][k] = get(i, off, k);
            }
            return out;
        }

        private void put(int i, int off, int k, float v) {
            switch (form) {
                case FLAT_ARRAY: flat[off + k] = v; break;
                case LIST_ARRAYS: arrays.get(i)[k] = v; break;
                case FLAT_FLOATBUFFER: flatBuffer.put(FLAT_BUFFER_POSITION + off + k, v); break;
                case LIST_FLOATBUFFERS: buffers.get(i).put(1 + k, v); break;
                case FLAT_BYTES: flatBytes.putFloat(FLAT_BYTES_POSITION + 4 * (off + k), v); break;
                case LIST_BYTES: byteBuffers.get(i).putFloat(4 * k, v); break;
                default: throw new AssertionError(form);
            }
        }

        private float get(int i, int off, int k) {
            switch (form) {
                case FLAT_ARRAY: return flat[off + k];
                case LIST_ARRAYS: return arrays.get(i)[k];
                case FLAT_FLOATBUFFER: return flatBuffer.get(FLAT_BUFFER_POSITION + off + k);
                case LIST_FLOATBUFFERS: return buffers.get(i).get(1 + k);
                case FLAT_BYTES: return flatBytes.getFloat(FLAT_BYTES_POSITION + 4 * (off + k));
                case LIST_BYTES: return byteBuffers.get(i).getFloat(4 * k);
                default: throw new AssertionError(form);
            }
        }
    }

    // ---- the file ---------------------------------------------------------------------------

    /** One parsed line: a case's step. */
    static final class GoldenLine {
        final String caseName;
        final int step;
        final boolean applied;
        final long stepCount;
        final long skippedSteps;
        final String digest;
        final String[] tags;

        GoldenLine(String line) {
            String[] f = line.trim().split(" ");
            if (f.length != 7 || f[6].length() % 4 != 0) throw new IllegalArgumentException("malformed golden line: " + line);
            caseName = f[0];
            step = Integer.parseInt(f[1]);
            applied = f[2].equals("applied");
            stepCount = Long.parseLong(f[3]);
            skippedSteps = Long.parseLong(f[4]);
            digest = f[5];
            tags = new String[f[6].length() / 4];
            for (int i = 0; i < tags.length; i++) tags[i] = f[6].substring(4 * i, 4 * i + 4);
        }
    }

    /**
     * Parses the golden file: case name to its steps' lines, in order. A line
     * {@code <case> = <other case>} says that the case's bits are the other's (the storage forms
     * of one configuration, whose contract is the same bits).
     */
    static Map<String, List<GoldenLine>> parse(List<String> lines) {
        Map<String, List<GoldenLine>> out = new LinkedHashMap<>();
        for (String l : lines) {
            if (l.isBlank() || l.startsWith("#")) continue;
            String[] alias = l.trim().split(" = ");
            if (alias.length == 2) {
                List<GoldenLine> target = out.get(alias[1]);
                if (target == null) throw new IllegalArgumentException("golden line refers to a case not recorded above it: " + l);
                out.put(alias[0], target);
                continue;
            }
            GoldenLine g = new GoldenLine(l);
            out.computeIfAbsent(g.caseName, k -> new ArrayList<>()).add(g);
        }
        return out;
    }

    /** The golden file's lines (the test resource). */
    static List<String> readResource() {
        try (java.io.InputStream in = GoldenSteps.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException("no golden file " + RESOURCE + " on the test class path");
            return List.of(new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Compares a run with its golden lines: null when every bit matches, otherwise one message
     * naming the case, the engine, the first differing step and what differs in it (the first
     * differing tensor by name).
     */
    static String compare(Case c, String engine, List<GoldenLine> expected, List<StepRecord> actual) {
        String who = c.name() + " on " + engine;
        if (expected == null) return who + ": not in the golden file";
        if (expected.size() != actual.size()) {
            return who + ": " + actual.size() + " steps run, " + expected.size() + " recorded";
        }
        for (int s = 0; s < actual.size(); s++) {
            GoldenLine e = expected.get(s);
            StepRecord a = actual.get(s);
            String at = who + ", step " + a.step + ": ";
            if (e.step != a.step) return at + "recorded as step " + e.step;
            if (e.applied != a.applied) return at + (a.applied ? "applied, recorded as skipped" : "skipped, recorded as applied");
            if (e.stepCount != a.stepCount) return at + "stepCount " + a.stepCount + ", recorded " + e.stepCount;
            if (e.skippedSteps != a.skippedSteps) return at + "skippedSteps " + a.skippedSteps + ", recorded " + e.skippedSteps;
            String digest = a.digest();
            String[] tags = a.tensorTags();
            if (e.digest.equals(digest) && Arrays.equals(e.tags, tags)) continue;
            if (tags.length != e.tags.length) return at + tags.length + " tensors, " + e.tags.length + " recorded";
            for (int t = 0; t < tags.length; t++) {
                if (!tags[t].equals(e.tags[t])) {
                    return at + "first differing tensor " + a.tensorNames.get(t) + " (tag " + tags[t] + ", recorded " + e.tags[t]
                            + "); digest " + digest + ", recorded " + e.digest;
                }
            }
            return at + "digest " + digest + ", recorded " + e.digest + " (every tensor's tag matches)";
        }
        return null;
    }

    /**
     * The file's text for the given runs (one entry per case, in order); a case with the same
     * lines as an earlier case of its configuration is written as an alias of it.
     */
    static String format(List<String> header, Map<Case, List<StepRecord>> runs) {
        Map<String, Case> firstOfConfig = new LinkedHashMap<>();
        StringBuilder sb = new StringBuilder();
        for (String h : header) sb.append("# ").append(h).append('\n');
        String lastAlgorithm = null;
        for (Map.Entry<Case, List<StepRecord>> e : runs.entrySet()) {
            Case c = e.getKey();
            if (!c.algorithm.equals(lastAlgorithm)) {
                lastAlgorithm = c.algorithm;
                sb.append("#\n# ").append(c.algorithm).append(" tensors, in order (norms after applied steps only): ")
                        .append(String.join(" ", e.getValue().get(0).tensorNames)).append('\n');
            }
            Case first = firstOfConfig.putIfAbsent(c.config, c);
            if (first != null && lines(first, runs.get(first)).equals(lines(c, runs.get(c)).replace(c.name() + " ", first.name() + " "))) {
                sb.append(c.name()).append(" = ").append(first.name()).append('\n');
                continue;
            }
            sb.append(lines(c, e.getValue()));
        }
        return sb.toString();
    }

    private static String lines(Case c, List<StepRecord> run) {
        StringBuilder sb = new StringBuilder();
        for (StepRecord r : run) sb.append(r.line(c)).append('\n');
        return sb.toString();
    }
}

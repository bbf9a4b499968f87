package org.lars4j.testing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lars.LarsConfig;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.lars.LrPlacement;
import org.lars4j.rule.lars.TrustRatioForm;
import org.lars4j.schedule.LrSchedule;

/** Layouts, seeded data and storage-form conversions shared by the tests. */
public final class TestModels {
    private TestModels() {}

    /**
     * The ways a caller can hand tensors to a step. The byte-buffer forms, which the Vector API
     * kernels read in place: FLAT_BYTES is one direct native-order buffer whose float32 values
     * start at byte {@link #FLAT_BYTES_POSITION} (as a caller's buffer may); LIST_BYTES is one
     * direct buffer per segment in the other byte order (every load and store swaps bytes).
     */
    public enum Form { FLAT_ARRAY, FLAT_DIRECT, LIST_ARRAYS, LIST_DIRECT, FLAT_BYTES, LIST_BYTES }

    public static final int FLAT_BYTES_POSITION = 12;

    public static final ByteOrder OTHER_ORDER =
            ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;

    /** A small model with the tile-boundary lengths, a matrix, a bias, a BN pair and a scalar. */
    public static ParamLayout.Builder mixedLayout() {
        return ParamLayout.builder()
                .add("conv.weight", 8, 3, 3, 3)      // 216
                .add("bn.weight", 61)
                .add("bn.bias", 61)
                .add("len1", 1, 1)                   // rank 2, length 1
                .add("len4095", 4095, 1)
                .add("len4096", 64, 64)
                .add("len4097", 4097, 1)
                .add("fc.weight", 37, 301)           // 11137: three tiles, a ragged tail
                .add("fc.bias", 37)
                .add("temperature");                 // scalar, rank 0
    }

    /** A seeded random layout of {@code n} segments, lengths spread over 1 .. 3 tiles. */
    public static ParamLayout randomLayout(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        ParamLayout.Builder b = ParamLayout.builder();
        for (int i = 0; i < n; i++) {
            int kind = r.nextInt(4);
            if (kind == 0) b.add("layer" + i + ".bias", 1 + r.nextInt(300));
            else if (kind == 1) b.add("layer" + i + ".weight", 1 + r.nextInt(90), 1 + r.nextInt(90));
            else if (kind == 2) b.add("layer" + i + ".weight", 4096 * (1 + r.nextInt(3)) + r.nextInt(3) - 1, 1);
            else b.add("layer" + i + ".weight", 1 + r.nextInt(16), 1 + r.nextInt(8), 3, 3);
        }
        return b.excludeFromWeightDecay("bias$").build();
    }

    /** Per-segment Gaussian data with standard deviation {@code sigma}. */
    public static float[][] gaussian(ParamLayout layout, long seed, double sigma) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] out = new float[layout.size()][];
        for (int i = 0; i < layout.size(); i++) {
            out[i] = new float[layout.segment(i).length()];
            for (int k = 0; k < out[i].length; k++) out[i][k] = (float) (sigma * gauss(r));
        }
        return out;
    }

    private static double gauss(SplittableRandom r) {
        double u = 1.0 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    public static float[][] copy(float[][] x) {
        float[][] c = new float[x.length][];
        for (int i = 0; i < x.length; i++) c[i] = x[i].clone();
        return c;
    }

    /** Tensors of one step in one storage form; {@link #segments()} reads them back. */
    public static final class Tensors {
        public final Form form;
        public final ParamLayout layout;
        public float[] flatArray;
        public FloatBuffer flatBuffer;
        public List<float[]> arrays;
        public List<FloatBuffer> buffers;
        public ByteBuffer flatBytes;
        public List<ByteBuffer> byteBuffers;

        public Tensors(Form form, ParamLayout layout, float[][] data) {
            this.form = form;
            this.layout = layout;
            int total = (int) layout.totalElements();
            switch (form) {
                case FLAT_ARRAY:
                    flatArray = new float[total];
                    for (int i = 0; i < data.length; i++) System.arraycopy(data[i], 0, flatArray, (int) layout.offset(i), data[i].length);
                    break;
                case FLAT_DIRECT:
                    flatBuffer = direct(total);
                    for (int i = 0; i < data.length; i++) flatBuffer.put((int) layout.offset(i), data[i]);
                    break;
                case LIST_ARRAYS:
                    arrays = new ArrayList<>();
                    for (float[] d : data) arrays.add(d.clone());
                    break;
                case LIST_DIRECT:
                    buffers = new ArrayList<>();
                    for (float[] d : data) {
                        FloatBuffer b = direct(d.length);
                        b.put(0, d);
                        buffers.add(b);
                    }
                    break;
                case FLAT_BYTES:
                    flatBytes = ByteBuffer.allocateDirect(FLAT_BYTES_POSITION + 4 * total).order(ByteOrder.nativeOrder());
                    flatBytes.position(FLAT_BYTES_POSITION);
                    break;
                case LIST_BYTES:
                    byteBuffers = new ArrayList<>();
                    for (float[] d : data) byteBuffers.add(ByteBuffer.allocateDirect(4 * d.length).order(OTHER_ORDER));
                    break;
                default:
                    throw new AssertionError(form);
            }
            if (flatBytes != null || byteBuffers != null) load(data);
        }

        /** The byte buffer holding segment i and the byte index of its first value. */
        private ByteBuffer bytesOf(int i) {
            return flatBytes != null ? flatBytes : byteBuffers.get(i);
        }

        private int byteIndex(int i) {
            return flatBytes != null ? FLAT_BYTES_POSITION + 4 * (int) layout.offset(i) : 0;
        }

        public float[][] segments() {
            float[][] out = new float[layout.size()][];
            for (int i = 0; i < layout.size(); i++) {
                Segment s = layout.segment(i);
                out[i] = new float[s.length()];
                int off = (int) layout.offset(i);
                switch (form) {
                    case FLAT_ARRAY: System.arraycopy(flatArray, off, out[i], 0, s.length()); break;
                    case FLAT_DIRECT: flatBuffer.get(off, out[i]); break;
                    case LIST_ARRAYS: System.arraycopy(arrays.get(i), 0, out[i], 0, s.length()); break;
                    case LIST_DIRECT: buffers.get(i).get(0, out[i]); break;
                    case FLAT_BYTES: case LIST_BYTES:
                        for (int k = 0; k < out[i].length; k++) out[i][k] = bytesOf(i).getFloat(byteIndex(i) + 4 * k);
                        break;
                    default: throw new AssertionError(form);
                }
            }
            return out;
        }

        /** Overwrites the data in place (the same arrays and buffers stay bound). */
        public void load(float[][] data) {
            for (int i = 0; i < data.length; i++) {
                int off = (int) layout.offset(i);
                switch (form) {
                    case FLAT_ARRAY: System.arraycopy(data[i], 0, flatArray, off, data[i].length); break;
                    case FLAT_DIRECT: flatBuffer.put(off, data[i]); break;
                    case LIST_ARRAYS: System.arraycopy(data[i], 0, arrays.get(i), 0, data[i].length); break;
                    case LIST_DIRECT: buffers.get(i).put(0, data[i]); break;
                    case FLAT_BYTES: case LIST_BYTES:
                        for (int k = 0; k < data[i].length; k++) bytesOf(i).putFloat(byteIndex(i) + 4 * k, data[i][k]);
                        break;
                    default: throw new AssertionError(form);
                }
            }
        }
    }

    public static FloatBuffer direct(int n) {
        return ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** One step of {@code opt} with parameters {@code p} and gradients {@code g} of the same form. */
    public static boolean step(LayerwiseOptimizer opt, Tensors p, Tensors g) {
        switch (p.form) {
            case FLAT_ARRAY: return opt.step(p.flatArray, g.flatArray);
            case FLAT_DIRECT: return opt.step(p.flatBuffer, g.flatBuffer);
            case LIST_ARRAYS: return opt.step(p.arrays, g.arrays);
            case LIST_DIRECT: return opt.stepBuffers(p.buffers, g.buffers);
            case FLAT_BYTES: return opt.step(p.flatBytes, g.flatBytes);
            case LIST_BYTES: return opt.stepByteBuffers(p.byteBuffers, g.byteBuffers);
            default: throw new AssertionError(p.form);
        }
    }

    /**
     * A LARS rule's values, settable one by one, made into a {@link LarsConfig} with the record's
     * own constructor (not the builder), so that what the reference is given comes from the
     * tests' reading of docs/MATH.md and not from the code under test.
     */
    public static final class LarsValues {
        public LarsPreset preset = LarsPreset.PAPER;
        public boolean sumOfNorms = true;      // SUM_OF_NORMS vs NORM_OF_SUM
        public boolean lrInside = true;        // INSIDE vs OUTSIDE
        public double eps = 0;
        public double eta = 0.001;
        public double momentum = 0.9;
        public double dampening = 0;
        public boolean nesterov;
        public double weightDecay;
        public boolean clip;
        public double normClamp = Double.POSITIVE_INFINITY;
        public boolean zeroNormQuirk;          // apex LARC
        public boolean tvlars;
        public double tvAlpha = 0.1, tvLambda = 0.001, tvDelay = -1, tvGammaMin = 0;
        public boolean momentumCorrection;     // MLPerf
        public LrSchedule lr = t -> 0.1;

        public LarsConfig config() {
            return new LarsConfig(preset, sumOfNorms ? TrustRatioForm.SUM_OF_NORMS : TrustRatioForm.NORM_OF_SUM,
                    lrInside ? LrPlacement.INSIDE : LrPlacement.OUTSIDE, lr, momentum, dampening, nesterov, weightDecay, eta,
                    eps, clip, normClamp, zeroNormQuirk, false, false, tvlars, tvAlpha, tvLambda, tvDelay, tvGammaMin,
                    momentumCorrection, false, NonFinitePolicy.SKIP_STEP);
        }
    }

    /** The reference rule for a preset, read from the table of docs/MATH.md (not from the builder). */
    public static LarsValues referenceRule(LarsPreset preset) {
        LarsValues r = new LarsValues();
        r.preset = preset;
        switch (preset) {
            case PAPER: case MLPERF: break;
            case OPTAX: r.sumOfNorms = false; break;
            case TIMM: r.lrInside = false; r.eps = 1e-8; break;
            case LARC_CLIP: r.lrInside = false; r.eps = 1e-8; r.eta = 0.02; r.clip = true; r.zeroNormQuirk = true; break;
            case LARC_SCALE: r.lrInside = false; r.eps = 1e-8; r.eta = 0.02; r.zeroNormQuirk = true; break;
            case TVLARS: r.sumOfNorms = false; r.lrInside = false; r.tvlars = true; r.normClamp = 10; break;
            default: throw new AssertionError(preset);
        }
        return r;
    }

    /** Flags as the table says each preset resolves them. */
    public static boolean[][] referenceFlags(LarsPreset preset, ParamLayout layout, double weightDecay) {
        boolean[] decay = new boolean[layout.size()];
        boolean[] adapt = new boolean[layout.size()];
        for (int i = 0; i < layout.size(); i++) {
            Segment s = layout.segment(i);
            decay[i] = s.decay();
            adapt[i] = s.adapt();
            if (preset == LarsPreset.MLPERF && s.rank() <= 1) decay[i] = adapt[i] = false;
            if (preset == LarsPreset.TIMM) adapt[i] = adapt[i] && decay[i] && weightDecay != 0;
        }
        return new boolean[][] {decay, adapt};
    }

    /** ||a - b|| / ||b|| over one segment, in double. */
    public static double relL2(float[] a, double[] b) {
        double num = 0;
        double den = 0;
        for (int k = 0; k < b.length; k++) {
            double d = a[k] - b[k];
            num += d * d;
            den += b[k] * b[k];
        }
        if (Double.isNaN(num)) return Double.NaN;
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    /** The raw bits of each value (NaN payloads included). */
    public static int[] raw(float[] x) {
        int[] b = new int[x.length];
        for (int i = 0; i < x.length; i++) b[i] = Float.floatToRawIntBits(x[i]);
        return b;
    }

    /** The raw bits of each value, widened to long for bit-record lists. */
    public static long[] bits(float[] x) {
        long[] b = new long[x.length];
        for (int i = 0; i < x.length; i++) b[i] = Float.floatToRawIntBits(x[i]);
        return b;
    }

    /** State buffer {@code name} of every segment of {@code opt}. */
    public static float[][] state(LayerwiseOptimizer opt, String name) {
        float[][] out = new float[opt.layout().size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = new float[opt.layout().segment(i).length()];
            opt.readState(name, i, out[i]);
        }
        return out;
    }

    /** Segment by segment, the same bits. */
    public static void assertSameBits(float[][] expected, float[][] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(raw(expected[i]), raw(actual[i]), what + ", segment " + i);
        }
    }

    /** Record by record, the same bits. */
    public static void assertSameBits(List<long[]> expected, List<long[]> actual, String what) {
        org.junit.jupiter.api.Assertions.assertEquals(expected.size(), actual.size(), what);
        for (int i = 0; i < expected.size(); i++) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(expected.get(i), actual.get(i), what + ", record " + i);
        }
    }

    public static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}

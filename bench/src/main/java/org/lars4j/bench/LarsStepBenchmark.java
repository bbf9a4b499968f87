package org.lars4j.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.ShapeFile;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One LARS step (MLPerf preset, Java engine) on the flat form of a whole model.
 *
 * <p>A step is bandwidth bound: it must at least read w, g, v and write w, v, i.e. 20 bytes per
 * parameter; {@link Report} turns the time per step into "effective GB/s" on that count and
 * compares it with {@link TriadBenchmark} from the same run.
 *
 * <p>Every setting is overridable from the command line, e.g.
 * {@code java -jar bench/target/benchmarks.jar LarsStepBenchmark -p model=resnet50 -p threads=1 -wi 5 -i 10}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 2, timeUnit = TimeUnit.SECONDS)
// bert-large: 335M parameters -> w, g and the momentum buffer v are 1.34 GB each.
@Fork(value = 1, jvmArgsAppend = {"-Xmx8g", "--add-modules=jdk.incubator.vector"})
public class LarsStepBenchmark {

    /** A bundled shape file ({@code resnet50}, {@code bert-large}, {@code vit-b16}) or {@code tiny-10k}. */
    @Param({"resnet50", "bert-large", "tiny-10k"})
    public String model;

    /** {@code lars} (MLPerf preset) or {@code lamb} (apex preset). */
    @Param({"lars", "lamb"})
    public String optimizer;

    /** LARS only: carry ||w|| from each update to the next step (same bits; saves the norm pass its read of w). */
    @Param({"false"})
    public boolean carry;

    /**
     * Java engine's block size in elements (system property {@code lars4j.cpu.blockElements}):
     * {@code default}, or a number; {@code 0} = whole-model passes (the two-pass design).
     */
    @Param({"default"})
    public String blocks;

    /**
     * How the tensors are handed over: {@code flat} (one float[] for the whole model at the
     * layout's offsets, as DL4J keeps them) or {@code list} (one float[] per tensor, as DJL and
     * Tribuo hand them over; the momentum stays one flat array, so w, g and v sit at different
     * offsets in the update loops).
     */
    @Param({"flat"})
    public String form;

    /** Worker threads of the engine: a number, or {@code all} = available processors. */
    @Param({"1", "all"})
    public String threads;

    private float[] w;
    private float[] g;
    private List<float[]> wList;
    private List<float[]> gList;
    private LayerwiseOptimizer opt;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        ParamLayout layout = layoutFor(model);
        long n = layout.totalElements();
        if (n > ParamLayout.MAX_SEGMENT_LENGTH) throw new IllegalStateException(model + ": too many parameters for a flat array");
        w = new float[(int) n];
        g = new float[(int) n];
        fillWeights(w, 0x5EED_0001L);
        fillGrads(g, 0x5EED_0002L);
        if (form.equals("list")) {
            wList = split(layout, w);
            gList = split(layout, g);
            w = null;
            g = null;
        } else if (!form.equals("flat")) {
            throw new IllegalArgumentException("form must be flat or list, got " + form);
        }
        int t = resolveThreads(threads);
        if (blocks.equals("default")) System.clearProperty("lars4j.cpu.blockElements");
        else System.setProperty("lars4j.cpu.blockElements", Integer.toString(Integer.parseInt(blocks.strip())));
        opt = optimizer.equals("lamb")
                ? Lamb.builder(LambPreset.APEX).learningRate(1e-3).backend(Backend.CPU).threads(t).build(layout)
                : Lars.builder(LarsPreset.MLPERF).learningRate(0.1).weightDecay(5e-5).carryWeightNorms(carry)
                        .backend(Backend.CPU).threads(t).build(layout);
        // One step outside the measurement: the momentum buffers are now touched and non-zero,
        // and a step that the non-finite policy skips would make the numbers meaningless.
        if (!step()) throw new IllegalStateException("the first step was skipped (non-finite values?)");
        System.out.printf("%n# lars4j step: %s%s, model=%s, %d segments, %d parameters, engine %s (%s)%n",
                optimizer, carry ? " (carried ||w||)" : "", model, layout.size(), n, opt.engineName(), opt.engineVariant());
    }

    @Benchmark
    public boolean step() {
        return w != null ? opt.step(w, g) : opt.step(wList, gList);
    }

    /** One array per tensor, copied out of the flat array. */
    static List<float[]> split(ParamLayout layout, float[] flat) {
        List<float[]> out = new ArrayList<>(layout.size());
        for (int i = 0; i < layout.size(); i++) {
            int from = (int) layout.offset(i);
            out.add(Arrays.copyOfRange(flat, from, from + layout.segment(i).length()));
        }
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        long skipped = opt.skippedSteps();
        opt.close();
        opt = null;
        w = null;
        g = null;
        wList = null;
        gList = null;
        if (skipped != 0) throw new IllegalStateException(skipped + " steps were skipped: the measurement is not a LARS step");
    }

    // ---- shared with Report ------------------------------------------------------------------

    /** The layout of {@code model}: a bundled shape file, or tiny-10k (see {@link ShapeFile#bundled}). */
    static ParamLayout layoutFor(String model) throws IOException {
        return ShapeFile.bundled(model).build();
    }

    /** {@code all} = available processors, otherwise a positive number. */
    static int resolveThreads(String threads) {
        if (threads.equalsIgnoreCase("all")) return Runtime.getRuntime().availableProcessors();
        int t = Integer.parseInt(threads.strip());
        if (t < 1) throw new IllegalArgumentException("threads must be >= 1 or 'all', got " + threads);
        return t;
    }

    private static final int FILL_CHUNK = 1 << 20;

    /** Weights ~ N(0, 0.5), filled in parallel (bert-large has 335M of them), deterministic. */
    static void fillWeights(float[] a, long seed) {
        parallelFill(a, seed, (r, dst, from, to) -> {
            for (int i = from; i < to; i++) dst[i] = (float) (0.5 * r.nextGaussian());
        });
    }

    /**
     * Gradients ~ N(0, 1e-3) with magnitude at least 1e-6: never zero (a zero gradient can be
     * cheaper) and never subnormal.
     */
    static void fillGrads(float[] a, long seed) {
        parallelFill(a, seed, (r, dst, from, to) -> {
            for (int i = from; i < to; i++) {
                double x = 1e-3 * r.nextGaussian();
                if (Math.abs(x) < 1e-6) x = x < 0 ? -1e-6 : 1e-6;
                dst[i] = (float) x;
            }
        });
    }

    private interface ChunkFill {
        void fill(SplittableRandom r, float[] dst, int from, int to);
    }

    private static void parallelFill(float[] a, long seed, ChunkFill f) {
        int chunks = (a.length + FILL_CHUNK - 1) / FILL_CHUNK;
        IntStream.range(0, chunks).parallel().forEach(c -> {
            int from = c * FILL_CHUNK;
            int to = (int) Math.min(a.length, (long) from + FILL_CHUNK);
            f.fill(new SplittableRandom(seed * 0x9E3779B97F4A7C15L + c), a, from, to);
        });
    }
}

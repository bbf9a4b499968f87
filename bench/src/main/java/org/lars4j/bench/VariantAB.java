package org.lars4j.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cpu.MemoryBandwidth;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;

/**
 * Interleaved A/B of the Java engine's step variants inside one JVM, next to a triad taken
 * in the same rounds. On a noisy machine (this project's VMs show ~14% steal) separate JMH forks
 * disagree by more than the effects; here every variant and the triad share each round, so a slow
 * phase of the machine hits them alike. All optimizers are built up front (LARS: MLPERF preset;
 * LAMB: APEX; flat form unless {@code +list}); each round times 3 steps of each variant (after 3
 * warm-up steps at the start) and 3 triads; the report is the median over rounds of each round's
 * median, and its ratio to the triad at 20 (LARS) or 28 (LAMB) bytes per parameter (the same
 * ratio as {@link Report}). Next to it, the median of each round's own ratio (step and triad of
 * the same round), and the step's cost in plain momentum-SGD steps over arrays of the model's
 * size (timed in the same rounds). For LARS also "x plain loops": the step over one such SGD step
 * plus as many plain read passes ({@link MemoryBandwidth#read()}, same rounds) as the step's norm
 * passes read (8 bytes per parameter: w and g, or under SKIP_STEP the gradient pre-pass and w;
 * 4 with carried weight norms), i.e. the step against plain loops over the same passes.
 * {@code -Dvariantab.rounds=true} also prints every round's time.
 *
 * <p>Variants: {@code whole} (blocks of 0 = whole-model passes), {@code blocks} (the default
 * block size), {@code blocks:N} (N elements), and {@code +carry} on any of them, then {@code +propagate}
 * (NonFinitePolicy.PROPAGATE: no gradient pre-pass), then {@code +scalar} (the scalar tile
 * kernels instead of the Vector API ones; run with {@code --add-modules jdk.incubator.vector}),
 * then {@code +shared} (one shared chunk queue instead of a part per worker), then {@code +list}
 * (tensors handed over one array each instead of one flat array) or {@code +direct} (the flat
 * form in one native-order direct {@code FloatBuffer} each for w and g) or {@code +bytes} (the same in
 * native-order direct {@code ByteBuffer}s, as ND4J's {@code data().asNio()} gives them). A variant prefixed
 * {@code lamb:} runs LAMB (APEX preset, 28 bytes per parameter) instead of LARS.
 *
 * <pre>java -Xmx18g --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar org.lars4j.bench.VariantAB bert-large 2 15 whole blocks blocks+carry</pre>
 * (model, threads, rounds, variants...)
 */
public final class VariantAB {
    private VariantAB() {}

    public static void main(String[] args) throws Exception {
        String model = args.length > 0 ? args[0] : "resnet50";
        int threads = args.length > 1 ? LarsStepBenchmark.resolveThreads(args[1]) : Runtime.getRuntime().availableProcessors();
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 9;
        List<String> variants = args.length > 3 ? Arrays.asList(args).subList(3, args.length) : List.of("whole", "blocks");
        ParamLayout layout = LarsStepBenchmark.layoutFor(model);
        long n = layout.totalElements();
        float[] w = new float[(int) n];
        float[] g = new float[w.length];
        LarsStepBenchmark.fillWeights(w, 1);
        LarsStepBenchmark.fillGrads(g, 2);
        List<LayerwiseOptimizer> opts = new ArrayList<>();
        List<Runnable> steps = new ArrayList<>();
        List<float[]> wList = null;
        List<float[]> gList = null;
        FloatBuffer wDirect = null;
        ByteBuffer wBytes = null;
        ByteBuffer gBytes = null;
        FloatBuffer gDirect = null;
        List<Integer> bytesPerParam = new ArrayList<>();
        List<Integer> readOnlyBytes = new ArrayList<>();   // per parameter, read by the norm passes (LARS)
        for (String v : variants) {
            String blocks = v;
            boolean lamb = blocks.startsWith("lamb:");
            if (lamb) blocks = blocks.substring("lamb:".length());
            boolean bytes = blocks.endsWith("+bytes");
            if (bytes) blocks = blocks.substring(0, blocks.length() - "+bytes".length());
            boolean direct = blocks.endsWith("+direct");
            if (direct) blocks = blocks.substring(0, blocks.length() - "+direct".length());
            boolean list = blocks.endsWith("+list");
            if (list) blocks = blocks.substring(0, blocks.length() - "+list".length());
            boolean shared = blocks.endsWith("+shared");
            if (shared) blocks = blocks.substring(0, blocks.length() - "+shared".length());
            boolean scalar = blocks.endsWith("+scalar");
            if (scalar) blocks = blocks.substring(0, blocks.length() - "+scalar".length());
            boolean propagate = blocks.endsWith("+propagate");
            if (propagate) blocks = blocks.substring(0, blocks.length() - "+propagate".length());
            boolean carry = blocks.endsWith("+carry");
            if (carry) blocks = blocks.substring(0, blocks.length() - "+carry".length());
            if (blocks.equals("whole")) System.setProperty("lars4j.cpu.blockElements", "0");
            else if (blocks.equals("blocks")) System.clearProperty("lars4j.cpu.blockElements");
            else if (blocks.startsWith("blocks:")) System.setProperty("lars4j.cpu.blockElements", blocks.substring(7));
            else throw new IllegalArgumentException("variant " + v + ": whole, blocks or blocks:N, optionally +carry, +propagate, +scalar, +shared, +list, +direct, +bytes in that order, and lamb: before");
            if ((list ? 1 : 0) + (direct ? 1 : 0) + (bytes ? 1 : 0) > 1) {
                throw new IllegalArgumentException("variant " + v + ": +list, +direct and +bytes do not combine");
            }
            if (scalar) System.setProperty("lars4j.cpu.kernels", "scalar");
            else System.clearProperty("lars4j.cpu.kernels");
            if (shared) throw new IllegalArgumentException("variant " + v + ": +shared (one chunk queue) was removed; the part-per-worker schedule was kept (bench/HISTORY.md, worker affinity)");
            NonFinitePolicy policy = propagate ? NonFinitePolicy.PROPAGATE : NonFinitePolicy.SKIP_STEP;
            LayerwiseOptimizer opt = lamb
                    ? Lamb.builder(LambPreset.APEX).learningRate(1e-3).nonFinitePolicy(policy).backend(Backend.CPU).threads(threads).build(layout)
                    : Lars.builder(LarsPreset.MLPERF).learningRate(0.1).weightDecay(5e-5).carryWeightNorms(carry)
                            .nonFinitePolicy(policy).backend(Backend.CPU).threads(threads).build(layout);
            bytesPerParam.add(opt.config().bytesPerParameter());
            readOnlyBytes.add(lamb ? 0 : carry ? 4 : 8);
            System.out.printf("%-16s %s%n", v, opt.engineVariant());
            Runnable step;
            if (list) {
                // One array per tensor (DJL/Tribuo's form), copied once and shared by the list variants.
                if (wList == null) {
                    wList = LarsStepBenchmark.split(layout, w);
                    gList = LarsStepBenchmark.split(layout, g);
                }
                List<float[]> ws = wList;
                List<float[]> gs = gList;
                step = () -> opt.step(ws, gs);
            } else if (bytes) {
                // The flat form in native-order direct byte buffers (ND4J's data().asNio()), copied once.
                if (wBytes == null) {
                    wBytes = directBytes(w);
                    gBytes = directBytes(g);
                }
                ByteBuffer wb = wBytes;
                ByteBuffer gb = gBytes;
                step = () -> opt.step(wb, gb);
            } else if (direct) {
                // The flat form in native-order direct buffers (DL4J's off-heap flat view), copied once.
                if (wDirect == null) {
                    wDirect = directCopy(w);
                    gDirect = directCopy(g);
                }
                FloatBuffer wb = wDirect;
                FloatBuffer gb = gDirect;
                step = () -> opt.step(wb, gb);
            } else {
                step = () -> opt.step(w, g);
            }
            for (int i = 0; i < 3; i++) step.run();
            opts.add(opt);
            steps.add(step);
        }
        System.clearProperty("lars4j.cpu.blockElements");
        System.clearProperty("lars4j.cpu.kernels");
        // Rows: the variants, then the triad, then a plain momentum-SGD step, then a plain read pass.
        double[][] perRound = new double[variants.size() + 3][rounds];
        // The triad on 32M floats per array (as in TriadBenchmark); the momentum-SGD step on arrays
        // of the model's size, so that its cost compares steps of exactly as many elements.
        try (MemoryBandwidth triad = new MemoryBandwidth(threads, 1 << 25);
             MemoryBandwidth sgd = new MemoryBandwidth(threads, (int) n)) {
            for (int i = 0; i < 3; i++) {
                triad.triad();
                sgd.momentumSgd();
                sgd.read();
            }
            int sgdRow = opts.size() + 1;
            int readRow = opts.size() + 2;
            for (int r = 0; r < rounds; r++) {
                for (int v = 0; v < opts.size(); v++) perRound[v][r] = medianMs(steps.get(v));
                perRound[opts.size()][r] = medianMs(triad::triad);
                perRound[sgdRow][r] = medianMs(sgd::momentumSgd);
                perRound[readRow][r] = medianMs(sgd::read);
            }
            double triadMs = median(perRound[opts.size()]);
            double triadGBps = 12.0 * triad.elements() / (triadMs * 1e-3) / 1e9;
            double sgdMs = median(perRound[sgdRow]);
            double readMs = median(perRound[readRow]);
            System.out.printf("%s, %,d parameters, %d thread(s), %d rounds; triad %.2f GB/s (12 B/elem), momentum SGD %.2f GB/s"
                            + " (20 B/elem), read %.2f GB/s (4 B/elem; both on model-sized arrays; medians of rounds)%n",
                    model, n, threads, rounds, triadGBps, 20.0 * n / (sgdMs * 1e-3) / 1e9, 4.0 * n / (readMs * 1e-3) / 1e9);
            for (int v = 0; v < opts.size(); v++) {
                double ms = median(perRound[v]);
                int bytes = bytesPerParam.get(v);
                double gbps = bytes * (double) n / (ms * 1e-3) / 1e9;
                double[] sorted = perRound[v].clone();
                Arrays.sort(sorted);
                // Each round's own ratio (step and triad of the same round): a slow phase of the
                // machine that hits both cancels out here, not in the ratio of the medians.
                double[] roundRatio = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    roundRatio[r] = (bytes * (double) n / perRound[v][r]) / (12.0 * triad.elements() / perRound[opts.size()][r]);
                }
                double[] rr = roundRatio.clone();
                Arrays.sort(rr);
                // Cost in momentum-SGD steps of as many elements (same round), then the median.
                double[] sgdSteps = new double[rounds];
                for (int r = 0; r < rounds; r++) sgdSteps[r] = perRound[v][r] / perRound[sgdRow][r];
                // LARS: against plain loops over the same passes (one SGD step + the norm passes' reads).
                int ro = readOnlyBytes.get(v);
                String plain = "";
                if (ro > 0) {
                    double[] plainLoops = new double[rounds];
                    for (int r = 0; r < rounds; r++) {
                        plainLoops[r] = perRound[v][r] / (perRound[sgdRow][r] + ro / 4.0 * perRound[readRow][r]);
                    }
                    plain = String.format("; x plain loops (SGD + %d B/param read) %.2f", ro, median(plainLoops));
                }
                System.out.printf("  %-16s median %9.2f ms (rounds %.2f .. %.2f)  %6.2f GB/s at %d B/param  ratio %.3f;"
                                + " per-round ratio median %.3f (%.3f .. %.3f); x SGD step %.2f%s%n",
                        variants.get(v), ms, sorted[0], sorted[sorted.length - 1], gbps, bytes, gbps / triadGBps,
                        median(roundRatio), rr[0], rr[rr.length - 1], median(sgdSteps), plain);
            }
            if (Boolean.getBoolean("variantab.rounds")) {
                // Every round's median ms, in time order: shows whether slow phases hit all alike.
                for (int v = 0; v < perRound.length; v++) {
                    String row = v < opts.size() ? variants.get(v) : v == opts.size() ? "triad" : v == sgdRow ? "momentum SGD" : "read";
                    System.out.printf("  %-16s", row);
                    for (int r = 0; r < rounds; r++) System.out.printf(" %7.1f", perRound[v][r]);
                    System.out.println();
                }
            }
        } finally {
            for (LayerwiseOptimizer o : opts) o.close();
        }
    }

    /** A native-order direct buffer holding a copy of {@code a}. */
    static FloatBuffer directCopy(float[] a) {
        return directBytes(a).asFloatBuffer();
    }

    /** A native-order direct byte buffer holding a copy of {@code a} as float32. */
    static ByteBuffer directBytes(float[] a) {
        ByteBuffer b = ByteBuffer.allocateDirect(4 * a.length).order(ByteOrder.nativeOrder());
        b.asFloatBuffer().put(a);
        return b;
    }

    private static double medianMs(Runnable r) {
        double[] ms = new double[3];
        for (int i = 0; i < ms.length; i++) {
            long t0 = System.nanoTime();
            r.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        return median(ms);
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}

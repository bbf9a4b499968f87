package org.lars4j.bench;

import java.util.Arrays;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LarsPreset;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;

/**
 * A/B of carried weight norms inside one JVM (on a noisy machine, separate JMH forks disagree by
 * more than the effect): alternates off/on for several rounds, each the median of 11 timed steps
 * after 4 warm-up steps, MLPERF preset, Java engine, flat form.
 *
 * <pre>java -cp bench/target/benchmarks.jar org.lars4j.bench.CarryAB resnet50 2 3</pre>
 * (model, threads, rounds)
 */
public final class CarryAB {
    private CarryAB() {}

    public static void main(String[] args) throws Exception {
        String model = args.length > 0 ? args[0] : "resnet50";
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        ParamLayout layout = LarsStepBenchmark.layoutFor(model);
        float[] w = new float[(int) layout.totalElements()];
        float[] g = new float[w.length];
        LarsStepBenchmark.fillWeights(w, 1);
        LarsStepBenchmark.fillGrads(g, 2);
        for (int round = 0; round < rounds; round++) {
            for (boolean carry : new boolean[] {false, true}) {
                try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.MLPERF).learningRate(0.1).weightDecay(5e-5)
                        .carryWeightNorms(carry).backend(Backend.CPU).threads(threads).build(layout)) {
                    for (int i = 0; i < 4; i++) opt.step(w, g);
                    double[] ms = new double[11];
                    for (int i = 0; i < ms.length; i++) {
                        long t0 = System.nanoTime();
                        opt.step(w, g);
                        ms[i] = (System.nanoTime() - t0) / 1e6;
                    }
                    Arrays.sort(ms);
                    System.out.printf("%s threads=%d carry=%-5s median %.1f ms (min %.1f)%n", model, threads, carry, ms[5], ms[0]);
                }
            }
        }
    }
}

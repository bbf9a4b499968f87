package org.lars4j.tool;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.lars4j.Backend;
import org.lars4j.Engines;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.reference.Float64Reference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./lars4j verify}: the same random problem through every engine that can run here (cpu,
 * cuda-emulator, cuda); says whether their weights and state are bitwise identical, and how far
 * each is from a float64 reference. Exits 1 if any two engines differ.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Run one random problem on every available engine; report bitwise identity and the distance from float64.")
final class VerifyCommand implements Callable<Integer> {
    /**
     * Enough steps for every phase of every rule to be compared: two Lookahead syncs at the usual
     * k = 6, and rectified LAMB's rectified phase (from step 6 at beta2 = 0.999).
     */
    @Option(names = "--steps", defaultValue = "13", description = "steps (default: ${DEFAULT-VALUE}: two syncs of a Lookahead with k = 6, "
            + "rectified LAMB past its momentum-only phase)")
    int steps;

    @Option(names = "--seed", defaultValue = "1", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Mixin
    OptimizerOptions options;

    /** Tile boundaries, a length-1 tensor, a ragged multi-tile tensor, a bias, a scalar. */
    static ParamLayout.Builder problemLayout() {
        return ParamLayout.builder()
                .add("conv.weight", 16, 3, 3, 3).add("len1.weight", 1, 1).add("len4095.weight", 4095, 1)
                .add("len4096.weight", 64, 64).add("len4097.weight", 4097, 1).add("long.weight", 3 * 4096 + 77, 1)
                .add("fc.weight", 37, 301).add("fc.bias", 37).add("scale");
    }

    @Override
    public Integer call() {
        ParamLayout layout = options.applyRules(problemLayout()).build();
        SplittableRandom r = new SplittableRandom(seed);
        float[][] w0 = new float[layout.size()][];
        float[][][] grads = new float[steps][layout.size()][];
        for (int i = 0; i < layout.size(); i++) {
            w0[i] = new float[layout.segment(i).length()];
            for (int k = 0; k < w0[i].length; k++) w0[i][k] = (float) ((r.nextDouble() - 0.5) * 2);
        }
        for (float[][] g : grads) {
            for (int i = 0; i < layout.size(); i++) {
                g[i] = new float[layout.segment(i).length()];
                for (int k = 0; k < g[i].length; k++) g[i][k] = (float) ((r.nextDouble() - 0.5) * 0.02);
            }
        }
        List<String> names = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        List<float[][]> results = new ArrayList<>();
        Float64Reference ref = null;
        for (Backend b : new Backend[] {Backend.CPU, Backend.CUDA_EMULATOR, Backend.CUDA}) {
            String why = Engines.unavailableReason(b);
            if (why != null) {
                skipped.add(String.format("  %-14s skipped: %s", b.cliName(), why));
                continue;
            }
            float[][] w = new float[layout.size()][];
            for (int i = 0; i < w.length; i++) w[i] = w0[i].clone();
            try (LayerwiseOptimizer opt = options.build(layout, b)) {
                if (ref == null) ref = Float64Reference.of(opt.config(), opt.layout(), w0);
                for (int s = 0; s < steps; s++) {
                    opt.step(Arrays.asList(w), Arrays.asList(grads[s]));
                    if (results.isEmpty()) ref.step(grads[s]);
                }
                float[][] all = new float[2 * layout.size() + opt.stateNames().size() * layout.size()][];
                int at = 0;
                for (float[] x : w) all[at++] = x;
                for (String st : opt.stateNames()) {
                    for (int i = 0; i < layout.size(); i++) {
                        all[at] = new float[layout.segment(i).length()];
                        opt.readState(st, i, all[at++]);
                    }
                }
                names.add(b.cliName());
                results.add(Arrays.copyOf(all, at));
                if (names.size() == 1) {
                    System.out.printf("%s %s, %d steps, %d tensors, %d parameters%n", opt.config().algorithm(), opt.config().preset(),
                            steps, layout.size(), layout.totalElements());
                }
            }
        }
        skipped.forEach(System.out::println);
        boolean allSame = true;
        for (int e = 0; e < names.size(); e++) {
            float[][] x = results.get(e);
            double maxRel = 0;
            double[][] exact = ref.weights();
            for (int i = 0; i < layout.size(); i++) {
                double num = 0;
                double den = 0;
                for (int k = 0; k < x[i].length; k++) {
                    double d = x[i][k] - exact[i][k];
                    num += d * d;
                    den += exact[i][k] * exact[i][k];
                }
                maxRel = Math.max(maxRel, Math.sqrt(num / den));
            }
            String same = "reference engine";
            if (e > 0) {
                long differ = 0;
                float[][] base = results.get(0);
                for (int j = 0; j < x.length; j++) {
                    for (int k = 0; k < x[j].length; k++) {
                        if (Float.floatToIntBits(x[j][k]) != Float.floatToIntBits(base[j][k])) differ++;
                    }
                }
                same = differ == 0 ? "bitwise identical to cpu" : differ + " values DIFFER from cpu";
                allSame &= differ == 0;
            }
            System.out.printf("  %-14s %-28s max rel. L2 distance of the weights from float64: %.3g%n", names.get(e), same, maxRel);
        }
        System.out.println(allSame ? "all engines agree bit for bit" : "ENGINES DISAGREE");
        return allSame ? 0 : 1;
    }
}

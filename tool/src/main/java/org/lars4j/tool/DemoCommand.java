package org.lars4j.tool;

import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** A small, self-explaining LARS step on a toy model; prints what it did. */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Apply a few LARS steps to a small random model and print the per-layer trust ratios.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--preset", defaultValue = "timm", description = "paper mlperf optax timm larc-clip larc-scale tvlars (default: ${DEFAULT-VALUE})")
    String preset;

    @Option(names = "--steps", defaultValue = "3", description = "steps to apply (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--backend", defaultValue = "auto", description = "auto, cpu, cuda or cuda-emulator (default: ${DEFAULT-VALUE})")
    String backend;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        LarsPreset p;
        Backend be;
        try {
            p = LarsPreset.parse(preset);
            be = Backend.parse(backend);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (steps < 1) throw new ParameterException(spec.commandLine(), "--steps must be >= 1, got " + steps);
        ParamLayout layout = ParamLayout.builder()
                .add("conv1.weight", 64, 3, 7, 7)
                .add("bn1.weight", 64)
                .add("bn1.bias", 64)
                .add("fc.weight", 10, 64)
                .add("fc.bias", 10)
                .excludeFromWeightDecay("bn|bias")
                .build();
        int n = (int) layout.totalElements();
        SplittableRandom r = new SplittableRandom(42);
        float[] w = new float[n];
        float[] g = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) (r.nextDouble() - 0.5);
        try (LayerwiseOptimizer opt = Lars.builder(p).learningRate(0.1).weightDecay(1e-4)
                .backend(be).build(layout)) {
            System.out.printf("LARS preset %s on the %s engine, %d segments, %d parameters%n",
                    preset, opt.engineName(), layout.size(), n);
            for (int s = 1; s <= steps; s++) {
                for (int i = 0; i < n; i++) g[i] = (float) (0.01 * (r.nextDouble() - 0.5));
                opt.step(w, g);
                System.out.printf("step %d:%n", opt.stepCount());
                for (int i = 0; i < layout.size(); i++) {
                    System.out.printf("  %-14s ||w|| %-12s ||g|| %-12s trust ratio %.6g%n", layout.segment(i).name(),
                            fmt(opt.lastWeightNorm(i)), fmt(opt.lastGradNorm(i)), opt.lastTrustRatio(i));
                }
            }
        }
        return 0;
    }

    /** A norm the rule did not need (segment not adapted) prints as "-". */
    private static String fmt(double norm) {
        return Double.isNaN(norm) ? "-" : String.format("%.6g", norm);
    }
}

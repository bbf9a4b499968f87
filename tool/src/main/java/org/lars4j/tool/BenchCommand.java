package org.lars4j.tool;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.lars4j.Backend;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cpu.MemoryBandwidth;
import org.lars4j.engine.cuda.DeviceBuffers;
import org.lars4j.io.SafetensorsWriter;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.stage.Stages;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./lars4j bench}: times the optimizer step on a model's shapes and compares it with a
 * bandwidth floor measured in the same run: a STREAM triad on the CPU (and for the emulator),
 * a device-to-device copy on the GPU. Effective bandwidth counts 20 bytes per parameter for LARS
 * and 28 for LAMB (docs/MATH.md section 9). Off the GPU it also times a plain fused momentum-SGD
 * step (20 bytes per element) and reports the step's cost in such steps.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Time the optimizer step on a model's shapes against a bandwidth floor measured in the same run.")
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "resnet50", description = ModelShapes.MODELS + " (default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--shapes", paramLabel = "FILE", description = "a shape file ('<name> <d0>x<d1>...' per line) instead of --model (default: none)")
    Path shapes;

    @Option(names = "--warmup", defaultValue = "5", description = "warm-up steps (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--steps", defaultValue = "20", description = "measured steps; the median is reported (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--json", paramLabel = "FILE", description = "also write the results as one JSON object, atomically (default: none)")
    Path json;

    @Mixin
    OptimizerOptions options;

    @Override
    public Integer call() throws Exception {
        // Everything the run depends on is checked before the (long) benchmark starts.
        if (warmup < 0 || steps < 1) throw options.usage("--warmup must be >= 0 and --steps >= 1");
        options.validate();
        int procs = Runtime.getRuntime().availableProcessors();
        if (options.threads != null && options.threads > procs) {
            // The floor is a bandwidth measured with the same threads; more threads than cores
            // measure the scheduler, and the ratio to such a floor means nothing.
            throw options.usage("--threads " + options.threads + " is more than the " + procs + " processors here; the floor would be meaningless");
        }
        if (json != null) SafetensorsWriter.checkTarget(json);
        String modelName = shapes != null ? shapes.getFileName().toString() : model;
        ParamLayout.Builder shapesBuilder;
        if (shapes == null && !ModelShapes.NAMES.contains(model)) {
            throw options.usage("unknown model '" + model + "' (expected " + ModelShapes.MODELS + ", or --shapes FILE)");
        }
        shapesBuilder = ModelShapes.load(model, shapes);
        ParamLayout layout = options.applyRules(shapesBuilder).build();
        long total = layout.totalElements();
        if (total > ParamLayout.MAX_SEGMENT_LENGTH) throw new IllegalArgumentException(modelName + " has more parameters than one Java array holds");
        float[] w = new float[(int) total];
        float[] g = new float[(int) total];
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextDouble() - 0.5);
            g[i] = (float) ((r.nextDouble() - 0.5) * 1e-3);
        }
        try (LayerwiseOptimizer opt = options.build(layout, null)) {
            Backend engine = Backend.parse(opt.engineName());
            boolean device = engine == Backend.CUDA;
            int bytesPerParam = opt.config().bytesPerParameter();
            int threads = options.threads != null ? options.threads : Runtime.getRuntime().availableProcessors();

            progress("measuring the floor ...");
            double floor;
            String floorKind;
            double sgd = Double.NaN;
            if (device) {
                floor = DeviceBuffers.copyBandwidth(engine, 512L << 20, 20);
                floorKind = "device-to-device copy (read + write bytes)";
            } else {
                try (MemoryBandwidth stream = new MemoryBandwidth(threads, 32 << 20)) {
                    floor = stream.triadGBps(7);
                    sgd = stream.momentumSgdGBps(7);
                }
                floorKind = "STREAM triad, " + threads + " thread(s) (12 bytes/element)";
            }

            long wDev = 0;
            long gDev = 0;
            if (device) {
                wDev = DeviceBuffers.upload(engine, w);
                gDev = DeviceBuffers.upload(engine, g);
            }
            double[] us = new double[steps];
            try {
                for (int i = 0; i < warmup + steps; i++) {
                    if (i < warmup) progress("warming up " + (i + 1) + "/" + warmup);
                    else progress("measuring " + (i - warmup + 1) + "/" + steps);
                    long t0 = System.nanoTime();
                    if (device) {
                        opt.stepDevice(wDev, gDev, 0);
                        DeviceBuffers.synchronize(engine);
                    } else {
                        opt.step(w, g);
                    }
                    long t1 = System.nanoTime();
                    if (i >= warmup) us[i - warmup] = (t1 - t0) / 1e3;
                }
            } finally {
                if (device) {
                    DeviceBuffers.free(engine, wDev);
                    DeviceBuffers.free(engine, gDev);
                }
            }
            progress(null);
            Arrays.sort(us);
            double median = us[steps / 2];
            double gbps = bytesPerParam * (double) total / (median * 1e-6) / 1e9;
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", modelName);
            out.put("optimizer", opt.config().algorithm());
            out.put("preset", opt.config().preset());
            out.put("stages", stages(opt.config().stages()));
            out.put("backend", opt.engineName());
            out.put("variant", opt.engineVariant());
            out.put("threads", device ? 0 : threads);
            out.put("params", total);
            out.put("segments", layout.size());
            out.put("us_per_step_median", round(median));
            out.put("us_per_step_min", round(us[0]));
            out.put("us_per_step_max", round(us[steps - 1]));
            out.put("steps", steps);
            out.put("bytes_per_param", bytesPerParam);
            out.put("gbps", round(gbps));
            out.put("floor_kind", floorKind);
            out.put("floor_gbps", round(floor));
            out.put("ratio_to_floor", Math.round(gbps / floor * 1000) / 1000.0);
            // The step's cost in plain momentum-SGD steps: its time per parameter over the SGD's per element.
            double sgdSteps = sgd / 20.0 / (gbps / bytesPerParam);
            if (!device) {
                // A plain fused momentum-SGD step (20 B/element) in the same run: the step's cost in such steps.
                out.put("momentum_sgd_gbps", round(sgd));
                out.put("cost_in_momentum_sgd_steps", round(sgdSteps));
            }
            out.put("timing", device ? "host clock around each step + device synchronise" : "host clock around each step");
            System.out.printf("%s, %s %s on the %s engine%s: %d parameters in %d tensors%n", modelName, opt.config().algorithm(),
                    opt.config().preset(), opt.engineName(), device ? "" : " (" + threads + " threads)", total, layout.size());
            System.out.printf("  runs   %s%n", opt.engineVariant());
            System.out.printf("  stages %s%n", stages(opt.config().stages()));
            System.out.printf("  step   %10.1f us (median of %d; min %.1f, max %.1f)  %8.2f GB/s at %d bytes/param%n",
                    median, steps, us[0], us[steps - 1], gbps, bytesPerParam);
            System.out.printf("  floor  %10s     %s                   %8.2f GB/s%n", "", floorKind, floor);
            System.out.printf("  ratio  %.3f%n", gbps / floor);
            if (!device) {
                System.out.printf("  sgd    %10s     plain momentum SGD, same threads (20 bytes/element) %8.2f GB/s%n", "", sgd);
                System.out.printf("  cost   %.2f momentum-SGD steps (its time per element, scaled to %d parameters)%n",
                        sgdSteps, total);
            }
            if (json != null) {
                OutputFiles.writeString(json, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out) + "\n");
            }
        }
        return 0;
    }

    /**
     * The stages around the rule, in words. They change no bytes per parameter (the rule's floor:
     * no pass of their own on a step without a Lookahead sync), so a timing with stages is told
     * apart from one without by this line, not by the floor.
     */
    static String stages(Stages s) {
        List<String> parts = new ArrayList<>();
        if (s.centralization() != null) parts.add("gradient centralization (" + (s.centralization().convOnly() ? "conv only" : "rank > 1") + ")");
        if (s.lookahead() != null) parts.add("lookahead (k " + s.lookahead().k() + ", alpha " + s.lookahead().alpha() + ")");
        return parts.isEmpty() ? "none" : String.join(", ", parts);
    }

    private static double round(double x) { return Math.round(x * 100) / 100.0; }

    /** One updating line on stderr while warming up and measuring; null clears it. */
    private static void progress(String what) {
        if (what == null) System.err.print("\r" + " ".repeat(60) + "\r");
        else System.err.print("\r" + String.format("%-60s", "lars4j bench: " + what));
        System.err.flush();
    }
}

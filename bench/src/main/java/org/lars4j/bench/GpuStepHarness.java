package org.lars4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.cuda.DeviceBuffers;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;

/**
 * The GPU step benchmark: for each model and optimizer, device-resident flat w and g (rotated
 * among several copies so that L2 never holds a step's inputs), warm-up steps, then samples of
 * {@code --batch} back-to-back steps timed between two CUDA events with the stream held while a
 * sample is enqueued (so the host's enqueue is outside the window), as plain launches and as
 * CUDA graph replays; reports the median µs/step, effective GB/s (20 bytes per parameter for
 * LARS, 28 for LAMB: the floors, docs/BYTES.md) and the ratio to a device-to-device copy
 * measured in the same run. {@code --backend cuda-emulator} runs the same code on the CPU
 * emulator (tiny sizes: a check of the harness, not a measurement). Optimizers: {@code lars}
 * (MLPerf preset, the default grouped step), {@code lars-g<N>} (the same with groups of N
 * elements), {@code lars-3launch} (the same, three launches over the whole model), {@code lamb}
 * (apex preset). Models: the bundled ones, or {@code tiny-N}, N
 * tensors of 10x100 (tiny-10k is the bundled one).
 *
 * <pre>java -cp bench/target/benchmarks.jar org.lars4j.bench.GpuStepHarness --models resnet50,bert-large,tiny-10k --json out.json</pre>
 */
public final class GpuStepHarness {
    private GpuStepHarness() {}

    public static void main(String[] args) throws IOException {
        Backend backend = Backend.CUDA;
        List<String> models = List.of("resnet50", "bert-large", "tiny-10k");
        List<String> optimizers = List.of("lars", "lars-3launch", "lamb");
        List<String> modes = List.of("launch", "graph");
        int warmup = 20;
        int reps = 50;
        int batch = 16;
        Path json = null;
        long floorBytes = 1L << 30;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend": backend = Backend.parse(args[++i]); break;
                case "--models": models = Arrays.asList(args[++i].split(",")); break;
                case "--optimizers": optimizers = Arrays.asList(args[++i].split(",")); break;
                case "--warmup": warmup = Integer.parseInt(args[++i]); break;
                case "--reps": reps = Integer.parseInt(args[++i]); break;
                case "--batch": batch = Integer.parseInt(args[++i]); break;
                case "--modes": modes = Arrays.asList(args[++i].split(",")); break;
                case "--floor-bytes": floorBytes = Long.parseLong(args[++i]); break;
                case "--json": json = Path.of(args[++i]); break;
                default: throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        double floor = DeviceBuffers.copyBandwidth(backend, floorBytes, 50);
        System.out.printf("device-to-device copy (read + write): %.1f GB/s (%d MiB, median of 50, events)%n", floor, floorBytes >> 20);
        List<Map<String, Object>> rows = new ArrayList<>();
        System.out.printf("%-12s %-18s %12s %9s %12s %10s %10s %7s%n", "model", "opt", "params", "segments", "us/step", "B/param", "GB/s", "ratio");
        for (String model : models) {
            ParamLayout layout = layoutFor(model);
            long n = layout.totalElements();
            // Enough copies that one step's inputs are long evicted when they come round again.
            int rotations = (int) Math.max(2, Math.min(8, (512L << 20) / (8 * n) + 1));
            float[] w = new float[(int) n];
            float[] g = new float[(int) n];
            long[] wd = new long[rotations];
            long[] gd = new long[rotations];
            try {
                for (int r = 0; r < rotations; r++) {
                    LarsStepBenchmark.fillWeights(w, 11 + r);
                    LarsStepBenchmark.fillGrads(g, 101 + r);
                    wd[r] = DeviceBuffers.upload(backend, w);
                    gd[r] = DeviceBuffers.upload(backend, g);
                }
                for (String optimizer : optimizers) for (String mode : modes) {
                    boolean lamb = optimizer.equals("lamb");
                    boolean graphs = mode.equals("graph");
                    // lars-3launch: three launches over the whole model; lars-g<N>: the grouped step with
                    // groups of N elements instead of the L2's default (both read when the plan is made).
                    if (optimizer.equals("lars-3launch")) System.setProperty("lars4j.cuda.cooperative", "false");
                    else System.clearProperty("lars4j.cuda.cooperative");
                    if (optimizer.matches("lars-g\\d+")) System.setProperty("lars4j.cuda.groupElements", optimizer.substring(6));
                    else System.clearProperty("lars4j.cuda.groupElements");
                    try (LayerwiseOptimizer opt = lamb
                            ? Lamb.builder(LambPreset.APEX).learningRate(1e-3).backend(backend).build(layout)
                            : Lars.builder(LarsPreset.MLPERF).learningRate(0.1).weightDecay(5e-5).backend(backend).build(layout)) {
                        double[] us = opt.timeDeviceSteps(wd, gd, warmup, reps, batch, graphs);
                        Arrays.sort(us);
                        double median = us[us.length / 2];
                        int bytes = opt.config().bytesPerParameter();
                        double gbps = bytes * (double) n / (median * 1e-6) / 1e9;
                        String name = optimizer + (graphs ? " graph" : "");
                        System.out.printf("%-12s %-18s %,12d %9d %12.1f %10d %10.1f %7.3f%n", model, name, n, layout.size(), median, bytes,
                                gbps, gbps / floor);
                        Map<String, Object> row = new LinkedHashMap<>();
                        row.put("model", model);
                        row.put("optimizer", name);
                        row.put("backend", opt.engineName());
                        row.put("variant", opt.engineVariant());
                        row.put("params", n);
                        row.put("segments", layout.size());
                        row.put("us_per_step_median", median);
                        row.put("us_per_step_p10", us[us.length / 10]);
                        row.put("us_per_step_p90", us[us.length * 9 / 10]);
                        row.put("reps", reps);
                        row.put("steps_per_sample", batch);
                        row.put("timing", "samples of " + batch + " back-to-back " + (graphs ? "graph replays" : "steps")
                                + " between two events, stream held while enqueued");
                        row.put("rotations", rotations);
                        row.put("bytes_per_param", bytes);
                        row.put("gbps", gbps);
                        row.put("floor_gbps", floor);
                        row.put("ratio_to_floor", gbps / floor);
                        rows.add(row);
                        // Rewritten after every row: a run cut off by a time limit keeps what it measured.
                        if (json != null) writeJson(json, floor, rows);
                    }
                }
            } finally {
                for (int r = 0; r < rotations; r++) {
                    if (wd[r] != 0) DeviceBuffers.free(backend, wd[r]);
                    if (gd[r] != 0) DeviceBuffers.free(backend, gd[r]);
                }
            }
        }
        if (json != null) writeJson(json, floor, rows);
    }

    /** A bundled model, or {@code tiny-N}: N tensors of 10x100 (small models for dry runs on the emulator). */
    static ParamLayout layoutFor(String model) throws IOException {
        if (model.matches("tiny-\\d+")) {
            int count = Integer.parseInt(model.substring(5));
            ParamLayout.Builder b = ParamLayout.builder();
            for (int i = 0; i < count; i++) b.add("t" + i + ".weight", 10, 100);
            return b.build();
        }
        return LarsStepBenchmark.layoutFor(model);
    }

    private static void writeJson(Path json, double floor, List<Map<String, Object>> rows) throws IOException {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("floor_kind", "device-to-device copy, bytes read + written, CUDA events");
        out.put("floor_gbps", floor);
        out.put("rows", rows);
        Files.writeString(json, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out) + "\n");
    }
}

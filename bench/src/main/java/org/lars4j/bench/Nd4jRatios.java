package org.lars4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The report of {@link Nd4jStepBenchmark}: for each benchmark the median, minimum and maximum of
 * every measured iteration of every fork (a slow phase of a shared machine moves a mean, less a
 * median), then the ratios of the medians: the step on ND4J's memory over the step on
 * {@code float[]} (goal: at most 1.1) and over DL4J's Nesterovs (goal: below 1.0).
 *
 * <pre>java -cp bench/target/benchmarks.jar org.lars4j.bench.Nd4jRatios bench/target/nd4j.json</pre>
 */
public final class Nd4jRatios {
    private Nd4jRatios() {}

    public static void main(String[] args) throws IOException {
        JsonNode root = new ObjectMapper().readTree(new File(args[0]));
        Map<String, List<Double>> scores = new LinkedHashMap<>();
        String unit = "";
        for (JsonNode run : root) {
            String name = run.get("benchmark").asText();
            name = name.substring(name.lastIndexOf('.') + 1);
            JsonNode params = run.get("params");
            if (params != null && params.has("model")) name += " (" + params.get("model").asText() + ", threads " + params.get("threads").asText() + ")";
            unit = run.get("primaryMetric").get("scoreUnit").asText();
            List<Double> xs = scores.computeIfAbsent(name, k -> new ArrayList<>());
            for (JsonNode fork : run.get("primaryMetric").get("rawData")) {
                for (JsonNode it : fork) xs.add(it.asDouble() / 1000.0);   // us -> ms
            }
        }
        if (!unit.equals("us/op")) throw new IllegalStateException("expected us/op, got " + unit);
        System.out.println("| benchmark | iterations | median ms | min .. max ms |");
        System.out.println("|---|---|---|---|");
        Map<String, Double> medians = new LinkedHashMap<>();
        for (Map.Entry<String, List<Double>> e : scores.entrySet()) {
            List<Double> xs = e.getValue();
            Collections.sort(xs);
            double median = xs.size() % 2 == 1 ? xs.get(xs.size() / 2) : (xs.get(xs.size() / 2 - 1) + xs.get(xs.size() / 2)) / 2;
            medians.put(e.getKey().replaceAll(" \\(.*", ""), median);
            System.out.printf("| %s | %d | %.2f | %.2f .. %.2f |%n", e.getKey(), xs.size(), median, xs.get(0), xs.get(xs.size() - 1));
        }
        System.out.println();
        ratio(medians, "larsNd4jBytes", "larsFloatArray", "LARS on ND4J's memory (ByteBuffer) / LARS on float[] (goal <= 1.1)");
        ratio(medians, "larsNd4jBytes", "nesterovs", "LARS on ND4J's memory (ByteBuffer) / DL4J Nesterovs (goal < 1.0)");
        ratio(medians, "larsNd4jFloatBuffer", "larsFloatArray", "LARS on ND4J's memory as a direct FloatBuffer / LARS on float[]");
        ratio(medians, "larsNd4jFloatBuffer", "nesterovs", "LARS on ND4J's memory as a direct FloatBuffer / DL4J Nesterovs");
    }

    private static void ratio(Map<String, Double> medians, String a, String b, String what) {
        if (medians.containsKey(a) && medians.containsKey(b)) {
            System.out.printf("- %s: **%.3f** (medians %.2f / %.2f ms)%n", what, medians.get(a) / medians.get(b), medians.get(a), medians.get(b));
        }
    }
}

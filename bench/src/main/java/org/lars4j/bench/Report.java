package org.lars4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;

/**
 * Reads a JMH JSON result file ({@code -rf json}) and prints, for every
 * {@link LarsStepBenchmark} row, the time per step, the effective bandwidth of the step
 * (20 bytes per parameter), the triad bandwidth of the same thread count from the same file
 * (12 bytes per element, STREAM's count) and their ratio — from JMH's means, and again from the
 * medians of the measured iterations, which one slow phase of a shared machine does not move —
 * and the step's cost in plain momentum-SGD steps ({@code TriadBenchmark.momentumSgd}, same thread
 * count, its time per element scaled to the model's parameter count: 1.0 means the step costs what
 * a norm-free fused momentum step costs), then the bandwidth yardsticks and the machine facts.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar org.lars4j.bench.Report [--markdown] [--command CMD] [results.json]
 * </pre>
 * The file defaults to {@code bench/target/results.json}. {@code --markdown} prints a section
 * ready to paste into bench/RESULTS.md; {@code --command} records the command that produced
 * the file. GB/s are decimal (10^9 bytes per second), as STREAM's MB/s are 10^6.
 */
public final class Report {
    /** Bytes a step must move per parameter: each rule's own count (Rule.bytesPerParameter). */
    static final int STEP_BYTES = Lars.builder(LarsPreset.PAPER).learningRate(0.1).config().bytesPerParameter();
    static final int LAMB_STEP_BYTES = Lamb.builder(LambPreset.APEX).learningRate(1e-3).config().bytesPerParameter();
    /** STREAM's count for triad (read b, c; write a), ignoring write-allocate traffic. */
    static final int TRIAD_BYTES = 12;
    /** STREAM's count for copy (read b; write a). */
    static final int COPY_BYTES = 8;
    /** A momentum-SGD step: read w, g, v; write w, v. */
    static final int SGD_BYTES = 20;

    private Report() {}

    /** One result row: a benchmark, its parameters and its score as seconds per operation. */
    record Row(String benchmark, Map<String, String> params, double secondsPerOp, double errorSecondsPerOp,
               double score, double scoreError, String unit, double medianSecondsPerOp) {
        String method() { return benchmark.substring(benchmark.lastIndexOf('.', benchmark.lastIndexOf('.') - 1) + 1); }
        String param(String name) { return params.getOrDefault(name, ""); }
    }

    public static void main(String[] args) throws IOException {
        boolean markdown = false;
        String command = null;
        Path file = Path.of("bench/target/results.json");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--markdown", "-m" -> markdown = true;
                case "--command", "-c" -> {
                    if (i + 1 >= args.length) usage("--command needs a value");
                    command = args[++i];
                }
                case "--help", "-h" -> {
                    usage(null);
                    return;
                }
                default -> {
                    if (args[i].startsWith("-")) usage("unknown option " + args[i]);
                    file = Path.of(args[i]);
                }
            }
        }
        if (!Files.isRegularFile(file)) {
            System.err.println("Report: no such file: " + file + " (run JMH with -rf json -rff " + file + ")");
            System.exit(2);
        }
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        if (!root.isArray()) {
            System.err.println("Report: " + file + " is not a JMH JSON result file (expected an array)");
            System.exit(2);
        }
        System.out.print(render(root, markdown, command, file));
    }

    private static void usage(String error) {
        if (error != null) System.err.println("Report: " + error);
        (error == null ? System.out : System.err).println(
                "usage: java -cp bench/target/benchmarks.jar org.lars4j.bench.Report [--markdown] [--command CMD] [results.json]");
        if (error != null) System.exit(2);
    }

    // ---- reading ---------------------------------------------------------------------------

    static List<Row> rows(JsonNode root) {
        List<Row> out = new ArrayList<>();
        for (JsonNode r : root) {
            String bench = r.path("benchmark").asText();
            String mode = r.path("mode").asText();
            Map<String, String> params = new LinkedHashMap<>();
            r.path("params").fields().forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
            JsonNode pm = r.path("primaryMetric");
            double score = number(pm.path("score"));
            double err = number(pm.path("scoreError"));
            String unit = pm.path("scoreUnit").asText();
            double median = number(pm.path("scorePercentiles").path("50.0"));   // of the measured iterations
            double sec;
            double errSec;
            double medianSec;
            if (mode.equals("thrpt")) { // ops per time unit
                String[] u = unit.split("/");
                double perSecond = score / seconds(u.length == 2 ? u[1] : "s");
                sec = 1 / perSecond;
                errSec = sec * (err / score);
                medianSec = 1 / (median / seconds(u.length == 2 ? u[1] : "s"));
            } else { // avgt, sample, ss: time per op
                double f = seconds(unit.split("/")[0]);
                sec = score * f;
                errSec = err * f;
                medianSec = median * f;
            }
            out.add(new Row(bench, params, sec, errSec, score, err, unit, medianSec));
        }
        return out;
    }

    private static double number(JsonNode n) {
        if (n.isNumber()) return n.asDouble();
        try {
            return Double.parseDouble(n.asText());
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    private static double seconds(String unit) {
        return switch (unit) {
            case "ns" -> 1e-9;
            case "us" -> 1e-6;
            case "ms" -> 1e-3;
            case "s" -> 1;
            case "min" -> 60;
            case "hr" -> 3600;
            default -> throw new IllegalArgumentException("unknown time unit '" + unit + "'");
        };
    }

    /** Parameters of {@code model}, or -1 where the model is unknown. */
    static long parameters(String model) {
        try {
            return LarsStepBenchmark.layoutFor(model).totalElements();
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    static double gbPerSecond(double bytes, double seconds) { return bytes / seconds / 1e9; }

    /** The row of {@code method} (triad, copy or momentumSgd) with these threads; the largest size wins. */
    static Row yardstick(List<Row> rows, String method, String threads) {
        Row best = null;
        for (Row r : rows) {
            if (!r.method().equals("TriadBenchmark." + method) || !r.param("threads").equals(threads)) continue;
            if (best == null || Long.parseLong(r.param("size")) > Long.parseLong(best.param("size"))) best = r;
        }
        return best;
    }

    // ---- printing --------------------------------------------------------------------------

    static String render(JsonNode root, boolean markdown, String command, Path file) {
        List<Row> rows = rows(root);
        int cpus = Runtime.getRuntime().availableProcessors();
        List<String[]> steps = new ArrayList<>();
        for (Row r : rows) {
            if (!r.method().equals("LarsStepBenchmark.step")) continue;
            String model = r.param("model");
            String threads = r.param("threads");
            String optimizer = (r.param("optimizer").isEmpty() ? "lars" : r.param("optimizer"))
                    + (r.param("carry").equals("true") ? "+carry" : "")
                    + (r.param("form").equals("list") ? " list" : "")
                    + (r.param("blocks").isEmpty() || r.param("blocks").equals("default") ? "" : " blocks=" + r.param("blocks"));
            int bytesPerParam = optimizer.startsWith("lamb") ? LAMB_STEP_BYTES : STEP_BYTES;
            long params = parameters(model);
            double stepGb = params < 0 ? Double.NaN : gbPerSecond((double) bytesPerParam * params, r.secondsPerOp());
            Row triad = yardstick(rows, "triad", threads);
            double triadGb = triad == null ? Double.NaN
                    : gbPerSecond((double) TRIAD_BYTES * Long.parseLong(triad.param("size")), triad.secondsPerOp());
            // The same ratio from the medians of the measured iterations: on a machine with slow
            // phases (this project's VMs) one slow iteration moves a mean, not a median.
            double medianRatio = params < 0 || triad == null ? Double.NaN
                    : gbPerSecond((double) bytesPerParam * params, r.medianSecondsPerOp())
                            / gbPerSecond((double) TRIAD_BYTES * Long.parseLong(triad.param("size")), triad.medianSecondsPerOp());
            // Cost in momentum-SGD steps: seconds per parameter over the SGD's seconds per element.
            Row sgd = yardstick(rows, "momentumSgd", threads);
            double sgdSteps = params < 0 || sgd == null ? Double.NaN
                    : (r.secondsPerOp() / params) / (sgd.secondsPerOp() / Long.parseLong(sgd.param("size")));
            steps.add(new String[] {
                model,
                optimizer,
                threadsLabel(threads, cpus),
                params < 0 ? "?" : String.format(Locale.ROOT, "%,d", params),
                micros(r),
                Integer.toString(bytesPerParam),
                fmt(stepGb, 2),
                fmt(triadGb, 2),
                fmt(stepGb / triadGb, 3),
                fmt(medianRatio, 3),
                fmt(sgdSteps, 2),
            });
        }
        List<String[]> sticks = new ArrayList<>();
        for (Row r : rows) {
            boolean triad = r.method().equals("TriadBenchmark.triad");
            boolean copy = r.method().equals("TriadBenchmark.copy");
            boolean sgd = r.method().equals("TriadBenchmark.momentumSgd");
            if (!triad && !copy && !sgd) continue;
            long n = Long.parseLong(r.param("size"));
            int bytes = triad ? TRIAD_BYTES : copy ? COPY_BYTES : SGD_BYTES;
            sticks.add(new String[] {
                triad ? "triad a=b+s*c" : copy ? "copy a=b" : "momentum SGD v=0.9v+g, w-=lr*v",
                threadsLabel(r.param("threads"), cpus),
                String.format(Locale.ROOT, "%,d", n),
                Integer.toString(bytes),
                micros(r),
                fmt(gbPerSecond((double) bytes * n, r.secondsPerOp()), 2),
            });
        }
        String[] stepHead = {"model", "optimizer", "threads", "params", "us/step", "B/param", "step GB/s", "triad GB/s (12 B/elem)", "ratio", "ratio of medians", "x SGD step"};
        String[] stickHead = {"kernel", "threads", "elements", "B/elem", "us/op", "GB/s"};

        StringBuilder sb = new StringBuilder();
        if (markdown) {
            sb.append("### Run of ").append(runTime(file).format(DateTimeFormatter.ISO_LOCAL_DATE)).append("\n\n");
            if (command != null) sb.append("Command:\n\n```\n").append(command).append("\n```\n\n");
            sb.append("Step (LARS: MLPerf preset; LAMB: apex preset; cpu engine, flat form) against the triad of the same thread count:\n\n");
            sb.append(markdownTable(stepHead, steps, new boolean[] {false, false, false, true, true, true, true, true, true, true, true}));
            sb.append("\n\"x SGD step\": the step's time per parameter over a plain momentum-SGD step's time per element (TriadBenchmark.momentumSgd, same thread count).\n");
            sb.append("\nBandwidth yardsticks (STREAM byte counts, no write-allocate traffic; momentum SGD 20 B/elem):\n\n");
            sb.append(markdownTable(stickHead, sticks, new boolean[] {false, false, true, true, true, true}));
            sb.append("\nMachine and settings:\n\n");
            for (String[] f : facts(root, file, cpus)) sb.append("- ").append(f[0]).append(": ").append(f[1]).append('\n');
        } else {
            if (command != null) sb.append("command: ").append(command).append("\n\n");
            sb.append("LARS step vs triad (same thread count)\n");
            sb.append(textTable(stepHead, steps));
            sb.append("\nBandwidth yardsticks (STREAM byte counts)\n");
            sb.append(textTable(stickHead, sticks));
            sb.append('\n');
            for (String[] f : facts(root, file, cpus)) sb.append(String.format(Locale.ROOT, "%-19s %s%n", f[0] + ":", f[1]));
        }
        if (steps.isEmpty()) sb.append("\n(no LarsStepBenchmark rows in ").append(file).append(")\n");
        else if (sticks.isEmpty()) sb.append("\n(no TriadBenchmark rows in ").append(file).append(": no ratio)\n");
        return sb.toString();
    }

    /** Time per op in microseconds, with JMH's 99.9% error where it has one (2+ iterations). */
    private static String micros(Row r) {
        double t = r.secondsPerOp() * 1e6;
        double e = r.errorSecondsPerOp() * 1e6;
        return Double.isNaN(e) ? String.format(Locale.ROOT, "%,.1f", t) : String.format(Locale.ROOT, "%,.1f ± %,.1f", t, e);
    }

    private static String threadsLabel(String threads, int cpus) {
        return threads.equalsIgnoreCase("all") ? "all (" + cpus + ")" : threads;
    }

    private static String fmt(double v, int decimals) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private static String markdownTable(String[] head, List<String[]> rows, boolean[] right) {
        StringBuilder sb = new StringBuilder("| ").append(String.join(" | ", head)).append(" |\n|");
        for (boolean r : right) sb.append(r ? "---:|" : "---|");
        sb.append('\n');
        for (String[] row : rows) sb.append("| ").append(String.join(" | ", row)).append(" |\n");
        return sb.toString();
    }

    private static String textTable(String[] head, List<String[]> rows) {
        int[] w = new int[head.length];
        for (int i = 0; i < head.length; i++) w[i] = head[i].length();
        for (String[] r : rows) for (int i = 0; i < r.length; i++) w[i] = Math.max(w[i], r[i].length());
        StringBuilder sb = new StringBuilder();
        appendRow(sb, head, w);
        StringBuilder rule = new StringBuilder();
        for (int i = 0; i < w.length; i++) rule.append(i == 0 ? "" : "  ").append("-".repeat(w[i]));
        sb.append(rule).append('\n');
        for (String[] r : rows) appendRow(sb, r, w);
        return sb.toString();
    }

    private static void appendRow(StringBuilder sb, String[] cells, int[] w) {
        for (int i = 0; i < cells.length; i++) {
            if (i > 0) sb.append("  ");
            // first two columns left-aligned, numbers right-aligned
            sb.append(i < 2 ? String.format("%-" + w[i] + "s", cells[i]) : String.format("%" + w[i] + "s", cells[i]));
        }
        sb.append('\n');
    }

    // ---- machine facts ---------------------------------------------------------------------

    static List<String[]> facts(JsonNode root, Path file, int cpus) {
        List<String[]> f = new ArrayList<>();
        f.add(new String[] {"date", runTime(file).truncatedTo(ChronoUnit.SECONDS).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)
                + " (results file written)"});
        f.add(new String[] {"cpu", cpuModel()});
        int logical = countCpuinfo("processor");
        f.add(new String[] {"cores", cpus + " available to the JVM" + (logical > 0 ? ", " + logical + " logical in /proc/cpuinfo" : "")
                + "; threads=all means " + cpus});
        String l3 = readFirstLine("/sys/devices/system/cpu/cpu0/cache/index3/size");
        if (l3 != null) f.add(new String[] {"L3 cache", l3 + " (as seen by cpu0)"});
        String mem = meminfo();
        if (mem != null) f.add(new String[] {"memory", mem});
        f.add(new String[] {"os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch")});
        JsonNode first = root.size() > 0 ? root.get(0) : null;
        if (first != null) {
            f.add(new String[] {"java", first.path("vmName").asText() + " " + first.path("vmVersion").asText()
                    + " (JDK " + first.path("jdkVersion").asText() + ")"});
            // settings and JVM arguments per benchmark class (each has its own @Fork/@Warmup/...)
            Map<String, String> settings = new LinkedHashMap<>();
            for (JsonNode r : root) {
                String b = r.path("benchmark").asText();
                String cls = b.substring(b.lastIndexOf('.', b.lastIndexOf('.') - 1) + 1, b.lastIndexOf('.'));
                List<String> jvmArgs = new ArrayList<>();
                r.path("jvmArgs").forEach(a -> jvmArgs.add(a.asText()));
                settings.putIfAbsent(cls, "forks " + r.path("forks").asText()
                        + ", warmup " + r.path("warmupIterations").asText() + " x " + r.path("warmupTime").asText()
                        + ", measurement " + r.path("measurementIterations").asText() + " x " + r.path("measurementTime").asText()
                        + ", jvm args " + (jvmArgs.isEmpty() ? "(none)" : String.join(" ", jvmArgs)));
            }
            f.add(new String[] {"jmh", first.path("jmhVersion").asText()});
            settings.forEach((cls, v) -> f.add(new String[] {cls, v}));
        } else {
            f.add(new String[] {"java", System.getProperty("java.vm.name") + " " + Runtime.version()});
        }
        f.add(new String[] {"results", file.toString()});
        return f;
    }

    /** When the results file was written (the end of the run), in the local time zone; now if unknown. */
    private static ZonedDateTime runTime(Path file) {
        try {
            return ZonedDateTime.ofInstant(Files.getLastModifiedTime(file).toInstant(), ZoneId.systemDefault());
        } catch (IOException | RuntimeException e) {
            return ZonedDateTime.now();
        }
    }

    private static String cpuModel() {
        for (String line : cpuinfo()) {
            if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).strip();
        }
        return System.getProperty("os.arch") + " (no model name in /proc/cpuinfo)";
    }

    private static int countCpuinfo(String key) {
        int n = 0;
        for (String line : cpuinfo()) if (line.startsWith(key) && line.substring(key.length()).strip().startsWith(":")) n++;
        return n;
    }

    private static List<String> cpuinfo() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }

    private static String meminfo() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.UTF_8)) {
                if (line.startsWith("MemTotal:")) {
                    String[] p = line.substring(9).strip().split("\\s+");
                    return String.format(Locale.ROOT, "%.1f GiB", Long.parseLong(p[0]) / 1024.0 / 1024.0);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return null;
    }

    private static String readFirstLine(String path) {
        try {
            List<String> l = Files.readAllLines(Path.of(path), StandardCharsets.UTF_8);
            return l.isEmpty() ? null : l.get(0).strip();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}

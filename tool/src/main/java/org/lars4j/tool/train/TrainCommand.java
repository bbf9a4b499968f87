package org.lars4j.tool.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.lars4j.tool.OutputFiles;
import org.lars4j.tool.train.Experiment.Optimizer;
import org.lars4j.tool.train.Experiment.RunResult;
import org.lars4j.tool.train.Experiment.RunSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code ./lars4j train}: the large-batch experiment of the LARS paper on Fashion-MNIST with a
 * small batch-norm CNN in DL4J, every optimizer step by lars4j (docs/EXPERIMENT.md).
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a small batch-norm CNN on Fashion-MNIST (DL4J + lars4j): a small-batch SGD baseline, then SGD with "
                + "the linear scaling rule against LARS, LAMB, TVLARS and RangerLars at large batches, each over the same learning-rate grid.",
                "Writes results.json, results.md, PNG plots, and every run's DL4J model and optimizer checkpoint into --out."})
public final class TrainCommand implements Callable<Integer> {
    static final String RESULTS_FORMAT = "lars4j-train-results/1";

    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "output directory (required): new, empty, or the output of an earlier train, whose results, plots and runs are replaced")
    Path out;

    @Option(names = "--data", paramLabel = "DIR", description = "Fashion-MNIST IDX files (default: ${DEFAULT-VALUE})")
    Path data = FashionMnist.DEBIAN_DIR;

    @Option(names = "--quick", description = "a reduced run for a first look: one large batch, LARS against SGD, 3 epochs on 30000 images (default: off)")
    boolean quick;

    @Option(names = "--epochs", paramLabel = "N", description = "epochs of every run (default: 6; --quick: 3)")
    Integer epochs;

    @Option(names = "--batches", paramLabel = "B", split = ",", description = "large batch sizes (default: 4096,8192; --quick: 2048)")
    List<Integer> batches;

    @Option(names = "--optimizers", paramLabel = "NAME", split = ",", description = "large-batch optimizers: sgd, lars, lamb, tvlars, ranger-lars (default: all; --quick: sgd,lars)")
    List<String> optimizers;

    @Option(names = "--lr-multipliers", paramLabel = "F", split = ",", description = "the learning-rate grid, as multiples of each optimizer's reference rate (default: 0.25,1,4; --quick: 1)")
    List<Double> lrMultipliers;

    @Option(names = "--no-baseline", description = "skip the small-batch SGD baseline, e.g. to add runs to an earlier experiment "
            + "with the same settings (default: off, the baseline runs first)")
    boolean noBaseline;

    @Option(names = "--baseline-batch", paramLabel = "B", description = "batch of the SGD baseline (default: ${DEFAULT-VALUE})")
    int baselineBatch = 128;

    @Option(names = "--baseline-lr", paramLabel = "F", description = "learning rate of the SGD baseline (default: ${DEFAULT-VALUE})")
    double baselineLr = 0.1;

    @Option(names = "--weight-decay", paramLabel = "F", description = "weight decay of every run (default: ${DEFAULT-VALUE})")
    double weightDecay = 5e-4;

    @Option(names = "--warmup-epochs", paramLabel = "F", description = "linear warm-up before the polynomial decay (default: ${DEFAULT-VALUE}; TVLARS has none)")
    double warmupEpochs = 1;

    @Option(names = "--micro-batch", paramLabel = "M", description = "largest forward/backward pass; larger batches accumulate gradients (default: ${DEFAULT-VALUE})")
    int microBatch = 2048;

    @Option(names = "--channels", paramLabel = "C1,C2", split = ",", description = "channels of the two convolutions (default: 8,16)")
    List<Integer> channels;

    @Option(names = "--train-limit", paramLabel = "N", description = "use the first N training images (default: all 60000; --quick: 30000)")
    Integer trainLimit;

    @Option(names = "--test-limit", paramLabel = "N", description = "use the first N test images (default: all 10000)")
    Integer testLimit;

    @Option(names = "--shrink", paramLabel = "F", description = "shrink the 28x28 images by F in each direction to "
            + "block means: 1 or 2 (14x14, which makes the whole experiment fit 25 minutes on 2 cores; default: ${DEFAULT-VALUE})")
    int shrink = 2;

    @Option(names = "--seed", paramLabel = "N", description = "seed of the weights and the data order (default: ${DEFAULT-VALUE})")
    long seed = 42;

    @Override
    public Integer call() throws Exception {
        Experiment.Settings settings = settings();
        checkOut();
        // The data is read and checked before anything is written.
        FashionMnist.Split train = FashionMnist.train(data).first(settings.trainLimit()).shrink(shrink);
        FashionMnist.Split test = FashionMnist.test(data).first(settings.testLimit()).shrink(shrink);
        for (int b : settings.batches()) {
            if (b > train.size()) throw usage("--batches: " + b + " is larger than the training set (" + train.size() + " images)");
        }
        if (settings.baseline() && settings.baselineBatch() > train.size()) throw usage("--baseline-batch: " + settings.baselineBatch() + " is larger than the training set");
        prepareOut();
        Experiment exp = new Experiment(settings, train, test, System.err);
        List<RunSpec> plan = exp.plan();
        System.err.printf(Locale.ROOT, "lars4j train: %d runs x %d epochs, %d training / %d test images -> %s%n",
                plan.size(), settings.epochs(), train.size(), test.size(), out);
        List<RunResult> results = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < plan.size(); i++) {
            RunSpec spec = plan.get(i);
            results.add(exp.run(spec, i, plan.size(), out.resolve("runs").resolve(spec.id())));
            writeResults(settings, results, plan.size(), (System.nanoTime() - start) / 1e9);
        }
        writePlots(settings, results);
        System.err.printf(Locale.ROOT, "lars4j train: done in %.1f min; results in %s%n", (System.nanoTime() - start) / 60e9, out.resolve("results.md"));
        System.out.print(Files.readString(out.resolve("results.md")));
        return 0;
    }

    Experiment.Settings settings() {
        int e = epochs != null ? epochs : quick ? 3 : 6;
        List<Integer> bs = batches != null ? batches : quick ? List.of(2048) : List.of(4096, 8192);
        List<String> os = optimizers != null ? optimizers : quick ? List.of("sgd", "lars") : List.of("sgd", "lars", "lamb", "tvlars", "ranger-lars");
        List<Double> ms = lrMultipliers != null ? lrMultipliers : quick ? List.of(1.0) : List.of(0.25, 1.0, 4.0);
        List<Integer> ch = channels != null ? channels : List.of(8, 16);
        Integer tl = trainLimit != null ? trainLimit : quick ? Integer.valueOf(30000) : null;
        // Every number is checked before anything is read or written.
        if (e < 1) throw usage("--epochs must be >= 1, got " + e);
        for (int b : bs) if (b < 1) throw usage("--batches must be >= 1, got " + b);
        if (bs.isEmpty() || os.isEmpty() || ms.isEmpty()) throw usage("--batches, --optimizers and --lr-multipliers need at least one value");
        List<Optimizer> opts = new ArrayList<>();
        for (String o : os) {
            try {
                opts.add(Optimizer.parse(o));
            } catch (IllegalArgumentException ex) {
                throw usage("--optimizers: " + ex.getMessage());
            }
        }
        for (double m : ms) if (!(m > 0) || !Double.isFinite(m)) throw usage("--lr-multipliers must be positive, got " + m);
        if (baselineBatch < 1) throw usage("--baseline-batch must be >= 1, got " + baselineBatch);
        if (!(baselineLr > 0) || !Double.isFinite(baselineLr)) throw usage("--baseline-lr must be positive, got " + baselineLr);
        if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) throw usage("--weight-decay must be >= 0, got " + weightDecay);
        if (!(warmupEpochs >= 0) || !Double.isFinite(warmupEpochs)) throw usage("--warmup-epochs must be >= 0, got " + warmupEpochs);
        if (microBatch < 1) throw usage("--micro-batch must be >= 1, got " + microBatch);
        for (int b : bs) {
            if (b > microBatch && b % microBatch != 0) throw usage("--batches: " + b + " is not a multiple of --micro-batch " + microBatch);
        }
        if (baselineBatch > microBatch && baselineBatch % microBatch != 0) {
            throw usage("--baseline-batch: " + baselineBatch + " is not a multiple of --micro-batch " + microBatch);
        }
        if (new java.util.HashSet<>(bs).size() != bs.size()) throw usage("--batches: a value is given twice: " + bs);
        if (new java.util.HashSet<>(os).size() != os.size()) throw usage("--optimizers: a value is given twice: " + os);
        if (new java.util.HashSet<>(ms).size() != ms.size()) throw usage("--lr-multipliers: a value is given twice: " + ms);
        if (ch.size() != 2 || ch.get(0) < 1 || ch.get(1) < 1) throw usage("--channels needs two positive numbers, got " + ch);
        // The network's two 3x3 convolutions and 2x2 pools need at least 14x14 images.
        if (shrink != 1 && shrink != 2) throw usage("--shrink must be 1 (28x28) or 2 (14x14), got " + shrink);
        if (tl != null && tl < 1) throw usage("--train-limit must be >= 1, got " + tl);
        if (testLimit != null && testLimit < 1) throw usage("--test-limit must be >= 1, got " + testLimit);
        return new Experiment.Settings(e, baselineBatch, baselineLr, bs, opts, ms, weightDecay, warmupEpochs, microBatch,
                ch.get(0), ch.get(1), seed, tl == null ? Integer.MAX_VALUE : tl, testLimit == null ? Integer.MAX_VALUE : testLimit,
                !noBaseline);
    }

    /** A usage error: exit code 2, one line, nothing written. */
    private ParameterException usage(String message) {
        return new ParameterException(spec == null ? new picocli.CommandLine(this) : spec.commandLine(), message);
    }

    /** --out: new, empty, or an earlier train's output (results.json of this format in it). */
    private void checkOut() throws IOException {
        if (!Files.exists(out)) return;
        if (!Files.isDirectory(out)) throw usage("--out " + out + " exists and is not a directory");
        try (var entries = Files.list(out)) {
            if (entries.findAny().isEmpty()) return;
        }
        Path results = out.resolve("results.json");
        boolean ours = false;
        if (Files.isRegularFile(results)) {
            try {
                ours = RESULTS_FORMAT.equals(new ObjectMapper().readTree(results.toFile()).path("format").asText());
            } catch (IOException e) {
                ours = false;
            }
        }
        if (!ours) throw usage("--out " + out + " is not empty and holds no earlier train results; give a new or empty directory");
    }

    /** Removes an earlier train's results, plots and runs from --out (checked by checkOut). */
    private void clearEarlierResults() throws IOException {
        try (var entries = Files.list(out)) {
            for (Path p : entries.toList()) {
                String n = p.getFileName().toString();
                boolean earlier = n.equals("results.json") || n.equals("results.md") || n.equals("runs")
                        || (n.endsWith(".png") && (n.startsWith("accuracy-b") || n.startsWith("trust-ratios-")));
                if (!earlier) continue;
                try (var walk = Files.walk(p)) {
                    for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
                }
            }
        }
    }

    private void prepareOut() throws IOException {
        if (Files.isDirectory(out)) clearEarlierResults();
        Files.createDirectories(out.resolve("runs"));
        if (!Files.isWritable(out)) throw new IOException("--out " + out + " is not writable");
    }

    // ---- results ----------------------------------------------------------------------------

    private void writeResults(Experiment.Settings s, List<RunResult> results, int planned, double seconds) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = json.createObjectNode();
        root.put("format", RESULTS_FORMAT);
        root.put("date", Instant.now().toString());
        root.put("command", commandLine());
        ObjectNode machine = root.putObject("machine");
        machine.put("processors", Runtime.getRuntime().availableProcessors());
        machine.put("java", Runtime.version().toString());
        machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        ObjectNode set = root.putObject("settings");
        set.put("image_side", FashionMnist.SIDE / shrink);
        set.put("epochs", s.epochs());
        set.put("baseline", s.baseline());
        set.put("baseline_batch", s.baselineBatch());
        set.put("baseline_lr", s.baselineLr());
        set.putPOJO("batches", s.batches());
        set.putPOJO("optimizers", s.optimizers().stream().map(Optimizer::cliName).toList());
        set.putPOJO("lr_multipliers", s.lrMultipliers());
        set.put("weight_decay", s.weightDecay());
        set.put("warmup_epochs", s.warmupEpochs());
        set.put("micro_batch", s.microBatch());
        set.putPOJO("channels", List.of(s.channels1(), s.channels2()));
        set.put("seed", s.seed());
        root.put("runs_planned", planned);
        root.put("seconds", seconds);
        ArrayNode runs = root.putArray("runs");
        for (RunResult r : results) {
            ObjectNode n = runs.addObject();
            n.put("id", r.spec.id());
            n.put("optimizer", r.spec.optimizer().cliName());
            n.put("batch", r.spec.batch());
            n.put("lr", r.spec.lr());
            n.put("lr_multiplier", r.spec.lrMultiplier());
            n.put("baseline", r.spec.baseline());
            n.put("epochs", r.testAccuracy.size());
            n.put("diverged_at_epoch", r.diverged ? r.testAccuracy.size() : 0);
            n.put("steps", r.steps);
            n.put("skipped_steps", r.skippedSteps);
            putNumber(n, "final_test_accuracy", r.finalAccuracy());
            putNumber(n, "best_test_accuracy", r.bestAccuracy());
            n.put("seconds", r.seconds);
            n.put("diverged", r.diverged);
            n.putPOJO("test_accuracy", r.testAccuracy.stream().map(v -> Double.isFinite(v) ? v : null).toList());
            n.putPOJO("train_loss", r.trainLoss.stream().map(v -> Double.isFinite(v) ? v : null).toList());
            n.put("model", "runs/" + r.spec.id() + "/model.zip");
            n.put("optimizer_checkpoint", "runs/" + r.spec.id() + "/optimizer.safetensors");
        }
        write(out.resolve("results.json"), json.writeValueAsString(root));
        write(out.resolve("results.md"), markdown(s, results, planned, seconds));
    }

    /** A number, or null where it is not one (JSON has no NaN). */
    private static void putNumber(ObjectNode n, String key, double v) {
        if (Double.isFinite(v)) n.put(key, v);
        else n.putNull(key);
    }

    private String markdown(Experiment.Settings s, List<RunResult> results, int planned, double seconds) {
        StringBuilder md = new StringBuilder();
        md.append("# lars4j train: large batches on Fashion-MNIST\n\n");
        md.append(String.format(Locale.ROOT, "%s; %d processors, Java %s; `%s`; %d of %d runs, %.1f min.%n%n",
                Instant.now().toString().substring(0, 16).replace('T', ' ') + " UTC", Runtime.getRuntime().availableProcessors(),
                Runtime.version().feature(), commandLine(), results.size(), planned, seconds / 60));
        md.append(String.format(Locale.ROOT, "Fashion-MNIST at %dx%d; CNN conv3x3x%d-BN-pool, conv3x3x%d-BN-pool, softmax; %d epochs each; weight decay %s; "
                        + "warm-up %s epoch(s) then polynomial decay (power 2); micro-batches of %d; seed %d.%n%n",
                FashionMnist.SIDE / shrink, FashionMnist.SIDE / shrink, s.channels1(), s.channels2(), s.epochs(), Experiment.shortNumber(s.weightDecay()), Experiment.shortNumber(s.warmupEpochs()),
                s.microBatch(), s.seed()));
        md.append("## Best of each optimizer at each batch (over its learning-rate grid)\n\n");
        md.append("| optimizer | batch | best lr | final test accuracy | best test accuracy |\n|---|---:|---:|---:|---:|\n");
        Map<String, RunResult> best = new LinkedHashMap<>();
        for (RunResult r : results) {
            String key = r.spec.optimizer().cliName() + (r.spec.baseline() ? " (baseline)" : "") + "|" + r.spec.batch();
            RunResult b = best.get(key);
            if (b == null || better(r, b)) best.put(key, r);
        }
        for (RunResult r : best.values()) {
            md.append(String.format(Locale.ROOT, "| %s | %d | %s | %s | %s |%n", r.spec.optimizer().cliName() + (r.spec.baseline() ? " (baseline)" : ""),
                    r.spec.batch(), Experiment.shortNumber(r.spec.lr()), pct(r.finalAccuracy()), pct(r.bestAccuracy())));
        }
        md.append("\nA run diverged when its loss or its outputs stopped being numbers (DL4J cannot evaluate NaN outputs); it stops there, "
                + "and its epochs column says where. Its best accuracy is that of the epochs before.\n");
        md.append("\n## Every run\n\n");
        md.append("| optimizer | batch | lr | epochs | steps | final test accuracy | best test accuracy | wall time |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (RunResult r : results) {
            md.append(String.format(Locale.ROOT, "| %s | %d | %s | %d | %d | %s | %s | %.0f s |%n",
                    r.spec.optimizer().cliName() + (r.spec.baseline() ? " (baseline)" : ""), r.spec.batch(), Experiment.shortNumber(r.spec.lr()),
                    r.testAccuracy.size(), r.steps, r.diverged ? "diverged" : pct(r.finalAccuracy()), pct(r.bestAccuracy()), r.seconds));
        }
        return md.toString();
    }

    private static boolean better(RunResult a, RunResult b) {
        double x = Double.isNaN(a.finalAccuracy()) ? -1 : a.finalAccuracy();
        double y = Double.isNaN(b.finalAccuracy()) ? -1 : b.finalAccuracy();
        return x > y;
    }

    private static String pct(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.2f%%", 100 * v) : "n/a";
    }

    private void writePlots(Experiment.Settings s, List<RunResult> results) throws IOException {
        RunResult baseline = results.stream().filter(r -> r.spec.baseline()).findFirst().orElse(null);
        for (int b : s.batches()) {
            List<RunResult> runs = new ArrayList<>();
            if (baseline != null) runs.add(baseline);
            results.stream().filter(r -> !r.spec.baseline() && r.spec.batch() == b).forEach(runs::add);
            Plots.accuracy("Test accuracy by epoch, batch " + b + (baseline != null ? " (black: SGD baseline, batch " + s.baselineBatch() + ")" : ""), runs,
                    out.resolve("accuracy-b" + b + ".png"));
        }
        // The trust ratios of the best LARS run at the largest batch: the paper's observation that
        // ||w|| / ||g|| differs by orders of magnitude between layers.
        int largest = s.batches().stream().mapToInt(Integer::intValue).max().orElse(0);
        // RangerLars's too: LAMB's ratio phi(||w||) / ||r||, where r is the rectified Adam direction
        // plus decay (before a Lookahead sync moves the weights).
        for (Optimizer o : new Optimizer[] {Optimizer.LARS, Optimizer.RANGER_LARS}) {
            String label = o == Optimizer.LARS ? "eta ||w|| / (||g|| + wd ||w||)" : "phi(||w||) / ||r||, phi = clamp(., 0, 10)";
            results.stream().filter(r -> r.spec.optimizer() == o && r.spec.batch() == largest && !r.trustRatios.isEmpty())
                    .reduce((a, b) -> better(b, a) ? b : a)
                    .ifPresent(r -> {
                        try {
                            Plots.trustRatios(r, label, out.resolve("trust-ratios-" + r.spec.id() + ".png"));
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
        }
    }

    private String commandLine() {
        List<String> args = spec == null ? List.of("train") : spec.root().commandLine().getParseResult().originalArgs();
        return "./lars4j " + String.join(" ", args);
    }

    private static void write(Path file, String text) throws IOException {
        OutputFiles.writeString(file, text);
    }
}

package org.lars4j.tool.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.dl4j.Dl4jLayout;
import org.lars4j.dl4j.Dl4jTrainer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;

/**
 * The large-batch experiment of the LARS paper at the scale of this machine: a small-batch SGD
 * baseline, then at each large batch SGD with the linear scaling rule against LARS, LAMB,
 * TVLARS and RangerLars, each over the same grid of learning-rate multipliers, all for the same number of
 * epochs, seeds fixed. {@link #run} trains every run and returns its results.
 */
public final class Experiment {

    /** The optimizers compared, with the reference learning rate of each at batch {@code b}. */
    public enum Optimizer {
        /** SGD + momentum 0.9, coupled weight decay, the linear scaling rule: 0.1 x b / 128. */
        SGD,
        /** LARS, MLPerf preset (eta 0.001, momentum 0.9, no decay/adaptation of biases and BN). */
        LARS,
        /** LAMB, the paper's preset (beta 0.9 / 0.999, decoupled decay, biases and BN excluded). */
        LAMB,
        /** TVLARS, its preset (phi(t) in place of warm-up, eta 0.001, momentum 0.9). */
        TVLARS,
        /**
         * RangerLars (over9000): rectified LAMB inside Lookahead(6, 0.5), the RANGER_LARS preset,
         * on the same layout, schedule and decay as LAMB, so that what differs from the LAMB runs
         * is the preset alone (rectification, Lookahead, eps 1e-8, phi clamped to [0, 10]).
         */
        RANGER_LARS;

        double referenceLr(int batch) {
            switch (this) {
                case SGD: return 0.1 * batch / 128.0;
                case LARS: case TVLARS: return 10.0 * Math.sqrt(batch / 4096.0);
                // RangerLars takes LAMB's reference: its step is LAMB's trust-ratio step (lr times
                // ||w|| / ||r|| along r), so a rate means the same for both and the two grids
                // compare the rules at the same rates. over9000's ~1e-2 at batch 512, scaled by the
                // same square-root rule, is 0.028 at 4096 and 0.04 at 8192: inside both grids.
                case LAMB: case RANGER_LARS: return 0.01 * Math.sqrt(batch / 4096.0);
                default: throw new AssertionError(this);
            }
        }

        /** sgd, lars, lamb, tvlars, ranger-lars (the tool's name of the LAMB preset). */
        public String cliName() { return name().toLowerCase(Locale.ROOT).replace('_', '-'); }

        /** Whether the run records its per-layer trust ratios (each step's, for the plot). */
        boolean recordsTrustRatios() { return this == LARS || this == TVLARS || this == RANGER_LARS; }

        public static Optimizer parse(String s) {
            for (Optimizer o : values()) if (o.cliName().equalsIgnoreCase(s)) return o;
            throw new IllegalArgumentException("unknown optimizer '" + s + "' (expected sgd, lars, lamb, tvlars or ranger-lars)");
        }
    }

    /** One training run. */
    public record RunSpec(String id, Optimizer optimizer, int batch, double lr, double lrMultiplier, boolean baseline) {}

    /** What a run measured, epoch by epoch. */
    public static final class RunResult {
        public final RunSpec spec;
        public final List<Double> testAccuracy = new ArrayList<>();
        public final List<Double> trainLoss = new ArrayList<>();
        public final List<String> trustRatioSegments = new ArrayList<>();
        public final List<double[]> trustRatios = new ArrayList<>();   // per step, per adapted segment
        public long steps;
        public double seconds;
        public boolean diverged;
        public long skippedSteps;

        RunResult(RunSpec spec) { this.spec = spec; }

        /** The test accuracy after the last epoch; NaN for a run that diverged. */
        public double finalAccuracy() {
            return diverged || testAccuracy.isEmpty() ? Double.NaN : testAccuracy.get(testAccuracy.size() - 1);
        }

        /** The best test accuracy of any epoch (before a divergence). */
        public double bestAccuracy() {
            return testAccuracy.stream().mapToDouble(Double::doubleValue).filter(Double::isFinite).max().orElse(Double.NaN);
        }
    }

    /** The experiment's settings. */
    public record Settings(int epochs, int baselineBatch, double baselineLr, List<Integer> batches, List<Optimizer> optimizers,
                           List<Double> lrMultipliers, double weightDecay, double warmupEpochs, int microBatch,
                           int channels1, int channels2, long seed, int trainLimit, int testLimit, boolean baseline) {}

    private final Settings settings;
    private final FashionMnist.Split train;
    private final FashionMnist.Split test;
    private final PrintStream progress;

    public Experiment(Settings settings, FashionMnist.Split train, FashionMnist.Split test, PrintStream progress) {
        this.settings = settings;
        this.train = train;
        this.test = test;
        this.progress = progress;
    }

    /** The runs in the order they are trained: the baseline, then batch by batch. */
    public List<RunSpec> plan() {
        List<RunSpec> runs = new ArrayList<>();
        if (settings.baseline()) runs.add(new RunSpec("baseline-sgd-b" + settings.baselineBatch(), Optimizer.SGD, settings.baselineBatch(),
                settings.baselineLr(), 1, true));
        for (int b : settings.batches()) {
            for (Optimizer o : settings.optimizers()) {
                for (double m : settings.lrMultipliers()) {
                    double lr = o.referenceLr(b) * m;
                    runs.add(new RunSpec(String.format(Locale.ROOT, "%s-b%d-lr%s", o.cliName(), b, shortNumber(lr)), o, b, lr, m, false));
                }
            }
        }
        return runs;
    }

    static String shortNumber(double v) {
        String s = String.format(Locale.ROOT, "%.4g", v);
        if (s.contains(".") && !s.contains("e")) s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
        return s;
    }

    /** Trains one run; its model and optimizer checkpoint go to {@code runDir}. */
    public RunResult run(RunSpec spec, int index, int count, Path runDir) throws IOException {
        RunResult r = new RunResult(spec);
        EpochIterator trainIt = new EpochIterator(train, spec.batch(), true, settings.seed(), true);
        EpochIterator testIt = new EpochIterator(test, 1000, false, 0, false);
        int stepsPerEpoch = trainIt.batchesPerEpoch();
        long total = (long) stepsPerEpoch * settings.epochs();
        long warmup = Math.min(total, Math.round(settings.warmupEpochs() * stepsPerEpoch));
        MultiLayerNetwork net = ExperimentModel.build(train.side(), settings.channels1(), settings.channels2(), settings.seed());
        Dl4jLayout dl4j = Dl4jLayout.of(net);
        long start = System.nanoTime();
        try (LayerwiseOptimizer opt = optimizer(spec, dl4j.builder(), warmup, total)) {
            Dl4jTrainer trainer = new Dl4jTrainer(net, dl4j, opt).microBatch(Math.min(spec.batch(), settings.microBatch()));
            boolean recordRatios = spec.optimizer().recordsTrustRatios();
            List<Integer> adapted = new ArrayList<>();
            for (int i = 0; i < opt.layout().size(); i++) {
                if (opt.layout().segment(i).adapt()) {
                    adapted.add(i);
                    r.trustRatioSegments.add(opt.layout().segment(i).name());
                }
            }
            // What each step shows DL4J's listeners: the loss, and the optimizer's trust ratios.
            double[] lossSum = new double[1];
            int[] steps = new int[1];
            net.setListeners(new BaseTrainingListener() {
                @Override
                public void iterationDone(Model model, int iteration, int epoch) {
                    lossSum[0] += model.score();
                    steps[0]++;
                    if (recordRatios) {
                        double[] tr = new double[adapted.size()];
                        for (int k = 0; k < tr.length; k++) tr[k] = opt.lastTrustRatio(adapted.get(k));
                        r.trustRatios.add(tr);
                    }
                }
            });
            for (int e = 0; e < settings.epochs(); e++) {
                trainIt.setEpoch(e);
                lossSum[0] = 0;
                steps[0] = 0;
                trainer.fitEpoch(trainIt);
                double loss = lossSum[0] / steps[0];
                double accuracy = Double.NaN;
                if (Double.isFinite(loss)) {
                    testIt.setEpoch(0);
                    try {
                        accuracy = trainer.evaluate(testIt).accuracy();
                    } catch (IllegalStateException nanPredictions) {
                        // DL4J's Evaluation refuses NaN outputs: weights that overflowed.
                    }
                }
                r.trainLoss.add(loss);
                r.testAccuracy.add(accuracy);
                progress.printf(Locale.ROOT, "[%2d/%d] %-24s epoch %2d/%d  train loss %8.4f  test accuracy %.4f  (%.0f s)%n",
                        index + 1, count, spec.id(), e + 1, settings.epochs(), loss, accuracy, (System.nanoTime() - start) / 1e9);
                if (Double.isNaN(accuracy)) {
                    // Diverged: the loss or the outputs are no longer numbers, and stay so.
                    r.diverged = true;
                    break;
                }
            }
            r.steps = trainer.iteration();
            r.skippedSteps = opt.skippedSteps();
            r.seconds = (System.nanoTime() - start) / 1e9;
            trainer.save(runDir);
        }
        return r;
    }

    private LayerwiseOptimizer optimizer(RunSpec spec, ParamLayout.Builder layout, long warmup, long total) {
        double wd = settings.weightDecay();
        switch (spec.optimizer()) {
            case SGD:
                // Plain SGD: no adaptation anywhere; biases and batch norm undecayed, as for the others.
                return Lars.builder(LarsPreset.PAPER).learningRate(LrSchedule.mlperf(spec.lr(), warmup, total)).momentum(0.9)
                        .weightDecay(wd).backend(Backend.CPU)
                        .build(layout.excludeOneDimensional().excludeFromAdaptation(".*").build());
            case LARS:
                return Lars.builder(LarsPreset.MLPERF).learningRate(LrSchedule.mlperf(spec.lr(), warmup, total)).momentum(0.9)
                        .weightDecay(wd).backend(Backend.CPU).build(layout.build());
            case LAMB:
                return Lamb.builder(LambPreset.PAPER).learningRate(LrSchedule.mlperf(spec.lr(), warmup, total))
                        .weightDecay(wd).backend(Backend.CPU).build(layout.excludeOneDimensional().build());
            case TVLARS:
                // TVLARS replaces warm-up by its phi(t): polynomial decay only.
                return Lars.builder(LarsPreset.TVLARS).learningRate(LrSchedule.mlperf(spec.lr(), 0, total)).momentum(0.9)
                        .weightDecay(wd).backend(Backend.CPU).build(layout.excludeOneDimensional().build());
            case RANGER_LARS:
                // LAMB's schedule (warm-up included, though RAdam's rectification was meant to
                // replace it) and LAMB's layout: only the preset differs from the LAMB runs.
                return Lamb.builder(LambPreset.RANGER_LARS).learningRate(LrSchedule.mlperf(spec.lr(), warmup, total))
                        .weightDecay(wd).backend(Backend.CPU).build(layout.excludeOneDimensional().build());
            default:
                throw new AssertionError(spec.optimizer());
        }
    }

    public Settings settings() { return settings; }
}

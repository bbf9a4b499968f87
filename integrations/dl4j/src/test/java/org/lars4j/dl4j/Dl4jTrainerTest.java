package org.lars4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.error.InvalidLayoutException;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.schedule.LrSchedule;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;

class Dl4jTrainerTest {
    private static Model network(boolean graph, org.nd4j.linalg.learning.config.IUpdater updater, long seed) {
        return graph ? Dl4jTestNets.graph(updater, seed) : Dl4jTestNets.multiLayer(updater, seed);
    }

    private static Model copy(Model m) {
        return m instanceof MultiLayerNetwork n ? n.clone() : ((ComputationGraph) m).clone();
    }

    private static void dl4jFit(Model m, DataSet d) {
        if (m instanceof MultiLayerNetwork n) n.fit(d);
        else ((ComputationGraph) m).fit(d);
    }

    private static int differingBits(INDArray a, INDArray b) {
        assertEquals(a.length(), b.length());
        int n = 0;
        for (long i = 0; i < a.length(); i++) {
            if (Float.floatToRawIntBits(a.getFloat(i)) != Float.floatToRawIntBits(b.getFloat(i))) n++;
        }
        return n;
    }

    /** Plain SGD through lars4j: no adaptation anywhere, momentum 0, no decay. */
    private static LayerwiseOptimizer plainSgd(Dl4jLayout layout, double lr, Backend backend) {
        return Lars.builder(LarsPreset.MLPERF).learningRate(lr).momentum(0).weightDecay(0).backend(backend)
                .build(layout.builder().excludeFromAdaptation(".*").build());
    }

    @ParameterizedTest(name = "graph={0}")
    @ValueSource(booleans = {false, true})
    void withAdaptationMomentumAndDecayOffAStepIsDl4jsOwnSgdBitForBit(boolean graph) {
        Model dl4j = network(graph, new Sgd(0.1), 7);
        Model ours = copy(dl4j);
        Dl4jLayout layout = Dl4jLayout.of(ours);
        try (LayerwiseOptimizer opt = plainSgd(layout, 0.1, Backend.CPU)) {
            Dl4jTrainer trainer = new Dl4jTrainer(ours, layout, opt);
            INDArray before = ours.params().dup();
            // 30 examples: DL4J divides the summed gradient by 30, not a power of two.
            for (int step = 0; step < 3; step++) {
                DataSet batch = Dl4jTestNets.data(30, 100 + step);
                dl4jFit(dl4j, batch);
                trainer.fit(batch);
                assertEquals(0, differingBits(dl4j.params(), ours.params()), "step " + step);
            }
            assertTrue(differingBits(before, ours.params()) > 200, "the steps changed the weights, running statistics included");
            assertEquals(3, trainer.iteration());
        }
    }

    @ParameterizedTest(name = "graph={0}")
    @ValueSource(booleans = {false, true})
    void nesterovWithTheLearningRateInsideTheMomentumIsDl4jsNesterovsUpToRounding(boolean graph) {
        // DL4J's Nesterovs keeps v = mu v - lr g (two roundings) and subtracts
        // mu v_old + (-1 - mu) v_new (three more); lars4j with the learning rate inside the buffer
        // keeps v = fma(mu, v, lr g) (two) and subtracts fma(mu, v_new, lr g) (two). The same rule
        // (lars4j's buffer is DL4J's negated), rounded at other points: each result may differ by
        // a few ulps of the largest term it was computed from, |w| + (1 + mu)|v_new| + mu|v_old|
        // (more ulps of the result where those terms cancel, as at a bias that starts at 0).
        double lr = 0.05, mu = 0.9;
        Model dl4j = network(graph, new Nesterovs(lr, mu), 11);
        Model ours = copy(dl4j);
        Dl4jLayout layout = Dl4jLayout.of(ours);
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.MLPERF).learningRate(lr).momentum(mu).nesterov(true).weightDecay(0)
                .build(layout.builder().excludeFromAdaptation(".*").build())) {
            Dl4jTrainer trainer = new Dl4jTrainer(ours, layout, opt);
            double worst = 0;
            int differing = 0;
            for (int step = 0; step < 4; step++) {
                DataSet batch = Dl4jTestNets.data(32, 200 + step);
                // Start each step from DL4J's weights and velocity, so that only the rule is compared.
                ours.params().assign(dl4j.params());
                opt.weightsChanged();
                INDArray w0 = dl4j.params().dup();
                INDArray vOld = updaterState(dl4j).dup();
                int k = 0;
                for (int i = 0; i < opt.layout().size(); i++) {
                    float[] buf = new float[opt.layout().segment(i).length()];
                    for (int e = 0; e < buf.length; e++) buf[e] = -vOld.getFloat(k++);
                    opt.writeState("momentum_buffer", i, buf);
                }
                assertEquals(vOld.length(), k, "DL4J's velocity covers exactly the trained parameters");
                dl4jFit(dl4j, batch);
                trainer.fit(batch);
                INDArray vNew = updaterState(dl4j);
                k = 0;
                for (Dl4jParam p : layout.params()) {
                    for (int e = 0; e < p.length(); e++) {
                        long at = p.offset() + e;
                        float a = dl4j.params().getFloat(at);
                        float b = ours.params().getFloat(at);
                        if (!p.trained()) {
                            assertEquals(Float.floatToRawIntBits(a), Float.floatToRawIntBits(b), p.name() + " running statistic");
                            continue;
                        }
                        double scale = Math.abs(w0.getFloat(at)) + (1 + mu) * Math.abs(vNew.getFloat(k)) + mu * Math.abs(vOld.getFloat(k));
                        k++;
                        if (a != b) differing++;
                        worst = Math.max(worst, Math.abs(a - b) / Math.ulp((float) scale));
                    }
                }
            }
            assertTrue(worst <= 4, "worst difference " + worst + " ulps of the largest term");
            assertTrue(differing > 0, "the rules round at different points: some bits must differ (else this test checks nothing new)");
        }
    }

    private static INDArray updaterState(Model m) {
        return m instanceof MultiLayerNetwork n ? n.getUpdater().getStateViewArray() : ((ComputationGraph) m).getUpdater().getStateViewArray();
    }

    private static LayerwiseOptimizer lars(Dl4jLayout layout, Backend backend) {
        return Lars.builder(LarsPreset.MLPERF).learningRate(LrSchedule.mlperf(0.5, 3, 12)).momentum(0.9).weightDecay(5e-4)
                .momentumCorrection(true).backend(backend).build(layout.paramLayout());
    }

    private static List<DataSet> batches(int n, long seed) {
        List<DataSet> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(Dl4jTestNets.data(16, seed + i));
        return out;
    }

    @ParameterizedTest(name = "graph={0}")
    @ValueSource(booleans = {false, true})
    void savingAndRestoringBetweenEpochsGivesTheBitsOfTrainingWithoutABreak(boolean graph, @TempDir Path dir) throws Exception {
        List<DataSet> data = batches(3, 40);
        Model straight = network(graph, new Sgd(0.1), 5);
        Model first = copy(straight);
        Dl4jLayout layout = Dl4jLayout.of(straight);
        try (LayerwiseOptimizer a = lars(layout, Backend.CPU);
             LayerwiseOptimizer b = lars(Dl4jLayout.of(first), Backend.CPU)) {
            Dl4jTrainer whole = new Dl4jTrainer(straight, layout, a);
            whole.fit(new ListDataSetIterator<>(data, 1), 4);

            Dl4jTrainer part = new Dl4jTrainer(first, Dl4jLayout.of(first), b);
            part.fit(new ListDataSetIterator<>(data, 1), 2);
            part.save(dir.resolve("ckpt"));
            part.save(dir.resolve("ckpt"));   // replacing a checkpoint keeps one directory, no leftovers
            assertEquals(1, Files.list(dir).count());
            // A save stopped between its two renames: the checkpoint is aside, none at ckpt.
            Files.move(dir.resolve("ckpt"), dir.resolve(".ckpt.old-1"));
        }
        // A new process: a fresh network (other seed) and optimizer, restored from the files.
        Model resumed = network(graph, new Sgd(0.1), 999);
        Dl4jLayout rl = Dl4jLayout.of(resumed);
        try (LayerwiseOptimizer c = lars(rl, Backend.CPU)) {
            Dl4jTrainer trainer = new Dl4jTrainer(resumed, rl, c);
            trainer.restore(dir.resolve("ckpt"));   // finds the one set aside
            assertEquals(2, trainer.epoch());
            assertEquals(6, trainer.iteration());
            assertEquals(6, c.stepCount());
            trainer.fit(new ListDataSetIterator<>(data, 1), 2);
            assertEquals(0, differingBits(straight.params(), resumed.params()));
            assertEquals(12, trainer.iteration());
        }
    }

    @Test
    void aCheckpointWhosePartsAreFromDifferentStepsIsRefusedAndChangesNothing(@TempDir Path dir) throws Exception {
        Model net = network(false, new Sgd(0.1), 5);
        Dl4jLayout layout = Dl4jLayout.of(net);
        try (LayerwiseOptimizer opt = lars(layout, Backend.CPU)) {
            Dl4jTrainer t = new Dl4jTrainer(net, layout, opt);
            t.fit(new ListDataSetIterator<>(batches(2, 1), 1), 1);
            t.save(dir.resolve("a"));
            t.fit(new ListDataSetIterator<>(batches(2, 1), 1), 1);
            t.save(dir.resolve("b"));
            Files.copy(dir.resolve("a/optimizer.safetensors"), dir.resolve("b/optimizer.safetensors"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            INDArray before = net.params().dup();
            long step = opt.stepCount();
            Exception e = assertThrows(java.io.IOException.class, () -> t.restore(dir.resolve("b")));
            assertTrue(e.getMessage().contains("optimizer.safetensors is at step 2, trainer.json says 4"), e.getMessage());
            assertEquals(0, differingBits(before, net.params()));
            assertEquals(step, opt.stepCount());
        }
    }

    /** Records what a listener sees: events in order, with iteration and epoch, and scores. */
    private static final class Recorder extends BaseTrainingListener {
        final List<String> events = new ArrayList<>();

        @Override public void onEpochStart(Model m) { events.add("epochStart"); }
        @Override public void onEpochEnd(Model m) { events.add("epochEnd"); }
        @Override public void onGradientCalculation(Model m) { events.add("gradient"); }
        @Override public void iterationDone(Model m, int iteration, int epoch) {
            events.add("iteration " + iteration + " epoch " + epoch + " score " + Float.floatToIntBits((float) m.score()));
        }
    }

    @Test
    void listenersSeeWhatTheySeeInDl4jsFit() {
        Model dl4j = network(false, new Sgd(0.1), 5);
        Model ours = copy(dl4j);
        Recorder theirs = new Recorder();
        Recorder mine = new Recorder();
        ((MultiLayerNetwork) dl4j).setListeners(theirs);
        ((MultiLayerNetwork) ours).setListeners(mine);
        Dl4jLayout layout = Dl4jLayout.of(ours);
        try (LayerwiseOptimizer opt = plainSgd(layout, 0.1, Backend.CPU)) {
            Dl4jTrainer t = new Dl4jTrainer(ours, layout, opt);
            ((MultiLayerNetwork) dl4j).fit(new ListDataSetIterator<>(batches(3, 1), 1), 2);
            t.fit(new ListDataSetIterator<>(batches(3, 1), 1), 2);
            assertEquals(theirs.events, mine.events);
            assertEquals(16, mine.events.size());
            assertEquals(2, t.epoch());
        }
    }

    @Test
    void microBatchesSumTheirGradientsIntoOneStepOfTheWholeBatch() {
        // Without batch norm, micro-batches of 8 give the gradient of the batch of 32 up to the
        // order of the sums.
        Model whole = Dl4jTestNets.dense(new Sgd(0.1), 3);
        Model split = copy(whole);
        DataSet batch = Dl4jTestNets.flatData(32, 9);
        INDArray start = whole.params().dup();
        try (LayerwiseOptimizer a = plainSgd(Dl4jLayout.of(whole), 0.1, Backend.CPU);
             LayerwiseOptimizer b = plainSgd(Dl4jLayout.of(split), 0.1, Backend.CPU)) {
            new Dl4jTrainer(whole, Dl4jLayout.of(whole), a).fit(batch);
            new Dl4jTrainer(split, Dl4jLayout.of(split), b).microBatch(8).fit(batch);
            INDArray dw = whole.params().sub(start);
            INDArray ds = split.params().sub(start);
            double rel = dw.sub(ds).norm2Number().doubleValue() / dw.norm2Number().doubleValue();
            assertTrue(rel < 1e-5, "relative difference " + rel);
            assertTrue(dw.norm2Number().doubleValue() > 0);
        }
        Model net = Dl4jTestNets.dense(new Sgd(0.1), 3);
        try (LayerwiseOptimizer c = plainSgd(Dl4jLayout.of(net), 0.1, Backend.CPU)) {
            Dl4jTrainer t = new Dl4jTrainer(net, Dl4jLayout.of(net), c).microBatch(10);
            assertThrows(IllegalArgumentException.class, () -> t.fit(batch));
        }
    }

    @Test
    void theStepRunsOnTheNetworksOwnOffHeapMemory() {
        Model net = network(false, new Sgd(0.1), 5);
        INDArray params = net.params();
        Dl4jLayout layout = Dl4jLayout.of(net);
        try (LayerwiseOptimizer opt = plainSgd(layout, 0.1, Backend.CPU)) {
            Dl4jTrainer t = new Dl4jTrainer(net, layout, opt);
            // Written through ND4J after the trainer bound its buffers: seen through them, so they
            // are views of the network's memory, not copies.
            Dl4jParam dense = layout.params().get(6);
            params.putScalar(dense.offset() + 2, 123.5f);
            int segment = opt.layout().indexOf(dense.name());
            assertTrue(t.boundParams(segment).isDirect());
            assertEquals(123.5f, t.boundParams(segment).getFloat(2 * Float.BYTES));
            t.fit(Dl4jTestNets.data(16, 3));
            assertTrue(params == net.params(), "the same flat array");
            for (int e = 0; e < dense.length(); e++) {
                assertEquals(params.getFloat(dense.offset() + e), t.boundParams(segment).getFloat(e * Float.BYTES));
            }
        }
    }

    @Test
    void aNetworkWithAFrozenLayerIsRefusedNamingIt() {
        Model net = Dl4jTestNets.withFrozenLayer(new Sgd(0.1), 4);
        Dl4jLayout layout = Dl4jLayout.of(net);
        assertTrue(layout.params().stream().filter(p -> p.name().startsWith("0_")).noneMatch(Dl4jParam::trained));
        try (LayerwiseOptimizer opt = plainSgd(layout, 0.1, Backend.CPU)) {
            Exception e = assertThrows(InvalidLayoutException.class, () -> new Dl4jTrainer(net, layout, opt));
            assertTrue(e.getMessage().contains("0_W") && e.getMessage().contains("frozen"), e.getMessage());
        }
    }

    @Test
    void dl4jRegularisationAndAMismatchedOptimizerAreRefused() {
        Model l2 = Dl4jTestNets.multiLayerWithL2(1e-4);
        Dl4jLayout layout = Dl4jLayout.of(l2);
        try (LayerwiseOptimizer opt = plainSgd(layout, 0.1, Backend.CPU)) {
            Exception e = assertThrows(InvalidLayoutException.class, () -> new Dl4jTrainer(l2, layout, opt));
            assertTrue(e.getMessage().contains("weight decay belongs to the optimizer"), e.getMessage());
        }
        Model net = network(false, new Sgd(0.1), 5);
        Model graph = network(true, new Sgd(0.1), 5);
        try (LayerwiseOptimizer other = plainSgd(Dl4jLayout.of(graph), 0.1, Backend.CPU)) {
            Exception e = assertThrows(InvalidLayoutException.class, () -> new Dl4jTrainer(net, Dl4jLayout.of(net), other));
            assertTrue(e.getMessage().contains("optimizer segment #0"), e.getMessage());
        }
    }
}

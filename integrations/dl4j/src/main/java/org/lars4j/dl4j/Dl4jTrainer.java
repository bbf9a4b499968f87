package org.lars4j.dl4j;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.optimize.solvers.BaseOptimizer;
import org.deeplearning4j.util.ModelSerializer;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.error.InvalidLayoutException;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.layout.Segment;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Trains a DL4J network with a lars4j optimizer: DL4J computes the forward and backward pass,
 * lars4j steps on the network's own flat parameter and gradient buffers (ND4J's off-heap memory,
 * bound once as views: nothing is copied per step).
 *
 * <p>One step does what DL4J's {@code StochasticGradientDescent} does, with lars4j in place of
 * DL4J's updater: gradient and score, the listeners' {@code onGradientCalculation}, the update,
 * {@code iterationDone}, the iteration count, the layers' constraints. Batch-norm running
 * statistics get DL4J's own update ({@code p -= g}, the "gradient" its batch-norm layer computes
 * for them); every other parameter gets the optimizer's step. DL4J's regularisation and gradient
 * normalisation are refused (weight decay belongs to the optimizer, and DL4J would not apply them
 * here). DL4J's listeners fire as in {@code fit}; evaluate with DL4J's {@link Evaluation}.
 *
 * <p>A batch larger than {@link #microBatch(int)} is processed in equal micro-batches whose
 * gradients are summed, then divided by the batch size before one optimizer step (gradient accumulation, as large-batch
 * training does on small machines; batch-norm statistics then come from each micro-batch, as
 * with per-device batch norm). The average is kept in one buffer made once.
 *
 * <p>{@link #save(Path)} writes DL4J's model file, the optimizer's safetensors checkpoint and the
 * counters into a directory, replaced as a whole; {@link #restore(Path)} loads it into this
 * trainer, so that training N epochs, saving, restoring and training M more gives the bits of
 * N + M epochs without a break (given a data order that depends only on the epoch).
 */
public final class Dl4jTrainer {
    public static final String FORMAT = "lars4j-dl4j-trainer/1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Model net;
    private final Dl4jLayout layout;
    private final LayerwiseOptimizer optimizer;
    // Byte buffers (native order) rather than FloatBuffers: the Java engine's vector kernels read
    // and write those in place; a direct FloatBuffer would be copied tile by tile.
    private final List<ByteBuffer> paramSegments = new ArrayList<>();
    private final List<ByteBuffer> gradSegments = new ArrayList<>();
    private final List<ByteBuffer> accumulatedSegments = new ArrayList<>();
    // Parameters DL4J does not train by gradients (batch-norm statistics).
    private final List<FloatBuffer> untrainedParams = new ArrayList<>();
    private final List<FloatBuffer> untrainedGrads = new ArrayList<>();
    private final boolean hasConstraints;
    private final List<INDArray> trainedGradRanges;
    private List<INDArray> trainedAccumulatedRanges;
    private INDArray accumulated;
    private int microBatch;

    /** A trainer for {@code net}, stepping with {@code optimizer} built on {@code layout.paramLayout()} (or a builder of it). */
    public Dl4jTrainer(Model net, Dl4jLayout layout, LayerwiseOptimizer optimizer) {
        if (!(net instanceof MultiLayerNetwork) && !(net instanceof ComputationGraph)) {
            throw new InvalidLayoutException("not a MultiLayerNetwork or ComputationGraph: " + (net == null ? "null" : net.getClass().getName()));
        }
        if (layout == null || optimizer == null) throw new InvalidLayoutException("layout and optimizer must not be null");
        this.net = net;
        this.layout = layout;
        this.optimizer = optimizer;
        refuseDl4jRegularisation(net);
        refuseWhatTheTrainerDoesNotDo(net);
        if (net.numParams() * Float.BYTES > Integer.MAX_VALUE) {
            throw new InvalidLayoutException("the network has " + net.numParams() + " parameters; the trainer binds them as one "
                    + "byte buffer, at most " + (Integer.MAX_VALUE / Float.BYTES) + " floats");
        }
        if (layout.totalElements() != net.numParams()) {
            throw new InvalidLayoutException("the layout has " + layout.totalElements() + " parameters, the network " + net.numParams());
        }
        List<Dl4jParam> trained = layout.params().stream().filter(Dl4jParam::trained).toList();
        if (trained.size() != optimizer.layout().size()) {
            throw new InvalidLayoutException("the optimizer has " + optimizer.layout().size() + " segments, the network " + trained.size()
                    + " trained parameters: build the optimizer on Dl4jLayout.paramLayout()");
        }
        for (int i = 0; i < trained.size(); i++) {
            Segment s = optimizer.layout().segment(i);
            Dl4jParam p = trained.get(i);
            if (!s.name().equals(p.name()) || !java.util.Arrays.equals(s.shape(), p.memoryShape())) {
                throw new InvalidLayoutException("optimizer segment #" + i + " is " + s.name() + s.shapeString() + " but the network's is " + p);
            }
        }
        if (gradients() == null) {
            if (net instanceof MultiLayerNetwork m) m.initGradientsView();
            else ((ComputationGraph) net).initGradientsView();
        }
        ByteBuffer params = bytes(net.params());
        ByteBuffer grads = bytes(gradients());
        for (Dl4jParam p : layout.params()) {
            if (p.trained()) {
                paramSegments.add(slice(params, p));
                gradSegments.add(slice(grads, p));
            } else {
                if (p.dividedByBatch()) {
                    throw new InvalidLayoutException("parameter " + p.name() + " belongs to a frozen layer; the trainer does not "
                            + "support frozen layers yet (DL4J's update of them is not reproduced)");
                }
                untrainedParams.add(slice(params, p).asFloatBuffer());
                untrainedGrads.add(slice(grads, p).asFloatBuffer());
            }
        }
        trainedGradRanges = trainedRanges(gradients());
        boolean constraints = false;
        for (Layer l : layers(net)) {
            List<?> c = l.conf().getLayer().getConstraints();
            constraints |= c != null && !c.isEmpty();
        }
        hasConstraints = constraints;
    }

    private static Layer[] layers(Model net) {
        return net instanceof MultiLayerNetwork m ? m.getLayers() : ((ComputationGraph) net).getLayers();
    }

    /** Configurations whose DL4J training loop differs from the one step this trainer runs. */
    private static void refuseWhatTheTrainerDoesNotDo(Model net) {
        if (net instanceof MultiLayerNetwork m) {
            if (m.getLayerWiseConfigurations().getBackpropType() == org.deeplearning4j.nn.conf.BackpropType.TruncatedBPTT) {
                throw new InvalidLayoutException("truncated BPTT is not supported by the trainer; use BackpropType.Standard");
            }
        } else {
            ComputationGraph g = (ComputationGraph) net;
            if (g.getConfiguration().getBackpropType() == org.deeplearning4j.nn.conf.BackpropType.TruncatedBPTT) {
                throw new InvalidLayoutException("truncated BPTT is not supported by the trainer; use BackpropType.Standard");
            }
            if (g.getNumInputArrays() != 1 || g.getNumOutputArrays() != 1) {
                throw new InvalidLayoutException("the trainer takes DataSets: a graph with one input and one output, not "
                        + g.getNumInputArrays() + " and " + g.getNumOutputArrays());
            }
        }
    }

    /** Views of the runs of consecutive trained parameters in a flat gradient-shaped array. */
    private List<INDArray> trainedRanges(INDArray flat) {
        List<INDArray> out = new ArrayList<>();
        INDArray row = flat.reshape(flat.length());
        long start = -1;
        long end = 0;
        for (Dl4jParam p : layout.params()) {
            if (p.trained() && start < 0) start = p.offset();
            if (!p.trained() && start >= 0) {
                out.add(row.get(NDArrayIndex.interval(start, p.offset())));
                start = -1;
            }
            end = p.offset() + p.length();
        }
        if (start >= 0) out.add(row.get(NDArrayIndex.interval(start, end)));
        return out;
    }

    private static void refuseDl4jRegularisation(Model net) {
        for (Layer l : layers(net)) {
            if (!(l.conf().getLayer() instanceof BaseLayer c)) continue;
            String name = l.conf().getLayer().getLayerName() != null ? l.conf().getLayer().getLayerName() : "#" + l.getIndex();
            boolean regularised = (c.getRegularization() != null && !c.getRegularization().isEmpty())
                    || (c.getRegularizationBias() != null && !c.getRegularizationBias().isEmpty());
            if (regularised) {
                throw new InvalidLayoutException("layer " + name + " has DL4J regularisation " + c.getRegularization() + c.getRegularizationBias()
                        + ": weight decay belongs to the optimizer; remove l1/l2/weightDecay from the network's configuration");
            }
            if (c.getGradientNormalization() != null && c.getGradientNormalization() != GradientNormalization.None) {
                throw new InvalidLayoutException("layer " + name + " has DL4J gradient normalisation " + c.getGradientNormalization()
                        + ", which the trainer would not apply; remove it (LAMB has maxGradNorm)");
            }
        }
    }

    /** The memory of a flat FLOAT INDArray as a direct byte buffer in native order (a view, no copy). */
    static ByteBuffer bytes(INDArray flat) {
        if (flat.dataType() != org.nd4j.linalg.api.buffer.DataType.FLOAT) throw new InvalidLayoutException("not a FLOAT array: " + flat.dataType());
        if (flat.offset() != 0 || !flat.isVectorOrScalar()) throw new InvalidLayoutException("not a flat array at the start of its buffer");
        // asNio() covers the whole buffer from its start, in the platform's byte order.
        ByteBuffer all = flat.data().asNio();
        if (!all.isDirect() || all.capacity() < flat.length() * Float.BYTES) throw new IllegalStateException("ND4J's buffer is not direct memory of the array's size");
        return all.duplicate().position(0).limit((int) (flat.length() * Float.BYTES)).slice().order(ByteOrder.nativeOrder());
    }

    private static ByteBuffer slice(ByteBuffer flat, Dl4jParam p) {
        return flat.duplicate().position((int) (p.offset() * Float.BYTES)).limit((int) ((p.offset() + p.length()) * Float.BYTES))
                .slice().order(ByteOrder.nativeOrder());
    }

    private INDArray gradients() {
        return net instanceof MultiLayerNetwork m ? m.getFlattenedGradients() : ((ComputationGraph) net).getFlattenedGradients();
    }

    /**
     * Largest batch computed in one forward/backward pass (0, the default: the whole batch). A
     * batch of {@code n > m} examples must split into equal micro-batches of at most {@code m}.
     */
    public Dl4jTrainer microBatch(int m) {
        if (m < 0) throw new IllegalArgumentException("micro-batch must be >= 0, got " + m);
        this.microBatch = m;
        return this;
    }

    public Model network() { return net; }

    /** The buffer the optimizer steps for trained segment {@code i} (tests: it is a view of ND4J's memory). */
    ByteBuffer boundParams(int i) { return paramSegments.get(i); }

    public Dl4jLayout layout() { return layout; }

    public LayerwiseOptimizer optimizer() { return optimizer; }

    /** DL4J's iteration count (steps taken, as its listeners see it). */
    public int iteration() { return BaseOptimizer.getIterationCount(net); }

    /** DL4J's epoch count (completed epochs). */
    public int epoch() { return BaseOptimizer.getEpochCount(net); }

    /** Trains {@code epochs} epochs over {@code data} (reset before each). */
    public void fit(DataSetIterator data, int epochs) {
        for (int e = 0; e < epochs; e++) fitEpoch(data);
    }

    /** One epoch: the listeners' onEpochStart, a step per batch, onEpochEnd, the epoch count. */
    public void fitEpoch(DataSetIterator data) {
        if (data.resetSupported()) data.reset();
        for (TrainingListener l : listeners()) l.onEpochStart(net);
        while (data.hasNext()) fit(data.next());
        for (TrainingListener l : listeners()) l.onEpochEnd(net);
        if (net instanceof MultiLayerNetwork m) m.incrementEpochCount();
        else ((ComputationGraph) net).incrementEpochCount();
    }

    /**
     * One optimizer step on {@code batch}; returns DL4J's score (the loss, averaged over the
     * micro-batches). A step the optimizer skipped for a non-finite gradient leaves the trained
     * parameters as they were (the running statistics get their update, as in DL4J).
     */
    public double fit(DataSet batch) {
        int n = batch.numExamples();
        int m = microBatch == 0 || microBatch >= n ? n : microBatch;
        if (n % m != 0) {
            throw new IllegalArgumentException("a batch of " + n + " examples does not split into micro-batches of " + m);
        }
        int parts = n / m;
        double score = 0;
        for (int k = 0; k < parts; k++) {
            DataSet part = parts == 1 ? batch : range(batch, k * m, (k + 1) * m);
            score += gradient(part);
            applyUntrained();
            if (parts > 1) accumulate(k);
        }
        score /= parts;
        // As in DL4J: listeners see the gradient before the updater, which divides the trained
        // parameters' summed gradients by the batch size (ND4J's divi, per run of trained
        // parameters). With micro-batches the step uses the accumulated sum; the network's own
        // gradient view then holds the last micro-batch's.
        for (TrainingListener l : listeners()) l.onGradientCalculation(net);
        for (INDArray r : parts > 1 ? trainedAccumulatedRanges : trainedGradRanges) r.divi(n);
        optimizer.stepByteBuffers(paramSegments, parts > 1 ? accumulatedSegments : gradSegments);
        if (net instanceof MultiLayerNetwork mln) mln.setScore(score);
        else ((ComputationGraph) net).setScore(score);
        int iteration = BaseOptimizer.getIterationCount(net);
        int epoch = BaseOptimizer.getEpochCount(net);
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            for (TrainingListener l : listeners()) l.iterationDone(net, iteration, epoch);
        }
        BaseOptimizer.incrementIterationCount(net, 1);
        if (hasConstraints) {
            net.applyConstraints(BaseOptimizer.getIterationCount(net), BaseOptimizer.getEpochCount(net));
            optimizer.weightsChanged();   // the constraints rewrote weights the optimizer may carry norms of
        }
        if (net instanceof MultiLayerNetwork mln) mln.clearLayersStates();
        else ((ComputationGraph) net).clearLayersStates();
        return score;
    }

    private static DataSet range(DataSet d, int from, int to) {
        INDArray f = d.getFeatures().get(NDArrayIndex.interval(from, to));
        INDArray l = d.getLabels().get(NDArrayIndex.interval(from, to));
        return new org.nd4j.linalg.dataset.DataSet(f, l);
    }

    private double gradient(DataSet d) {
        if (net instanceof MultiLayerNetwork m) {
            m.setInput(d.getFeatures());
            m.setLabels(d.getLabels());
            m.setLayerMaskArrays(d.getFeaturesMaskArray(), d.getLabelsMaskArray());
            m.computeGradientAndScore();
            m.clearLayerMaskArrays();
            return m.score();
        }
        ComputationGraph g = (ComputationGraph) net;
        g.setInputs(d.getFeatures());
        g.setLabels(d.getLabels());
        if (d.getFeaturesMaskArray() != null || d.getLabelsMaskArray() != null) {
            g.setLayerMaskArrays(new INDArray[] {d.getFeaturesMaskArray()}, new INDArray[] {d.getLabelsMaskArray()});
        }
        g.computeGradientAndScore();
        g.clearLayerMaskArrays();
        return g.score();
    }

    /**
     * DL4J's update of the batch-norm statistics, whose "gradient" is the update:
     * {@code p = p - g}, element by element in float32 as ND4J does.
     */
    private void applyUntrained() {
        for (int s = 0; s < untrainedParams.size(); s++) {
            FloatBuffer p = untrainedParams.get(s);
            FloatBuffer g = untrainedGrads.get(s);
            for (int i = 0, len = p.limit(); i < len; i++) p.put(i, p.get(i) - g.get(i));
        }
    }

    private void accumulate(int k) {
        INDArray g = gradients();
        if (accumulated == null) {
            try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                accumulated = Nd4j.create(g.dataType(), g.shape(), g.ordering());
            }
            ByteBuffer flat = bytes(accumulated);
            for (Dl4jParam p : layout.params()) if (p.trained()) accumulatedSegments.add(slice(flat, p));
            trainedAccumulatedRanges = trainedRanges(accumulated);
        }
        if (k == 0) accumulated.assign(g);
        else accumulated.addi(g);
    }

    private Collection<TrainingListener> listeners() {
        Collection<TrainingListener> l = net instanceof MultiLayerNetwork m ? m.getListeners() : ((ComputationGraph) net).getListeners();
        return l == null ? List.of() : l;
    }

    /** DL4J's evaluation of the network on {@code data}. */
    public Evaluation evaluate(DataSetIterator data) {
        return net instanceof MultiLayerNetwork m ? m.evaluate(data) : ((ComputationGraph) net).evaluate(data);
    }

    // ---- checkpoints ------------------------------------------------------------------------

    /**
     * Writes {@code dir}/model.zip (DL4J's model file, without DL4J's updater state),
     * {@code dir}/optimizer.safetensors and {@code dir}/trainer.json (the counters that tie the
     * two together). The three are written and synced into a fresh sibling directory first, which
     * then replaces {@code dir} by two renames (the old checkpoint aside, the new one in place):
     * whatever stops the process, {@link #restore} finds the old checkpoint or the new one, never
     * a mix (between the renames it takes the old one from aside). Leftovers of an interrupted
     * save are removed by the next save of the same directory.
     */
    public void save(Path dir) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        Path parent = target.getParent();
        if (parent == null) throw new IOException(dir + ": no parent directory");
        if (Files.exists(target) && !Files.isDirectory(target)) throw new IOException(dir + " exists and is not a directory");
        Files.createDirectories(parent);
        String name = target.getFileName().toString();
        Path aside = latestAside(target);
        if (!Files.exists(target) && aside != null) Files.move(aside, target, StandardCopyOption.ATOMIC_MOVE);   // an interrupted swap
        deleteLeftovers(parent, name);
        Path tmp = Files.createTempDirectory(parent, "." + name + ".tmp-");
        try {
            ModelSerializer.writeModel(net, tmp.resolve("model.zip").toFile(), false);
            OptimizerCheckpoint.save(optimizer, tmp.resolve("optimizer.safetensors"));
            ObjectNode meta = JSON.createObjectNode();
            meta.put("format", FORMAT);
            meta.put("network", net instanceof MultiLayerNetwork ? "MultiLayerNetwork" : "ComputationGraph");
            meta.put("iteration", iteration());
            meta.put("epoch", epoch());
            meta.put("optimizer_step", optimizer.stepCount());
            meta.put("optimizer_skipped_steps", optimizer.skippedSteps());
            Files.writeString(tmp.resolve("trainer.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(meta));
            for (String f : new String[] {"model.zip", "optimizer.safetensors", "trainer.json", "."}) sync(tmp.resolve(f));
            Path old = null;
            if (Files.exists(target)) {
                old = parent.resolve("." + name + ".old-" + System.nanoTime());
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                if (old != null) Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);   // keep the old checkpoint in place
                throw e;
            }
            sync(parent);
            if (old != null) {
                try {
                    deleteTree(old);
                } catch (IOException e) {
                    // The new checkpoint is in place; the old one is removed by the next save.
                }
            }
        } finally {
            if (Files.exists(tmp)) deleteTree(tmp);
        }
    }

    /** The checkpoint set aside by a save that stopped between its two renames, if any. */
    private static Path latestAside(Path target) throws IOException {
        String prefix = "." + target.getFileName() + ".old-";
        try (Stream<Path> s = Files.list(target.getParent())) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix) && Files.isDirectory(p))
                    .max(Comparator.comparing(p -> p.getFileName().toString())).orElse(null);
        }
    }

    private static void deleteLeftovers(Path parent, String name) throws IOException {
        try (Stream<Path> s = Files.list(parent)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith("." + name + ".tmp-")
                    || p.getFileName().toString().startsWith("." + name + ".old-")).toList()) {
                deleteTree(p);
            }
        }
    }

    private static void sync(Path p) throws IOException {
        boolean directory = Files.isDirectory(p);
        try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(p,
                directory ? java.nio.file.StandardOpenOption.READ : java.nio.file.StandardOpenOption.WRITE)) {
            c.force(true);
        }
    }

    /**
     * Loads a checkpoint written by {@link #save} into this trainer's network and optimizer: the
     * weights and running statistics (into the network's own buffers), DL4J's iteration and
     * epoch counts, the optimizer's state and step count. Everything is read and checked before
     * anything is changed.
     */
    public void restore(Path dir) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        if (!Files.exists(target) && target.getParent() != null && Files.isDirectory(target.getParent())) {
            Path aside = latestAside(target);
            if (aside != null) dir = aside;   // a save stopped between its renames: the old checkpoint
        }
        JsonNode meta;
        try {
            meta = JSON.readTree(Files.readString(dir.resolve("trainer.json")));
        } catch (IOException e) {
            throw new IOException(dir + ": not a trainer checkpoint (" + e.getMessage() + ")", e);
        }
        if (!FORMAT.equals(meta.path("format").asText())) throw new IOException(dir + ": trainer.json has format " + meta.path("format"));
        Model saved = net instanceof MultiLayerNetwork
                ? ModelSerializer.restoreMultiLayerNetwork(dir.resolve("model.zip").toFile(), false)
                : ModelSerializer.restoreComputationGraph(dir.resolve("model.zip").toFile(), false);
        Dl4jLayout savedLayout = Dl4jLayout.of(saved);
        if (savedLayout.params().size() != layout.params().size()) throw new IOException(dir + ": the saved network has other parameters");
        for (int i = 0; i < layout.params().size(); i++) {
            Dl4jParam a = layout.params().get(i);
            Dl4jParam b = savedLayout.params().get(i);
            if (!a.name().equals(b.name()) || !java.util.Arrays.equals(a.memoryShape(), b.memoryShape())) {
                throw new IOException(dir + ": saved parameter " + b + " does not match the network's " + a);
            }
        }
        int iteration = BaseOptimizer.getIterationCount(saved);
        int epoch = BaseOptimizer.getEpochCount(saved);
        if (meta.path("iteration").asLong(-1) != iteration || meta.path("epoch").asLong(-1) != epoch) {
            throw new IOException(dir + ": trainer.json and model.zip are from different steps");
        }
        long step = meta.path("optimizer_step").asLong(-1);
        java.util.Map<String, String> optMeta;
        try (org.lars4j.io.SafetensorsFile f = org.lars4j.io.SafetensorsFile.open(dir.resolve("optimizer.safetensors"))) {
            optMeta = f.metadata();
        }
        if (!Long.toString(step).equals(optMeta.get("step"))) {
            throw new IOException(dir + ": optimizer.safetensors is at step " + optMeta.get("step") + ", trainer.json says " + step);
        }
        OptimizerCheckpoint.load(optimizer, dir.resolve("optimizer.safetensors"));   // checks everything before writing
        net.params().assign(saved.params());
        if (net instanceof MultiLayerNetwork m) {
            m.setIterationCount(iteration);
            m.setEpochCount(epoch);
        } else {
            ComputationGraph g = (ComputationGraph) net;
            g.getConfiguration().setIterationCount(iteration);
            g.getConfiguration().setEpochCount(epoch);
        }
        optimizer.weightsChanged();
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}

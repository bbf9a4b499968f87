package org.lars4j.tool.train;

import java.util.List;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Batches of a {@link FashionMnist.Split} as DL4J DataSets ({@code [n, 1, side, side]} images, one-hot
 * labels). With {@code shuffle}, each epoch's order is a permutation drawn from (seed, epoch)
 * alone, so that a run resumed at an epoch boundary sees the data in the same order as one that
 * never stopped; the last incomplete batch is dropped so that every step sees a full batch.
 */
public final class EpochIterator implements DataSetIterator {
    private static final long serialVersionUID = 1L;
    private final transient FashionMnist.Split split;
    private final int batch;
    private final boolean shuffle;
    private final long seed;
    private final boolean dropLast;
    private final int[] order;
    private int epoch;
    private int cursor;

    public EpochIterator(FashionMnist.Split split, int batch, boolean shuffle, long seed, boolean dropLast) {
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1");
        if (dropLast && batch > split.size()) throw new IllegalArgumentException("batch " + batch + " is larger than the data (" + split.size() + ")");
        this.split = split;
        this.batch = batch;
        this.shuffle = shuffle;
        this.seed = seed;
        this.dropLast = dropLast;
        this.order = new int[split.size()];
        setEpoch(0);
    }

    /** Positions the iterator at the start of {@code epoch} (its permutation). */
    public void setEpoch(int epoch) {
        this.epoch = epoch;
        for (int i = 0; i < order.length; i++) order[i] = i;
        if (shuffle) {
            SplittableRandom r = new SplittableRandom(seed * 1_000_003L + epoch);
            for (int i = order.length - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        cursor = 0;
    }

    /** Steps in one epoch. */
    public int batchesPerEpoch() {
        return dropLast ? order.length / batch : (order.length + batch - 1) / batch;
    }

    @Override
    public boolean hasNext() {
        return dropLast ? cursor + batch <= order.length : cursor < order.length;
    }

    @Override
    public DataSet next() {
        return next(batch);
    }

    @Override
    public DataSet next(int num) {
        int n = Math.min(num, order.length - cursor);
        int pixels = split.pixels();
        float[] x = new float[n * pixels];
        float[] y = new float[n * FashionMnist.CLASSES];
        for (int i = 0; i < n; i++) {
            int k = order[cursor + i];
            System.arraycopy(split.images(), k * pixels, x, i * pixels, pixels);
            y[i * FashionMnist.CLASSES + split.labels()[k]] = 1;
        }
        cursor += n;
        INDArray features = Nd4j.create(x, new long[] {n, 1, split.side(), split.side()}, 'c');
        INDArray labels = Nd4j.create(y, new long[] {n, FashionMnist.CLASSES}, 'c');
        return new DataSet(features, labels);
    }

    /**
     * Back to the start of this epoch if nothing of it was read yet, else the start of the next
     * (DL4J and {@code Dl4jTrainer.fitEpoch} call this before each epoch). A run resumed from a
     * checkpoint calls {@link #setEpoch} with the trainer's epoch first.
     */
    @Override
    public void reset() {
        setEpoch(cursor == 0 ? epoch : epoch + 1);
    }

    @Override public int inputColumns() { return split.pixels(); }
    @Override public int totalOutcomes() { return FashionMnist.CLASSES; }
    @Override public boolean resetSupported() { return true; }
    @Override public boolean asyncSupported() { return false; }
    @Override public int batch() { return batch; }
    @Override public void setPreProcessor(DataSetPreProcessor p) { throw new UnsupportedOperationException("no pre-processor"); }
    @Override public DataSetPreProcessor getPreProcessor() { return null; }
    @Override public List<String> getLabels() { return null; }
}

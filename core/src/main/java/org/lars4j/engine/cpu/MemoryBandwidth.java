package org.lars4j.engine.cpu;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * STREAM's triad {@code a[i] = b[i] + 3 * c[i]} (counted as 12 bytes per element) and copy
 * {@code a[i] = b[i]} (8 bytes) over float arrays far larger than the caches, split into
 * contiguous cache-line-aligned slices over the same allocation-free worker pool the Java engine
 * uses: the CPU bandwidth floor that `./lars4j bench` and the JMH benchmarks compare a step with.
 * STREAM's counts leave out write-allocate traffic (a triad really moves 16 bytes per element).
 *
 * <p>Beside them, a plain fused momentum-SGD step over the same arrays (PyTorch's
 * {@code SGD(momentum=0.9)}: {@code v = 0.9 v + g; w -= lr v}, with w = a, g = b, v = c): 20 bytes
 * per element, all of them real (w and v are updated in place), the same traffic as a LARS update
 * pass. It answers "what does a step cost that has no norms at all" on the same machine and run.
 *
 * <p>And a read-only pass, sum(b^2) (4 bytes per element): what one plain read stream per core
 * reaches, the yardstick for a step's norm passes (see {@link SquaresKernels#sumOfSquaresAnyOrder}).
 */
public final class MemoryBandwidth implements AutoCloseable {
    /** Slice boundaries are multiples of this many floats (one 64-byte cache line). */
    private static final int ALIGN = 16;

    // Package-private for MemoryBandwidthTest.
    final float[] a;
    final float[] b;
    final float[] c;
    private final int[] bounds;
    private final WorkerPool pool;
    private final WorkerPool.Phase triad;
    private final WorkerPool.Phase copy;
    private final WorkerPool.Phase sgd;
    private final WorkerPool.Phase read;
    // Each worker's sum from the last read(), a cache line apart (so that the JIT keeps the loads).
    private final float[] readSums;

    public MemoryBandwidth(int threads, int elements) {
        if (threads < 1 || elements < threads * ALIGN) throw new IllegalArgumentException("threads " + threads + ", elements " + elements);
        a = new float[elements];
        b = new float[elements];
        c = new float[elements];
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < elements; i++) {
            a[i] = 1.0f;
            b[i] = (float) (0.5 + r.nextDouble());
            c[i] = (float) (0.5 + r.nextDouble());
        }
        bounds = new int[threads + 1];
        for (int k = 0; k <= threads; k++) bounds[k] = k == threads ? elements : (int) ((long) elements * k / threads / ALIGN * ALIGN);
        pool = new WorkerPool(threads, "lars4j-stream");
        triad = w -> {
            for (int i = bounds[w]; i < bounds[w + 1]; i++) a[i] = b[i] + 3.0f * c[i];
        };
        copy = w -> {
            for (int i = bounds[w]; i < bounds[w + 1]; i++) a[i] = b[i];
        };
        SquaresKernels kernels = SquaresKernels.select();
        readSums = new float[threads * ALIGN];
        read = w -> readSums[w * ALIGN] = kernels.sumOfSquaresAnyOrder(b, bounds[w], bounds[w + 1]);
        sgd = w -> {
            for (int i = bounds[w]; i < bounds[w + 1]; i++) {
                float v = Math.fma(0.9f, c[i], b[i]);
                c[i] = v;
                a[i] -= 1e-3f * v;
            }
        };
    }

    /** One triad over all elements, on all threads. */
    public void triad() { pool.run(triad); }

    /** One copy over all elements, on all threads. */
    public void copy() { pool.run(copy); }

    /** One momentum-SGD step over all elements (20 bytes each), on all threads. */
    public void momentumSgd() { pool.run(sgd); }

    /** One read-only pass over all elements (4 bytes each), on all threads. */
    public void read() { pool.run(read); }

    /** The sum of b^2 that the last {@link #read()} computed (any order; for tests). */
    double lastReadSum() {
        double s = 0;
        for (int w = 0; w < readSums.length; w += ALIGN) s += readSums[w];
        return s;
    }

    /** An element of the output, for a benchmark's blackhole. */
    public float probe() { return a[a.length - 1]; }

    public int elements() { return a.length; }

    /** Median triad bandwidth in GB/s (STREAM's 12 bytes per element) of {@code reps} runs after 2 warm-ups. */
    public double triadGBps(int reps) {
        return 12.0 * a.length / medianSeconds(reps, this::triad) / 1e9;
    }

    /** Median momentum-SGD bandwidth in GB/s (20 bytes per element) of {@code reps} runs after 2 warm-ups. */
    public double momentumSgdGBps(int reps) {
        return 20.0 * a.length / medianSeconds(reps, this::momentumSgd) / 1e9;
    }

    private static double medianSeconds(int reps, Runnable op) {
        double[] s = new double[reps];
        for (int r = -2; r < reps; r++) {
            long t0 = System.nanoTime();
            op.run();
            long t1 = System.nanoTime();
            if (r >= 0) s[r] = (t1 - t0) / 1e9;
        }
        Arrays.sort(s);
        return s[reps / 2];
    }

    @Override
    public void close() { pool.close(); }
}

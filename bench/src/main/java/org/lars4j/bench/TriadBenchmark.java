package org.lars4j.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The memory-bandwidth yardstick for {@link LarsStepBenchmark}: STREAM's triad
 * {@code a[i] = b[i] + s * c[i]} (counted as 12 bytes per element) and copy {@code a[i] = b[i]}
 * (8 bytes per element) over float arrays far larger than the last-level cache (default 32M
 * floats = 128 MiB each). With {@code threads > 1} a persistent {@link SpinPool} splits the
 * index range into contiguous, cache-line aligned slices; no thread is created in the measured
 * method.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 2, timeUnit = TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
public class TriadBenchmark {

    /** Elements per array. */
    @Param({"33554432"})
    public int size;

    /** A number, or {@code all} = available processors. */
    @Param({"1", "all"})
    public String threads;

    private static final float SCALAR = 3.0f;
    /** Slice boundaries are multiples of this many floats (one 64-byte cache line). */
    private static final int ALIGN = 16;

    private float[] a;
    private float[] b;
    private float[] c;
    private int[] bounds;
    private SpinPool pool;
    private SpinPool.Task triadTask;
    private SpinPool.Task copyTask;

    @Setup(Level.Trial)
    public void setUp() {
        a = new float[size];
        b = new float[size];
        c = new float[size];
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < size; i++) {
            a[i] = 1.0f;
            b[i] = (float) (0.5 + r.nextDouble());
            c[i] = (float) (0.5 + r.nextDouble());
        }
        int t = LarsStepBenchmark.resolveThreads(threads);
        bounds = new int[t + 1];
        for (int k = 0; k <= t; k++) {
            long at = (long) size * k / t;
            bounds[k] = k == t ? size : (int) (at / ALIGN * ALIGN);
        }
        pool = new SpinPool(t);
        triadTask = worker -> triad(a, b, c, SCALAR, bounds[worker], bounds[worker + 1]);
        copyTask = worker -> copy(a, b, bounds[worker], bounds[worker + 1]);
        System.out.printf("%n# triad/copy: %d floats per array (%d MiB each), %d thread(s)%n",
                size, (long) size * Float.BYTES >> 20, t);
    }

    /** 12 bytes per element as STREAM counts it (read b, c; write a). */
    @Benchmark
    public float triad() {
        pool.run(triadTask);
        return a[size - 1];
    }

    /** 8 bytes per element as STREAM counts it (read b; write a). */
    @Benchmark
    public float copy() {
        pool.run(copyTask);
        return a[size - 1];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        pool = null;
        a = b = c = null;
    }

    private static void triad(float[] a, float[] b, float[] c, float s, int from, int to) {
        for (int i = from; i < to; i++) a[i] = b[i] + s * c[i];
    }

    private static void copy(float[] a, float[] b, int from, int to) {
        for (int i = from; i < to; i++) a[i] = b[i];
    }
}

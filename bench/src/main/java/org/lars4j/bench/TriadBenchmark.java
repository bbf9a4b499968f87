package org.lars4j.bench;

import java.util.concurrent.TimeUnit;
import org.lars4j.engine.cpu.MemoryBandwidth;
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
 * The memory-bandwidth yardsticks for {@link LarsStepBenchmark}: STREAM's triad
 * {@code a[i] = b[i] + s * c[i]} (counted as 12 bytes per element), copy {@code a[i] = b[i]}
 * (8 bytes per element) and a plain momentum-SGD step (20 bytes per element) over float arrays
 * far larger than the last-level cache (default 32M floats = 128 MiB each), run by the library's {@link MemoryBandwidth} (the same floor that
 * `./lars4j bench` measures): persistent threads, contiguous cache-line aligned slices, no thread
 * created in the measured method.
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

    private MemoryBandwidth stream;

    @Setup(Level.Trial)
    public void setUp() {
        int t = LarsStepBenchmark.resolveThreads(threads);
        stream = new MemoryBandwidth(t, size);
        System.out.printf("%n# triad/copy: %d floats per array (%d MiB each), %d thread(s)%n",
                size, (long) size * Float.BYTES >> 20, t);
    }

    /** 12 bytes per element as STREAM counts it (read b, c; write a). */
    @Benchmark
    public float triad() {
        stream.triad();
        return stream.probe();
    }

    /** 8 bytes per element as STREAM counts it (read b; write a). */
    @Benchmark
    public float copy() {
        stream.copy();
        return stream.probe();
    }

    /**
     * A plain fused momentum-SGD step over the arrays (v = 0.9 v + g; w -= lr v): 20 bytes per
     * element, the traffic of a LARS update pass, no norms. The cost a LARS step is compared with.
     */
    @Benchmark
    public float momentumSgd() {
        stream.momentumSgd();
        return stream.probe();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        stream.close();
        stream = null;
    }
}

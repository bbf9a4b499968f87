package org.lars4j.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.concurrent.TimeUnit;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
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
 * The LARS step on DL4J's memory against the same step on {@code float[]} and against DL4J's own
 * updater, on a whole model's flat parameter and gradient vectors (DL4J keeps every parameter of
 * a network in one flat 'c'-order row vector, and its gradients in another):
 * <ul>
 * <li>{@link #larsFloatArray}: {@code opt.step(float[], float[])};</li>
 * <li>{@link #larsNd4jBytes}: {@code opt.step(ByteBuffer, ByteBuffer)} on
 *     {@code params.data().asNio()} and {@code grads.data().asNio()} of two ND4J INDArrays
 *     (off-heap, native order; the Java engine reads and writes them in place);</li>
 * <li>{@link #larsNd4jFloatBuffer}: the same memory as {@code data().asNioFloat()}, a direct
 *     {@code FloatBuffer}, which the engine copies tile by tile (JDK 17's Vector API cannot load
 *     from a FloatBuffer);</li>
 * <li>{@link #nesterovs}: DL4J's {@code Nesterovs} updater on the same arrays as DL4J runs it:
 *     {@code applyUpdater(gradient, iteration, epoch)} turns the gradient into the update in
 *     place, then {@code params.subi(update)}. Plain momentum, no norms: 20 bytes per parameter
 *     plus the subtraction's 12. Backprop writes a fresh gradient every iteration; here a copy of
 *     the gradient is restored before each call, outside the timing.</li>
 * </ul>
 * LARS: MLPerf preset (lr 0.1, weight decay 5e-5, momentum 0.9, eta 0.001), Java engine, as
 * {@link LarsStepBenchmark}; each LARS variant has its own optimizer (own momentum buffer).
 * The ratios nd4j/float[] and nd4j/Nesterovs come from {@link Nd4jRatios} on the JSON result.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 2, timeUnit = TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g", "--add-modules=jdk.incubator.vector"})
public class Nd4jStepBenchmark {

    /** A bundled shape file: {@code resnet50} (25.6M parameters), {@code vit-b16}, ... */
    @Param({"resnet50"})
    public String model;

    /** Worker threads of the Java engine: a number, or {@code all} = available processors. ND4J uses its own OpenMP threads. */
    @Param({"all"})
    public String threads;

    private float[] w;
    private float[] g;
    private INDArray params;
    private INDArray grads;
    private ByteBuffer paramBytes;
    private ByteBuffer gradBytes;
    private FloatBuffer paramFloats;
    private FloatBuffer gradFloats;
    private LayerwiseOptimizer onArray;
    private LayerwiseOptimizer onBytes;
    private LayerwiseOptimizer onFloats;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        ParamLayout layout = LarsStepBenchmark.layoutFor(model);
        int n = Math.toIntExact(layout.totalElements());
        w = new float[n];
        g = new float[n];
        LarsStepBenchmark.fillWeights(w, 0x5EED_0001L);
        LarsStepBenchmark.fillGrads(g, 0x5EED_0002L);
        // DL4J's flat views: 'c'-order row vectors over their own off-heap buffers.
        params = Nd4j.createFromArray(w).reshape('c', 1, n);
        grads = Nd4j.createFromArray(g).reshape('c', 1, n);
        paramBytes = flatBytes(params, n);
        gradBytes = flatBytes(grads, n);
        paramFloats = (FloatBuffer) params.data().asNioFloat();
        gradFloats = (FloatBuffer) grads.data().asNioFloat();
        if (!paramFloats.isDirect() || paramFloats.remaining() != n) throw new IllegalStateException("asNioFloat: not the direct flat view");
        int t = LarsStepBenchmark.resolveThreads(threads);
        System.clearProperty("lars4j.cpu.blockElements");
        onArray = lars(layout, t);
        onBytes = lars(layout, t);
        onFloats = lars(layout, t);
        // One step each outside the measurement (momentum buffers touched and non-zero).
        if (!larsFloatArray() || !larsNd4jBytes() || !larsNd4jFloatBuffer()) throw new IllegalStateException("a first step was skipped");
        System.out.printf("%n# %s, %d parameters, lars4j engine %s (%s); ND4J %s, %d OpenMP threads%n", model, n, onBytes.engineName(),
                onBytes.engineVariant(), Nd4j.getBackend().getClass().getSimpleName(), Nd4j.getEnvironment().maxMasterThreads());
    }

    private static LayerwiseOptimizer lars(ParamLayout layout, int threads) {
        return Lars.builder(LarsPreset.MLPERF).learningRate(0.1).weightDecay(5e-5).backend(Backend.CPU).threads(threads).build(layout);
    }

    /** {@code data().asNio()} of a flat array: checked to be ND4J's own direct, native-order memory of it, from byte 0. */
    private static ByteBuffer flatBytes(INDArray a, int n) {
        ByteBuffer b = a.data().asNio();
        if (!b.isDirect() || b.order() != ByteOrder.nativeOrder() || a.offset() != 0 || b.position() != 0 || b.remaining() != 4 * n) {
            throw new IllegalStateException("asNio is not the flat view: direct=" + b.isDirect() + " order=" + b.order()
                    + " offset=" + a.offset() + " position=" + b.position() + " remaining=" + b.remaining());
        }
        return b;
    }

    @Benchmark
    public boolean larsFloatArray() {
        return onArray.step(w, g);
    }

    @Benchmark
    public boolean larsNd4jBytes() {
        return onBytes.step(paramBytes, gradBytes);
    }

    @Benchmark
    public boolean larsNd4jFloatBuffer() {
        return onFloats.step(paramFloats, gradFloats);
    }

    /** DL4J's Nesterovs on its own copy of the network's flat params and gradient. */
    @State(Scope.Benchmark)
    public static class Dl4jNesterovs {
        INDArray params;
        INDArray gradient;
        INDArray gradientSource;
        GradientUpdater<?> updater;
        int iteration;

        @Setup(Level.Trial)
        public void setUp(Nd4jStepBenchmark b) {
            int n = b.w.length;
            params = Nd4j.createFromArray(b.w).reshape('c', 1, n);
            gradientSource = Nd4j.createFromArray(b.g).reshape('c', 1, n);
            gradient = gradientSource.dup();
            INDArray state = Nd4j.zeros(DataType.FLOAT, 1, n);   // Nesterovs keeps one value per parameter
            updater = new Nesterovs(0.1, 0.9).instantiate(state, true);
        }

        /** A fresh gradient before each call, as backprop would write it (not timed). */
        @Setup(Level.Invocation)
        public void restoreGradient() {
            gradient.assign(gradientSource);
        }
    }

    @Benchmark
    public INDArray nesterovs(Dl4jNesterovs d) {
        d.updater.applyUpdater(d.gradient, d.iteration++, 0);
        return d.params.subi(d.gradient);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        long skipped = onArray.skippedSteps() + onBytes.skippedSteps() + onFloats.skippedSteps();
        onArray.close();
        onBytes.close();
        onFloats.close();
        if (skipped != 0) throw new IllegalStateException(skipped + " steps were skipped: the measurement is not a LARS step");
    }
}

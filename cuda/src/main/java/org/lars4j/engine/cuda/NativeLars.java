package org.lars4j.engine.cuda;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.MemberGetter;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.StdString;

/**
 * JavaCPP binding of src/main/cpp/lars4j_native.h: mechanical, one Java method per C++ member,
 * no logic. Validation happens in Java before any call here; decisions live in C++ or Java.
 * Loading fails (UnsatisfiedLinkError) when the native library was not built; callers report why.
 */
@Platform(include = "lars4j_native.h", library = "jnilars4j")
@Namespace("lars4j")
public final class NativeLars {
    static {
        Loader.load();
    }

    private NativeLars() {}

    /** 0 if a CUDA device is usable here, else the CUDA error code. */
    public static native int cudaAvailability();

    /** The name of a CUDA error code, e.g. {@code cudaErrorInsufficientDriver}. */
    public static native @StdString String cudaErrorNameOf(int code);

    /** Emulator fiber schedule of later launches: 0 forward, 1 reverse, 2 shuffled with {@code seed}. */
    public static native void setEmulatorSchedule(int schedule, int seed);

    /** Device memory (kind 0 CUDA, 1 emulator): the address, or 0 on failure. */
    public static native long deviceAlloc(int kind, long bytes);

    public static native int deviceFree(int kind, long address);

    /** Copies {@code n} floats from {@code src} to device address {@code dst}, synchronously. */
    public static native int deviceUpload(int kind, long dst, float[] src, long n);

    /** Copies {@code n} floats from device address {@code src} to {@code dst}, synchronously. */
    public static native int deviceDownload(int kind, float[] dst, long src, long n);

    public static native int deviceSynchronize(int kind);

    /** Streams and CUDA graphs (kind 0 CUDA, 1 emulator); handles come back in {@code out[0]}. */
    public static native int streamCreate(int kind, long[] out);

    public static native int streamDestroy(int kind, long stream);

    public static native int streamSynchronize(int kind, long stream);

    public static native int streamBeginCapture(int kind, long stream);

    public static native int streamEndCapture(int kind, long stream, long[] out);

    public static native int graphLaunch(int kind, long graphExec, long stream);

    public static native int graphDestroy(int kind, long graphExec);

    /**
     * For tests: holds {@code stream} (later work on it waits) until {@link #streamRelease}; what
     * a long kernel does, made deterministic. The gate's handle in {@code out[0]}.
     */
    public static native int streamHold(int kind, long stream, long[] out);

    public static native int streamRelease(int kind, long gate);

    /** Tiles of a segment of {@code length} elements, as the native plans count them. */
    public static native long segmentTiles(long length);

    /** The emulator's largest cooperative grid from now on (0: the default), as MPS would lower it. */
    public static native void setEmulatorCooperativeLimit(int blocks);

    /** Device-to-device copy bandwidth in GB/s (read + write); negative: the error code, negated. */
    public static native double deviceCopyGBps(int kind, long bytes, int reps);

    /** Rule ids of the native rule registry (src/main/cuda/rules/registry.cuh). */
    @MemberGetter @Name("kernels::RULE_LARS") public static native int ruleLars();

    @MemberGetter @Name("kernels::RULE_LAMB") public static native int ruleLamb();

    /** LARS's constants (src/main/cuda/rules/lars.cuh), filled once at plan time. */
    @Name("kernels::LarsConsts")
    public static final class LarsConsts extends Pointer {
        static {
            Loader.load();
        }

        public LarsConsts() {
            allocate();
        }

        private native void allocate();

        public native double eta(); public native LarsConsts eta(double v);
        public native double eps(); public native LarsConsts eps(double v);
        public native double normClamp(); public native LarsConsts normClamp(double v);
        public native double dampening(); public native LarsConsts dampening(double v);
        public native int sumOfNorms(); public native LarsConsts sumOfNorms(int v);
        public native int lrInside(); public native LarsConsts lrInside(int v);
        public native int clip(); public native LarsConsts clip(int v);
        public native int zeroNormSkipsDecay(); public native LarsConsts zeroNormSkipsDecay(int v);
        public native int nesterov(); public native LarsConsts nesterov(int v);
        public native int skipNonFinite(); public native LarsConsts skipNonFinite(int v);
        public native int vectorLoads(); public native LarsConsts vectorLoads(int v);
        public native int carryW(); public native LarsConsts carryW(int v);
        public native int clipOn(); public native LarsConsts clipOn(int v);
        public native double maxGradNorm(); public native LarsConsts maxGradNorm(double v);
        public native int grouped(); public native LarsConsts grouped(int v);
        public native long groupElements(); public native LarsConsts groupElements(long v);
        public native int lookahead(); public native LarsConsts lookahead(int v);
        public native float lookaheadAlpha(); public native LarsConsts lookaheadAlpha(float v);
    }

    /** LARS's values of one step (src/main/cuda/rules/lars.cuh), refilled each step. */
    @Name("kernels::LarsStepValues")
    public static final class LarsStepValues extends Pointer {
        static {
            Loader.load();
        }

        public LarsStepValues() {
            allocate();
        }

        private native void allocate();

        public native double lr(); public native LarsStepValues lr(double v);
        public native double mu(); public native LarsStepValues mu(double v);
        public native double phi(); public native LarsStepValues phi(double v);
        public native int first(); public native LarsStepValues first(int v);
        public native int weightsAsLeft(); public native LarsStepValues weightsAsLeft(int v);
        public native int lookaheadCopy(); public native LarsStepValues lookaheadCopy(int v);
        public native int lookaheadSync(); public native LarsStepValues lookaheadSync(int v);
    }

    /** LAMB's constants (src/main/cuda/rules/lamb.cuh), filled once at plan time. */
    @Name("kernels::LambConsts")
    public static final class LambConsts extends Pointer {
        static {
            Loader.load();
        }

        public LambConsts() {
            allocate();
        }

        private native void allocate();

        public native float b1(); public native LambConsts b1(float v);
        public native float b3(); public native LambConsts b3(float v);
        public native float b2(); public native LambConsts b2(float v);
        public native float omb2(); public native LambConsts omb2(float v);
        public native float eps(); public native LambConsts eps(float v);
        public native double gammaLower(); public native LambConsts gammaLower(double v);
        public native double gammaUpper(); public native LambConsts gammaUpper(double v);
        public native double maxGradNorm(); public native LambConsts maxGradNorm(double v);
        public native int adamW(); public native LambConsts adamW(int v);
        public native int phiClamp(); public native LambConsts phiClamp(int v);
        public native int trustClip(); public native LambConsts trustClip(int v);
        public native int skipNonFinite(); public native LambConsts skipNonFinite(int v);
        public native int clipOn(); public native LambConsts clipOn(int v);
        public native int vectorLoads(); public native LambConsts vectorLoads(int v);
        public native int gradNormPass(); public native LambConsts gradNormPass(int v);
        public native int lookahead(); public native LambConsts lookahead(int v);
        public native float lookaheadAlpha(); public native LambConsts lookaheadAlpha(float v);
    }

    /** LAMB's values of one step (src/main/cuda/rules/lamb.cuh), refilled each step. */
    @Name("kernels::LambStepValues")
    public static final class LambStepValues extends Pointer {
        static {
            Loader.load();
        }

        public LambStepValues() {
            allocate();
        }

        private native void allocate();

        public native double lr(); public native LambStepValues lr(double v);
        public native double bc1(); public native LambStepValues bc1(double v);
        public native double bc2(); public native LambStepValues bc2(double v);
        public native int lookaheadCopy(); public native LambStepValues lookaheadCopy(int v);
        public native int lookaheadSync(); public native LambStepValues lookaheadSync(int v);
        public native double rect(); public native LambStepValues rect(double v);
        public native int momentumOnly(); public native LambStepValues momentumOnly(int v);
    }

    /**
     * A plan of one rule (an id of {@link #ruleLars()}, {@link #ruleLamb()}) on the CUDA runtime
     * (kind 0) or the SIMT emulator (kind 1). The rule's constants and step values cross as its
     * own structs, above.
     */
    public static final class NativePlan extends Pointer {
        static {
            Loader.load();
        }

        /**
         * {@code gcRows}, {@code gcInner}: gradient centralization, per segment the rows along its
         * output axis (0: not centred) and the elements per index of that axis.
         */
        public NativePlan(int kind, int rule, int numSegments, int[] segLen, int[] modes, double[] segLam, Pointer constants,
                          boolean hostStaging, int[] gcRows, int[] gcInner) {
            allocate(kind, rule, numSegments, segLen, modes, segLam, constants, hostStaging, gcRows, gcInner);
        }

        private native void allocate(int kind, int rule, int numSegments, int[] segLen, int[] modes, double[] segLam,
                                     @Cast("const void*") Pointer constants, @Cast("bool") boolean hostStaging,
                                     @Cast("const int*") int[] gcRows, @Cast("const int*") int[] gcInner);

        public native int status();
        public native @StdString String statusMessage();
        public native @StdString String lastError();
        public native long totalElements();
        public native int tiles();
        public native int cooperativeBlocks();
        public native int groups();
        public native long groupElements();
        public native int items();
        public native int stateBuffers();
        public native @StdString String variantNote();
        public native FloatPointer hostParams();
        public native FloatPointer hostGrads();
        public native int stepHost(@Cast("const void*") Pointer values);
        public native int stepDevice(long wBase, long gBase, long wTable, long gTable, long stream, @Cast("const void*") Pointer values);
        public native int writeStepParams(@Cast("const void*") Pointer values);
        public native int launchStep(long wBase, long gBase, long wTable, long gTable, long stream);
        public native int lastSkipped();
        public native int timeDeviceSteps(long[] wBases, long[] gBases, int rotations, int warmup, int reps, int batch, int graphs,
                                          @Cast("const void*") Pointer values, float[] outMs);
        public native int readState(int buffer, int seg, float[] dst);
        public native int writeState(int buffer, int seg, float[] src);
        public native int resetState();
        public native int readDiagnostics(double[] normW, double[] normG, double[] trust);
        public native int readTileTable(long[] at, int[] seg, int[] len);
    }
}

package org.lars4j.engine.cuda;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
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

    /** A LARS (0) or LAMB (1) plan on the CUDA runtime (kind 0) or the SIMT emulator (kind 1). */
    public static final class NativePlan extends Pointer {
        static {
            Loader.load();
        }

        public NativePlan(int kind, int algorithm, int numSegments, int[] segLen, int[] modes, double[] segLam,
                          double[] dconsts, int[] iconsts, boolean hostStaging) {
            allocate(kind, algorithm, numSegments, segLen, modes, segLam, dconsts, iconsts, hostStaging);
        }

        private native void allocate(int kind, int algorithm, int numSegments, int[] segLen, int[] modes, double[] segLam,
                                     double[] dconsts, int[] iconsts, @Cast("bool") boolean hostStaging);

        public native int status();
        public native @StdString String statusMessage();
        public native @StdString String lastError();
        public native long totalElements();
        public native int tiles();
        public native int cooperativeBlocks();
        public native int groups();
        public native long groupElements();
        public native int items();
        public native @StdString String variantNote();
        public native FloatPointer hostParams();
        public native FloatPointer hostGrads();
        public native int stepHost(double lr, double mu, double phi, double bc1, double bc2, int first, int weightsAsLeft);
        public native int stepDevice(long wBase, long gBase, long wTable, long gTable, long stream,
                                     double lr, double mu, double phi, double bc1, double bc2, int first, int weightsAsLeft);
        public native int writeStepParams(double lr, double mu, double phi, double bc1, double bc2, int first, int weightsAsLeft);
        public native int launchStep(long wBase, long gBase, long wTable, long gTable, long stream);
        public native int lastSkipped();
        public native int timeDeviceSteps(long[] wBases, long[] gBases, int rotations, int warmup, int reps, int batch, int graphs,
                                          double lr, double mu, double phi, double bc1, double bc2, float[] outMs);
        public native long stepParamsAddress();
        public native int readState(int buffer, int seg, float[] dst);
        public native int writeState(int buffer, int seg, float[] src);
        public native int resetState();
        public native int readDiagnostics(double[] normW, double[] normG, double[] trust);
    }
}

package org.lars4j.engine.cuda;

import org.lars4j.Backend;
import org.lars4j.error.NativeEngineException;

/**
 * Plain device allocations for benchmarks and tests, on the CUDA engine or the emulator (whose
 * device memory is host memory). Callers of the library normally bring their own device memory.
 */
public final class DeviceBuffers {
    private DeviceBuffers() {}

    private static int kind(Backend b) {
        if (b == Backend.CUDA) return 0;
        if (b == Backend.CUDA_EMULATOR) return 1;
        throw new IllegalArgumentException("device buffers need the cuda or cuda-emulator backend, not " + b.cliName());
    }

    /** Allocates {@code init.length} floats on {@code backend}'s device and fills them from {@code init}. */
    public static long upload(Backend backend, float[] init) {
        long address = NativeLars.deviceAlloc(kind(backend), 4L * init.length);
        if (address == 0) throw new NativeEngineException("device allocation of " + 4L * init.length + " bytes", -1, "out of device memory");
        try {
            uploadInto(backend, address, init);
        } catch (NativeEngineException e) {
            free(backend, address);   // not left allocated behind a failed upload
            throw e;
        }
        return address;
    }

    /** Copies {@code data} into the device buffer at {@code address} (which holds at least as many floats). */
    public static void uploadInto(Backend backend, long address, float[] data) {
        check("device upload", NativeLars.deviceUpload(kind(backend), address, data, data.length));
    }

    public static void free(Backend backend, long address) {
        NativeLars.deviceFree(kind(backend), address);
    }

    /** Device-to-device copy bandwidth (GB/s, bytes read + written), median of {@code reps}. */
    public static double copyBandwidth(Backend backend, long bytes, int reps) {
        double r = NativeLars.deviceCopyGBps(kind(backend), bytes, reps);
        if (r < 0) throw new NativeEngineException("device copy", (int) -r, NativeLars.cudaErrorNameOf((int) -r));
        return r;
    }

    /** Copies {@code dst.length} floats from device address {@code address} into {@code dst}. */
    public static void download(Backend backend, long address, float[] dst) {
        check("device download", NativeLars.deviceDownload(kind(backend), dst, address, dst.length));
    }

    /** Waits for all work on the device's default stream. */
    public static void synchronize(Backend backend) {
        check("device synchronize", NativeLars.deviceSynchronize(kind(backend)));
    }

    // ---- Streams and CUDA graphs: what a caller that captures lars4j's steps does -------------

    /** A new non-blocking stream (on the emulator too, where streams run asynchronously). */
    public static long createStream(Backend backend) {
        long[] out = new long[1];
        check("stream create", NativeLars.streamCreate(kind(backend), out));
        return out[0];
    }

    public static void destroyStream(Backend backend, long stream) {
        check("stream destroy", NativeLars.streamDestroy(kind(backend), stream));
    }

    public static void synchronize(Backend backend, long stream) {
        check("stream synchronize", NativeLars.streamSynchronize(kind(backend), stream));
    }

    /** Starts capturing {@code stream} (thread-local mode): its work is recorded, not run. */
    public static void beginCapture(Backend backend, long stream) {
        check("begin capture", NativeLars.streamBeginCapture(kind(backend), stream));
    }

    /** Ends the capture of {@code stream} and returns the instantiated graph. */
    public static long endCapture(Backend backend, long stream) {
        long[] out = new long[1];
        check("end capture", NativeLars.streamEndCapture(kind(backend), stream, out));
        return out[0];
    }

    /** Enqueues one run of the graph on {@code stream}. */
    public static void launchGraph(Backend backend, long graph, long stream) {
        check("graph launch", NativeLars.graphLaunch(kind(backend), graph, stream));
    }

    public static void destroyGraph(Backend backend, long graph) {
        check("graph destroy", NativeLars.graphDestroy(kind(backend), graph));
    }

    /**
     * For tests: holds {@code stream} until {@link #releaseStream} (later work on it waits), what
     * a long kernel does, made deterministic; returns the gate. Release it before anything waits
     * for that stream on this thread, or from another thread.
     */
    public static long holdStream(Backend backend, long stream) {
        long[] out = new long[1];
        check("stream hold", NativeLars.streamHold(kind(backend), stream, out));
        return out[0];
    }

    public static void releaseStream(Backend backend, long gate) {
        check("stream release", NativeLars.streamRelease(kind(backend), gate));
    }

    private static void check(String what, int e) {
        if (e != 0) throw new NativeEngineException(what, e, NativeLars.cudaErrorNameOf(e));
    }
}

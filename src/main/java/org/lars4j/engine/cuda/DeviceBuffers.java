package org.lars4j.engine.cuda;

import org.lars4j.Backend;
import org.lars4j.NativeEngineException;

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

    /** Allocates {@code floats} floats on {@code backend}'s device and fills them from {@code init}. */
    public static long upload(Backend backend, float[] init) {
        long address = NativeLars.deviceAlloc(kind(backend), 4L * init.length);
        if (address == 0) throw new NativeEngineException("device allocation of " + 4L * init.length + " bytes", -1, "out of device memory");
        int e = NativeLars.deviceUpload(kind(backend), address, init, init.length);
        if (e != 0) throw new NativeEngineException("device upload", e, NativeLars.cudaErrorNameOf(e));
        return address;
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

    /** Waits for all work on the device's default stream. */
    public static void synchronize(Backend backend) {
        int e = NativeLars.deviceSynchronize(kind(backend));
        if (e != 0) throw new NativeEngineException("device synchronize", e, NativeLars.cudaErrorNameOf(e));
    }
}

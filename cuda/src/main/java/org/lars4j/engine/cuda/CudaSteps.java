package org.lars4j.engine.cuda;

import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.error.TensorMismatchException;

/**
 * Device steps with bytedeco's CUDA types, for callers that hold their tensors as JavaCPP
 * pointers and their streams as {@code CUstream_st}: the pointers' capacities are checked against
 * the optimizer's layout, then the raw-address methods of {@link LayerwiseOptimizer} run the step.
 * Kept with the CUDA engine so that the optimizer facade carries no CUDA types.
 */
public final class CudaSteps {
    private CudaSteps() {}

    /** {@link LayerwiseOptimizer#stepDevice(long, long, long)} on pointers (null stream: the default one). */
    public static void stepDevice(LayerwiseOptimizer optimizer, Pointer params, Pointer grads, CUstream_st stream) {
        long need = optimizer.layout().totalElements();
        checkDevicePointer("params", params, need);
        checkDevicePointer("grads", grads, need);
        optimizer.stepDevice(address(params), address(grads), stream == null ? 0 : stream.address());
    }

    /**
     * {@link LayerwiseOptimizer#stepDeviceList(long, long, long)} on pointer tables: device arrays
     * of one pointer per segment, in layout order, whose memory the device can read.
     */
    public static void stepDeviceList(LayerwiseOptimizer optimizer, PointerPointer<?> params, PointerPointer<?> grads,
                                      CUstream_st stream) {
        long need = optimizer.layout().size();
        checkDevicePointer("params table", params, need);
        checkDevicePointer("grads table", grads, need);
        optimizer.stepDeviceList(address(params), address(grads), stream == null ? 0 : stream.address());
    }

    private static long address(Pointer p) { return p.address() + p.position() * p.sizeof(); }

    private static void checkDevicePointer(String role, Pointer p, long need) {
        if (p == null || p.isNull()) throw new TensorMismatchException(role + " is null");
        long have = p.limit() > 0 ? p.limit() - p.position() : (p.capacity() > 0 ? p.capacity() - p.position() : -1);
        if (have >= 0 && have < need) {
            throw new TensorMismatchException(role + ": pointer holds " + have + " elements but the layout needs " + need);
        }
    }
}

// A device as the host plan sees it: memory, copies, and the fixed launch sequence of a step.
// Two implementations: the CUDA runtime (src/main/cuda/lars_cuda.cu, built by nvcc, or a stub
// when nvcc is absent) and the SIMT emulator (lars_emulator_backend.h, built by g++).
// Error codes are cudaError_t values for CUDA and kEmulatorFault for an emulated kernel fault.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "lars_types.h"

namespace lars4j {

constexpr int kOk = 0;
constexpr int kNotBuiltWithCuda = 100000;   // this library was built without nvcc
constexpr int kEmulatorFault = 100001;      // an emulated kernel broke the SIMT model
constexpr int kOutOfHostMemory = 100002;

enum CopyKind { kHostToDevice = 0, kDeviceToHost = 1, kDeviceToDevice = 2 };

class Backend {
public:
    virtual ~Backend() = default;
    virtual int alloc(void** p, size_t bytes) = 0;
    virtual int release(void* p) = 0;
    virtual int allocHost(void** p, size_t bytes) = 0;    // pinned where that matters
    virtual int releaseHost(void* p) = 0;
    virtual int copy(void* dst, const void* src, size_t bytes, CopyKind kind, void* stream) = 0;
    virtual int sync(void* stream) = 0;
    /**
     * How many blocks of the cooperative LARS kernel (variant (a)) can be resident at once, i.e.
     * the largest grid a cooperative launch accepts; 0 when the device cannot launch cooperatively.
     */
    virtual int cooperativeLimit() = 0;
    /**
     * The three launches of one fp32 LARS step, in stream order; no host synchronisation. With
     * {@code c.cooperative > 0}: instead one cooperative launch of that many blocks.
     */
    virtual int launchLarsF32(const kernels::LarsTables& t, const kernels::LarsConsts& c,
                              const kernels::TensorRefs<float, float>& refs, kernels::StepParams* params,
                              int tiles, int segments, void* stream) = 0;
    /**
     * The launches of one fp32 LAMB step, in stream order: with {@code gradNormPass}, tile g^2
     * partials (through {@code normTables}), segment totals and the global clip; then moments,
     * segment scalars, apply.
     */
    virtual int launchLambF32(const kernels::LarsTables& normTables, const kernels::LambTables& t,
                              const kernels::LambConsts& c, const kernels::TensorRefs<float, float>& refs,
                              kernels::LambStepParams* params, bool gradNormPass, int tiles, int segments,
                              void* stream) = 0;
    /**
     * Times {@code work} (which enqueues on {@code stream}) in milliseconds: CUDA events recorded
     * around it on the GPU, the host clock on the emulator (whose launches are synchronous).
     */
    virtual int timeMs(const std::function<int()>& work, void* stream, float* ms) = 0;
    /**
     * Streams and graphs, for tests and benchmarks that capture steps the way callers do
     * (CUDA: a non-blocking stream, thread-local stream capture, an instantiated graph). On the
     * emulator a capture records each launch with its arguments as they were at capture time,
     * and a graph launch replays the records: what a real graph does with kernel arguments.
     */
    virtual int streamCreate(void** stream) = 0;
    virtual int streamDestroy(void* stream) = 0;
    virtual int beginCapture(void* stream) = 0;
    virtual int endCapture(void* stream, void** graphExec) = 0;
    virtual int graphLaunch(void* graphExec, void* stream) = 0;
    virtual int graphDestroy(void* graphExec) = 0;
    /** True when device memory is host memory (the emulator). */
    virtual bool hostIsDevice() const = 0;
    /** Name of an error code, e.g. cudaErrorInsufficientDriver. */
    virtual std::string errorName(int code) const = 0;
    /** Details of the last emulator fault, if any. */
    virtual std::string lastFault() const { return std::string(); }
};

/** The CUDA backend, or null with {@code *status} set (no driver, no device, not built). */
Backend* createCudaBackend(int* status);

/** 0 if a CUDA device is usable now, otherwise the error code. */
int cudaProbe();

/** Name of a CUDA error code (or of kNotBuiltWithCuda). */
std::string cudaErrorName(int code);

}  // namespace lars4j

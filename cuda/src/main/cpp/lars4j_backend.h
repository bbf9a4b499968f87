// A device as the host plan sees it: memory, copies, events, streams and graphs, timing, and one
// generic kernel launch. One implementation (src/main/cuda/cuda_runtime_backend.inc) compiled
// twice: by nvcc against the CUDA runtime (lars_cuda.cu; a stub when nvcc is absent), and by g++
// against the emulated runtime of the SIMT emulator (lars_emulator_backend.h), so that CI runs its
// host code. The interface knows no rule: a rule's launch sequence (src/main/cuda/rules/) calls
// launch() with its own kernels. Error codes are cudaError_t values (the emulator uses the same
// numbers), or one of lars4j's own below.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "kernel_abi.h"

namespace lars4j {

constexpr int kOk = 0;
constexpr int kNotBuiltWithCuda = 100000;   // this library was built without nvcc
constexpr int kEmulatorFault = 100001;      // an emulated kernel broke the SIMT model
constexpr int kOutOfHostMemory = 100002;

enum CopyKind { kHostToDevice = 0, kDeviceToHost = 1, kDeviceToDevice = 2 };

/**
 * A kernel as Backend::launch takes it: on a GPU its host stub (what cudaLaunchKernelExC takes),
 * on the emulator the emulated runtime's handle of the typed kernel. Made by kernel_ref()
 * (src/main/cuda/launch.cuh) in the build that compiled the kernel.
 */
struct KernelRef {
    const void* fn = nullptr;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual int alloc(void** p, size_t bytes) = 0;
    virtual int release(void* p) = 0;
    virtual int allocHost(void** p, size_t bytes) = 0;    // pinned where that matters
    virtual int releaseHost(void* p) = 0;
    /** Asynchronous in stream order (from pageable memory: staged at the call; to it: returns when done). */
    virtual int copy(void* dst, const void* src, size_t bytes, CopyKind kind, void* stream) = 0;
    /** Sets {@code bytes} of device memory to zero, in stream order. */
    virtual int zero(void* dst, size_t bytes, void* stream) = 0;
    virtual int sync(void* stream) = 0;
    /** Events without timing, for ordering work across streams. */
    virtual int eventCreate(void** event) = 0;
    virtual int eventDestroy(void* event) = 0;
    /** Records {@code event} in stream order; under capture it becomes a node that records it at each replay. */
    virtual int eventRecord(void* event, void* stream) = 0;
    /** Later work on {@code stream} waits for the work before the last record of {@code event}. */
    virtual int streamWaitEvent(void* stream, void* event) = 0;
    /**
     * One launch of {@code kernel} on {@code grid} blocks of kernels::THREADS threads, in stream
     * order; {@code args} point at the kernel's arguments, which are copied at the call. With
     * {@code cooperative}, all blocks are co-resident (grid barriers allowed); a grid larger than
     * the device allows now is refused with cudaErrorCooperativeLaunchTooLarge and leaves no
     * error pending. Returns this launch's own result.
     */
    virtual int launch(const KernelRef& kernel, unsigned grid, void** args, void* stream, bool cooperative) = 0;
    /**
     * How many blocks of {@code kernel} can be resident at once, i.e. the largest grid a
     * cooperative launch of it accepts now; 0 when the device cannot launch cooperatively.
     */
    virtual int cooperativeLimit(const KernelRef& kernel) = 0;
    /** The device's L2 cache in bytes (0 if unknown). */
    virtual long long l2CacheBytes() = 0;
    /**
     * Times {@code work} (which enqueues on {@code stream}) in milliseconds between two events.
     * With {@code held}, the stream is held (holdStream) until both events and the work are
     * enqueued, so that the window measures the device's work and not the host's enqueue; the
     * work must then enqueue few enough operations not to fill the stream's queue.
     */
    virtual int timeMs(const std::function<int()>& work, void* stream, float* ms, bool held = false) = 0;
    /**
     * Streams and graphs, for tests and benchmarks that capture steps the way callers do (a
     * non-blocking stream, or a blocking one with {@code blocking}; thread-local stream capture,
     * an instantiated graph).
     */
    virtual int streamCreate(void** stream, bool blocking) = 0;
    virtual int streamDestroy(void* stream) = 0;
    virtual int beginCapture(void* stream) = 0;
    virtual int endCapture(void* stream, void** graphExec) = 0;
    virtual int graphLaunch(void* graphExec, void* stream) = 0;
    virtual int graphDestroy(void* graphExec) = 0;
    /**
     * For tests: holds {@code stream} (nothing after this point runs) until {@link #releaseHold};
     * what a long kernel does, made deterministic. A host function waiting on a flag.
     */
    virtual int holdStream(void* stream, void** gate) = 0;
    virtual void releaseHold(void* gate) = 0;
    /** Name of an error code, e.g. cudaErrorInsufficientDriver. */
    virtual std::string errorName(int code) const = 0;
    /** The emulator's detail of this thread's last failure with {@code code}; empty on a GPU. */
    virtual std::string faultDetail(int code) const = 0;
};

class NativeRule;

/** The CUDA backend, or null with {@code *status} set (no driver, no device, not built). */
Backend* createCudaBackend(int* status);

/** Rule {@code rule} (rules/registry.cuh) with its kernels built for the GPU; null when not built with nvcc. */
NativeRule* createCudaRule(int rule);

/** 0 if a CUDA device is usable now, otherwise the error code. */
int cudaProbe();

/** Name of a CUDA error code (or of one of lars4j's own). */
std::string cudaErrorName(int code);

/** Name of one of lars4j's own codes; empty for a CUDA error code. */
inline std::string libraryErrorName(int code) {
    if (code == kNotBuiltWithCuda) return "notBuiltWithCuda (nvcc was not found when this library was built)";
    if (code == kEmulatorFault) return "emulatorFault";
    if (code == kOutOfHostMemory) return "outOfHostMemory";
    return std::string();
}

/**
 * Tiles of {@code TILE} elements in a segment of {@code length} elements, in 64 bits: a segment
 * within one tile of 2^31 elements would overflow an int sum.
 */
inline long long tilesOfSegment(long long length) { return (length + kernels::TILE - 1) / kernels::TILE; }

}  // namespace lars4j

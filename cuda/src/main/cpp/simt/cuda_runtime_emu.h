// An emulated CUDA runtime: the subset of the CUDA runtime API that lars4j's CUDA backend uses
// (src/main/cuda/cuda_runtime_backend.inc), implemented on the CPU over the SIMT emulator.
//
// Why: the host side of the CUDA engine (which stream a copy goes on, what a launch returns,
// what a synchronisation waits for) has defects a synchronous emulator cannot show. The backend
// source is compiled twice: by nvcc against the real runtime, and by g++ inside namespace
// lars4j::emu_cuda against this header. CI thus runs every host line of the CUDA backend too.
//
// Model (what a GPU does, as far as lars4j can observe it):
//  - Streams run asynchronously: each has a queue and a worker thread; work runs in stream order,
//    concurrently with the host and with other streams.
//  - The legacy default stream (nullptr) waits for all earlier work of every *blocking* stream,
//    and blocking streams' later work waits for it; non-blocking streams
//    (cudaStreamNonBlocking, as lars4j and PyTorch create them) do not synchronise with it.
//  - Events: recorded in stream order; cudaStreamWaitEvent makes later work on a stream wait for
//    the work before the record; cudaEventSynchronize waits on the host.
//  - Copies: from pageable host memory the source is staged at the call (the call returns at
//    once); to pageable host memory the call returns when the copy is done; pinned memory
//    (cudaMallocHost) is read or written when the copy runs.
//  - Launch errors (zero-size grid, bad block, cooperative grid too large) are returned by the
//    launch that caused them and set the calling thread's last error; faults while a kernel runs
//    (a model violation, a misaligned 16-byte access) are reported by the next synchronisation
//    with that stream (and cudaGetLastError on that thread), once. On a GPU such a fault is
//    sticky for the whole context; the emulator clears it after reporting so that one JVM can go
//    on testing.
//  - Stream capture (one stream at a time per capture): work is recorded with its arguments as at
//    capture time; host copies from pageable memory and synchronisation of a capturing stream are
//    refused; an event recorded with cudaEventRecordExternal becomes a graph node that records
//    the event when a replay is enqueued. A graph launch enqueues the recorded work in order.
//  - cudaFree / cudaFreeHost wait for all streams, as the real ones synchronise the device.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "simt_emulator.h"

namespace lars4j {
namespace emu_cuda {

enum cudaError_t : int {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorIllegalState = 401,
    cudaErrorNotReady = 600,
    cudaErrorMisalignedAddress = 716,
    cudaErrorLaunchFailure = 719,
    cudaErrorCooperativeLaunchTooLarge = 720,
    cudaErrorStreamCaptureUnsupported = 900,
    cudaErrorEmulatedKernelFault = 100001,   // lars4j::kEmulatorFault: a kernel broke the SIMT model
};

enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1, cudaStreamCaptureModeRelaxed = 2 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrL2CacheSize = 38, cudaDevAttrCooperativeLaunch = 95 };
enum cudaLaunchAttributeID { cudaLaunchAttributeCooperative = 2 };
constexpr unsigned cudaStreamDefault = 0, cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDefault = 0, cudaEventDisableTiming = 2;
constexpr unsigned cudaEventRecordDefault = 0, cudaEventRecordExternal = 1;
constexpr unsigned cudaEventWaitDefault = 0;

struct EmuStream;
struct EmuEvent;
struct EmuGraph;
using cudaStream_t = EmuStream*;
using cudaEvent_t = EmuEvent*;
using cudaGraph_t = EmuGraph*;
using cudaGraphExec_t = EmuGraph*;
using cudaHostFn_t = void (*)(void*);

union cudaLaunchAttributeValue {
    int cooperative;
};
struct cudaLaunchAttribute {
    cudaLaunchAttributeID id;
    cudaLaunchAttributeValue val;
};
// Field names differ from CUDA's (gridDim and blockDim are kernel macros in the emulator); the
// backend fills the struct through makeLaunchConfig, which each build defines.
struct cudaLaunchConfig_t {
    dim3 grid, block;
    size_t dynamicSmemBytes;
    cudaStream_t stream;
    cudaLaunchAttribute* attrs;
    unsigned numAttrs;
};

/** One unit of stream work: runs when every (stream, sequence number) it depends on has completed. */
struct EmuOp {
    std::function<void()> fn;                               // may be empty (a marker)
    std::vector<std::pair<EmuStream*, unsigned long long>> deps;
    EmuEvent* timestamp = nullptr;                          // an event record: stamps the time when run
};

struct EmuGraph {
    struct Node {
        std::function<void()> fn;
        EmuEvent* record = nullptr;   // an external event record node
    };
    std::vector<Node> nodes;
};

struct EmuStream {
    bool blocking = true;
    bool legacy = false;
    bool dead = false;
    std::deque<EmuOp> queue;
    unsigned long long enqueued = 0, completed = 0;
    int fault = cudaSuccess;          // first fault of a kernel on this stream since the last wait
    std::string faultDetail;
    std::unique_ptr<EmuGraph> capture;
    std::thread worker;
    bool stop = false;
};

struct EmuEvent {
    EmuStream* stream = nullptr;      // where it was last recorded (null: never)
    unsigned long long seq = 0;
    std::chrono::steady_clock::time_point at;
    bool timed = false;
};

/** Process-wide state, as a CUDA context is. Never destroyed: its worker threads outlive statics. */
struct EmuRuntime {
    std::mutex m;
    std::condition_variable cv;
    EmuStream* legacy = nullptr;
    std::set<EmuStream*> live;                 // created streams not yet destroyed
    std::map<const char*, size_t> device;      // cudaMalloc'd ranges
    std::map<const char*, size_t> pinned;      // cudaMallocHost'd ranges
    int cooperativeLimit = 0;                  // 0: LARS4J_EMU_COOP_BLOCKS or 6
};

inline EmuRuntime& runtime();

/** The calling host thread's last error, as cudaGetLastError reports it, with the emulator's detail. */
struct LastError {
    int code = cudaSuccess;
    std::string detail;
};
inline LastError& lastErrorState() {
    static thread_local LastError e;
    return e;
}

/** Records a failed call on this thread and returns its code. */
inline cudaError_t emuFail(cudaError_t code, const std::string& detail) {
    lastErrorState().code = code;
    lastErrorState().detail = detail;
    return code;
}

/** The detail of this thread's last failure, when its code is {@code code}. */
inline std::string emuDetail(int code) {
    return lastErrorState().code == code ? lastErrorState().detail : std::string();
}

inline cudaError_t cudaGetLastError() {
    const int c = lastErrorState().code;
    lastErrorState().code = cudaSuccess;
    return static_cast<cudaError_t>(c);
}
inline cudaError_t cudaPeekAtLastError() { return static_cast<cudaError_t>(lastErrorState().code); }

inline bool depsDone(const EmuOp& op) {
    for (auto& d : op.deps) if (d.first->completed < d.second) return false;
    return true;
}

inline void emuWorker(EmuStream* s) {
    EmuRuntime& rt = runtime();
    std::unique_lock<std::mutex> lock(rt.m);
    for (;;) {
        rt.cv.wait(lock, [&] { return (s->stop && s->queue.empty()) || (!s->queue.empty() && depsDone(s->queue.front())); });
        if (s->queue.empty()) return;
        EmuOp op = std::move(s->queue.front());
        s->queue.pop_front();
        lock.unlock();
        int fault = cudaSuccess;
        std::string detail;
        if (op.fn) {
            try {
                op.fn();
            } catch (const simt::MisalignedAddress& e) {
                fault = cudaErrorMisalignedAddress;
                detail = e.what();
            } catch (const std::exception& e) {
                fault = cudaErrorEmulatedKernelFault;
                detail = e.what();
            }
        }
        const auto now = std::chrono::steady_clock::now();
        lock.lock();
        if (op.timestamp) op.timestamp->at = now;
        if (fault != cudaSuccess && s->fault == cudaSuccess) {
            s->fault = fault;
            s->faultDetail = detail;
        }
        s->completed++;
        rt.cv.notify_all();
    }
}

inline EmuStream* emuNewStream(bool blocking, bool legacy) {
    EmuStream* s = new EmuStream();
    s->blocking = blocking;
    s->legacy = legacy;
    s->worker = std::thread(emuWorker, s);
    return s;
}

inline EmuRuntime& runtime() {
    static EmuRuntime* rt = [] {
        EmuRuntime* r = new EmuRuntime();
        r->legacy = emuNewStream(true, true);
        r->legacy->worker.detach();
        return r;
    }();
    return *rt;
}

/** The stream a handle names (nullptr: the legacy default stream), or null if it is not live. Lock held. */
inline EmuStream* emuResolve(cudaStream_t s) {
    EmuRuntime& rt = runtime();
    if (s == nullptr) return rt.legacy;
    return rt.live.count(s) ? s : nullptr;
}

/**
 * Enqueues {@code op} on {@code s} with the legacy stream's implicit dependencies; returns its
 * sequence number. Lock held.
 */
inline unsigned long long emuEnqueue(EmuStream* s, EmuOp op) {
    EmuRuntime& rt = runtime();
    if (s->legacy) {
        for (EmuStream* b : rt.live) {
            if (b->blocking && b->enqueued > b->completed) op.deps.emplace_back(b, b->enqueued);
        }
    } else if (s->blocking && rt.legacy->enqueued > rt.legacy->completed) {
        op.deps.emplace_back(rt.legacy, rt.legacy->enqueued);
    }
    s->queue.push_back(std::move(op));
    rt.cv.notify_all();
    return ++s->enqueued;
}

/** Waits (lock held through {@code lock}) until {@code s} has completed {@code seq}; returns and clears its fault. */
inline cudaError_t emuWait(std::unique_lock<std::mutex>& lock, EmuStream* s, unsigned long long seq) {
    runtime().cv.wait(lock, [&] { return s->completed >= seq; });
    if (s->fault != cudaSuccess) {
        const cudaError_t f = static_cast<cudaError_t>(s->fault);
        const std::string d = s->faultDetail;
        s->fault = cudaSuccess;
        s->faultDetail.clear();
        return emuFail(f, d);
    }
    return cudaSuccess;
}

/** Runs {@code fn} in stream order on {@code s}, or records it if {@code s} is being captured. */
inline cudaError_t emuSubmit(cudaStream_t s, std::function<void()> fn) {
    EmuRuntime& rt = runtime();
    std::lock_guard<std::mutex> lock(rt.m);
    EmuStream* st = emuResolve(s);
    if (!st) return emuFail(cudaErrorInvalidResourceHandle, "not a live stream");
    if (st->capture) {
        st->capture->nodes.push_back(EmuGraph::Node{std::move(fn), nullptr});
        return cudaSuccess;
    }
    EmuOp op;
    op.fn = std::move(fn);
    emuEnqueue(st, std::move(op));
    return cudaSuccess;
}

/** Waits for every stream to drain (what cudaFree's implicit device synchronisation does). Lock held. */
inline void emuDrainAll(std::unique_lock<std::mutex>& lock) {
    EmuRuntime& rt = runtime();
    rt.cv.wait(lock, [&] {
        if (rt.legacy->completed < rt.legacy->enqueued) return false;
        for (EmuStream* s : rt.live) if (s->completed < s->enqueued) return false;
        return true;
    });
}

inline bool emuIn(const std::map<const char*, size_t>& ranges, const void* p) {
    const char* c = static_cast<const char*>(p);
    auto it = ranges.upper_bound(c);
    if (it == ranges.begin()) return false;
    --it;
    return c < it->first + it->second;
}

// ---- memory -----------------------------------------------------------------------------------

inline cudaError_t emuAllocInto(std::map<const char*, size_t>& ranges, void** p, size_t bytes) {
    *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    if (!*p) return emuFail(cudaErrorMemoryAllocation, "out of host memory");
    std::lock_guard<std::mutex> lock(runtime().m);
    ranges[static_cast<const char*>(*p)] = bytes;
    return cudaSuccess;
}

inline cudaError_t emuFreeFrom(std::map<const char*, size_t>& ranges, void* p, const char* what) {
    if (!p) return cudaSuccess;
    std::unique_lock<std::mutex> lock(runtime().m);
    auto it = ranges.find(static_cast<const char*>(p));
    if (it == ranges.end()) return emuFail(cudaErrorInvalidValue, std::string(what) + " of an address its allocator did not return");
    emuDrainAll(lock);
    ranges.erase(it);
    std::free(p);
    return cudaSuccess;
}

inline cudaError_t cudaMalloc(void** p, size_t bytes) { return emuAllocInto(runtime().device, p, bytes); }
inline cudaError_t cudaFree(void* p) { return emuFreeFrom(runtime().device, p, "cudaFree"); }
inline cudaError_t cudaMallocHost(void** p, size_t bytes) { return emuAllocInto(runtime().pinned, p, bytes); }
inline cudaError_t cudaFreeHost(void* p) { return emuFreeFrom(runtime().pinned, p, "cudaFreeHost"); }

inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
    EmuRuntime& rt = runtime();
    std::unique_lock<std::mutex> lock(rt.m);
    EmuStream* st = emuResolve(s);
    if (!st) return emuFail(cudaErrorInvalidResourceHandle, "copy on a stream that is not live");
    if (bytes == 0) return cudaSuccess;
    const bool fromPageable = kind == cudaMemcpyHostToDevice && !emuIn(rt.pinned, src);
    const bool toPageable = kind == cudaMemcpyDeviceToHost && !emuIn(rt.pinned, dst);
    if (st->capture) {
        // A recorded copy of pageable host memory would read or write it at replay, when it may
        // be gone; CUDA refuses it too.
        if (fromPageable || toPageable) return emuFail(cudaErrorStreamCaptureUnsupported, "host copy on a stream that is being captured");
        st->capture->nodes.push_back(EmuGraph::Node{[=] { std::memmove(dst, src, bytes); }, nullptr});
        return cudaSuccess;
    }
    EmuOp op;
    if (fromPageable) {
        // Staged now, as the runtime does: the caller may reuse its buffer once the call returns.
        auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + bytes);
        op.fn = [=] { std::memmove(dst, staged->data(), bytes); };
    } else {
        op.fn = [=] { std::memmove(dst, src, bytes); };
    }
    const unsigned long long seq = emuEnqueue(st, std::move(op));
    // To pageable memory the call returns when the copy is done.
    return toPageable ? emuWait(lock, st, seq) : cudaSuccess;
}

inline cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s) {
    if (bytes == 0) return cudaSuccess;
    return emuSubmit(s, [=] { std::memset(p, value, bytes); });
}

// ---- streams, events, synchronisation -------------------------------------------------------------

inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
    EmuStream* st = emuNewStream((flags & cudaStreamNonBlocking) == 0, false);
    std::lock_guard<std::mutex> lock(runtime().m);
    runtime().live.insert(st);
    *s = st;
    return cudaSuccess;
}

/** Waits for the stream's work, then ends its worker. The handle stays allocated (others' dependencies may name it). */
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
    EmuRuntime& rt = runtime();
    std::unique_lock<std::mutex> lock(rt.m);
    EmuStream* st = emuResolve(s);
    if (!st || st->legacy) return emuFail(cudaErrorInvalidResourceHandle, "destroy of a stream that is not live");
    if (st->capture) return emuFail(cudaErrorStreamCaptureUnsupported, "destroy of a stream that is being captured");
    rt.live.erase(st);
    st->stop = true;
    rt.cv.notify_all();
    rt.cv.wait(lock, [&] { return st->queue.empty(); });
    lock.unlock();
    st->worker.join();
    lock.lock();
    st->dead = true;
    return cudaSuccess;
}

inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    EmuRuntime& rt = runtime();
    std::unique_lock<std::mutex> lock(rt.m);
    EmuStream* st = emuResolve(s);
    if (!st) return emuFail(cudaErrorInvalidResourceHandle, "synchronize of a stream that is not live");
    if (st->capture) return emuFail(cudaErrorStreamCaptureUnsupported, "synchronize on a stream that is being captured");
    // The legacy stream's synchronisation includes its implicit waits on blocking streams.
    const unsigned long long seq = st->legacy ? emuEnqueue(st, EmuOp{}) : st->enqueued;
    return emuWait(lock, st, seq);
}

inline cudaError_t cudaLaunchHostFunc(cudaStream_t s, cudaHostFn_t fn, void* data) {
    return emuSubmit(s, [=] { fn(data); });
}

inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
    *e = new EmuEvent();
    (*e)->timed = (flags & cudaEventDisableTiming) == 0;
    return cudaSuccess;
}
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
    std::unique_lock<std::mutex> lock(runtime().m);
    // A record still queued would stamp freed memory; CUDA lets the record finish too.
    if (e->stream) runtime().cv.wait(lock, [&] { return e->stream->completed >= e->seq; });
    delete e;
    return cudaSuccess;
}

inline cudaError_t cudaEventRecordWithFlags(cudaEvent_t e, cudaStream_t s, unsigned flags) {
    EmuRuntime& rt = runtime();
    std::lock_guard<std::mutex> lock(rt.m);
    EmuStream* st = emuResolve(s);
    if (!st || !e) return emuFail(cudaErrorInvalidResourceHandle, "event record on a stream or event that is not live");
    if (st->capture) {
        if (!(flags & cudaEventRecordExternal)) {
            return emuFail(cudaErrorStreamCaptureUnsupported, "event record in a capture without cudaEventRecordExternal (not emulated)");
        }
        st->capture->nodes.push_back(EmuGraph::Node{std::function<void()>(), e});
        return cudaSuccess;
    }
    EmuOp op;
    op.timestamp = e;
    e->stream = st;
    e->seq = emuEnqueue(st, std::move(op));
    return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) { return cudaEventRecordWithFlags(e, s, cudaEventRecordDefault); }

inline cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0) {
    EmuRuntime& rt = runtime();
    std::lock_guard<std::mutex> lock(rt.m);
    EmuStream* st = emuResolve(s);
    if (!st || !e) return emuFail(cudaErrorInvalidResourceHandle, "event wait on a stream or event that is not live");
    if (st->capture) return emuFail(cudaErrorStreamCaptureUnsupported, "wait on an outside event in a capture (not emulated)");
    if (!e->stream) return cudaSuccess;   // never recorded: nothing to wait for
    EmuOp op;
    op.deps.emplace_back(e->stream, e->seq);
    emuEnqueue(st, std::move(op));
    return cudaSuccess;
}

inline cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    EmuRuntime& rt = runtime();
    std::unique_lock<std::mutex> lock(rt.m);
    if (!e->stream) return cudaSuccess;
    return emuWait(lock, e->stream, e->seq);
}

inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
    std::lock_guard<std::mutex> lock(runtime().m);
    if (!a->timed || !b->timed) return emuFail(cudaErrorInvalidResourceHandle, "elapsed time of an event without timing");
    if (!a->stream || !b->stream || a->stream->completed < a->seq || b->stream->completed < b->seq) {
        return emuFail(cudaErrorNotReady, "elapsed time of an event not yet completed");
    }
    *ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
    return cudaSuccess;
}

// ---- graphs ------------------------------------------------------------------------------------

inline cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
    std::lock_guard<std::mutex> lock(runtime().m);
    EmuStream* st = emuResolve(s);
    if (!st || st->legacy) return emuFail(cudaErrorStreamCaptureUnsupported, "capture of the default stream");
    if (st->capture) return emuFail(cudaErrorIllegalState, "capture begun twice on one stream");
    st->capture.reset(new EmuGraph());
    return cudaSuccess;
}

inline cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
    std::lock_guard<std::mutex> lock(runtime().m);
    EmuStream* st = emuResolve(s);
    if (!st || !st->capture) return emuFail(cudaErrorIllegalState, "end of a capture that was not begun");
    *graph = st->capture.release();
    return cudaSuccess;
}

inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
    *exec = new EmuGraph(*graph);
    return cudaSuccess;
}
inline cudaError_t cudaGraphDestroy(cudaGraph_t g) { delete g; return cudaSuccess; }
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t g) { delete g; return cudaSuccess; }

inline cudaError_t cudaGraphLaunch(cudaGraphExec_t g, cudaStream_t s) {
    EmuRuntime& rt = runtime();
    std::lock_guard<std::mutex> lock(rt.m);
    EmuStream* st = emuResolve(s);
    if (!st) return emuFail(cudaErrorInvalidResourceHandle, "graph launch on a stream that is not live");
    if (st->capture) return emuFail(cudaErrorStreamCaptureUnsupported, "graph launch into a capture (not emulated)");
    for (const EmuGraph::Node& n : g->nodes) {
        EmuOp op;
        op.fn = n.fn;
        op.timestamp = n.record;
        const unsigned long long seq = emuEnqueue(st, std::move(op));
        if (n.record) {
            n.record->stream = st;
            n.record->seq = seq;
        }
    }
    return cudaSuccess;
}

// ---- device, launches ------------------------------------------------------------------------------

/** The stand-in occupancy limit of a cooperative grid: set by emuSetCooperativeLimit, else LARS4J_EMU_COOP_BLOCKS, else 6. */
inline int emuCooperativeLimit() {
    {
        std::lock_guard<std::mutex> lock(runtime().m);
        if (runtime().cooperativeLimit > 0) return runtime().cooperativeLimit;
    }
    const char* env = std::getenv("LARS4J_EMU_COOP_BLOCKS");
    const int n = env ? std::atoi(env) : 6;
    return n > 0 ? n : 0;
}

/** Changes the cooperative limit from now on (0: back to the default), as MPS or another device would. */
inline void emuSetCooperativeLimit(int blocks) {
    std::lock_guard<std::mutex> lock(runtime().m);
    runtime().cooperativeLimit = blocks > 0 ? blocks : 0;
}

inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
/**
 * The emulated device's L2: 128 KiB, far smaller than a GPU's, so that the grouped LARS step
 * (groups of about L2 / 16 elements) cuts the small models of CI into several groups.
 */
constexpr int kEmuL2CacheBytes = 128 * 1024;

inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
    *v = a == cudaDevAttrMultiProcessorCount ? 1
       : a == cudaDevAttrCooperativeLaunch ? (emuCooperativeLimit() > 0)
       : a == cudaDevAttrL2CacheSize ? kEmuL2CacheBytes : 0;
    return cudaSuccess;
}
template <typename K>
inline cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* n, K, int, size_t) {
    *n = emuCooperativeLimit();   // one emulated multiprocessor
    return cudaSuccess;
}

/**
 * What a kernel's host stub is to the CUDA runtime: the emulator's handle of a kernel, with which
 * cudaLaunchKernelExC can call it from an untyped argument array. {@code bind} copies the
 * arguments now (a launch captures them when it is made) and returns the call to run later.
 */
struct EmuKernel {
    void (*kernel)();                                        // the typed kernel, type-erased
    std::function<void()> (*bind)(void (*kernel)(), void** args);
};

template <typename... P, size_t... I>
inline std::function<void()> emuBindArgs(void (*erased)(), void** args, std::index_sequence<I...>) {
    auto kernel = reinterpret_cast<void (*)(P...)>(erased);
    std::tuple<std::decay_t<P>...> a(*static_cast<std::decay_t<P>*>(args[I])...);
    return [kernel, a] { std::apply(kernel, a); };
}

template <typename... P>
inline std::function<void()> emuBind(void (*erased)(), void** args) {
    return emuBindArgs<P...>(erased, args, std::index_sequence_for<P...>{});
}

/**
 * The handle of {@code kernel} for cudaLaunchKernelExC and cudaOccupancy*: one per kernel for
 * the life of the process, as a host stub is.
 */
template <typename... P>
inline const void* emuKernelHandle(void (*kernel)(P...)) {
    static std::mutex m;
    static std::map<void (*)(), std::unique_ptr<EmuKernel>>* handles = new std::map<void (*)(), std::unique_ptr<EmuKernel>>();
    const auto erased = reinterpret_cast<void (*)()>(kernel);
    std::lock_guard<std::mutex> lock(m);
    auto& h = (*handles)[erased];
    if (!h) h.reset(new EmuKernel{erased, &emuBind<P...>});
    return h.get();
}

/**
 * A launch of {@code body} per block with {@code cfg}: the launch's own result. Configuration
 * errors are returned here (and set the last error); the kernel runs later in stream order.
 */
inline cudaError_t emuLaunch(const cudaLaunchConfig_t* cfg, std::function<void()> body) {
    const dim3 grid = cfg->grid, block = cfg->block;
    bool cooperative = false;
    for (unsigned i = 0; i < cfg->numAttrs; i++) {
        if (cfg->attrs[i].id == cudaLaunchAttributeCooperative && cfg->attrs[i].val.cooperative) cooperative = true;
    }
    try {
        simt::check_launch_shape(grid, block);
    } catch (const simt::KernelFault& e) {
        return emuFail(cudaErrorInvalidConfiguration, e.what());
    }
    const unsigned limit = static_cast<unsigned>(emuCooperativeLimit());
    if (cooperative && grid.x > limit) {
        return emuFail(cudaErrorCooperativeLaunchTooLarge, "cooperative launch of " + std::to_string(grid.x) + " blocks, more than the "
                                                               + std::to_string(limit) + " that can be co-resident");
    }
    if (cooperative) {
        return emuSubmit(cfg->stream, [=] { simt::launch_cooperative(grid, block, limit, body); });
    }
    return emuSubmit(cfg->stream, [=] { simt::launch(grid, block, body); });
}

/** cudaLaunchKernelEx: the kernel runs later in stream order with its arguments as they are now. */
template <typename... Exp, typename... Act>
inline cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t* cfg, void (*kernel)(Exp...), Act&&... args) {
    std::tuple<std::decay_t<Exp>...> a(std::forward<Act>(args)...);
    return emuLaunch(cfg, [=] { std::apply(kernel, a); });
}

/** cudaLaunchKernelExC: {@code func} is an emuKernelHandle, {@code args} point at the kernel's parameters. */
inline cudaError_t cudaLaunchKernelExC(const cudaLaunchConfig_t* cfg, const void* func, void** args) {
    const EmuKernel* k = static_cast<const EmuKernel*>(func);
    return emuLaunch(cfg, k->bind(k->kernel, args));
}

inline const char* cudaGetErrorName(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "cudaSuccess";
        case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
        case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
        case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
        case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
        case cudaErrorIllegalState: return "cudaErrorIllegalState";
        case cudaErrorNotReady: return "cudaErrorNotReady";
        case cudaErrorMisalignedAddress: return "cudaErrorMisalignedAddress";
        case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
        case cudaErrorCooperativeLaunchTooLarge: return "cudaErrorCooperativeLaunchTooLarge";
        case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
        case cudaErrorEmulatedKernelFault: return "emulatorKernelFault";
    }
    return "cudaErrorUnknown";
}

}  // namespace emu_cuda
}  // namespace lars4j

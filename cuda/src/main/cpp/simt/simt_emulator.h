// SIMT emulator: runs CUDA kernel source, compiled by g++, on the CPU.
//
// Why: neither developers' machines nor CI have a GPU, yet the CUDA kernels must be shown right
// bit for bit. The same kernel source (src/main/cuda/rules/, primitives/) is compiled by nvcc for
// the GPU and by g++ against this header for the CPU.
//
// Model:
//  - Blocks of a grid run concurrently on a few OS threads (LARS4J_EMU_WORKERS, default: the
//    hardware concurrency), each claiming block indices from a shared counter.
//  - The threads of one block are fibers (ucontext) on that OS thread. A fiber runs until it
//    reaches a synchronisation point (__syncthreads, a warp shuffle, __syncwarp, or its end);
//    the block scheduler then runs the next fiber. A barrier releases only when every live
//    thread of its scope (block or warp) has arrived: it is a real barrier.
//  - The order in which fibers run between synchronisation points is the *schedule*: forward
//    (0..n-1), reverse, or a seeded shuffle that changes at every round. Correct kernels give the
//    same bits under every schedule; a missing barrier or a shared-memory race makes at least two
//    schedules disagree, which is how races are caught (see src/test/cpp/simt_selftest.cpp).
//  - __shared__ variables are `static thread_local`: one copy per OS thread, i.e. per running
//    block, shared by that block's threads, uninitialised between blocks as on a GPU.
//
//  - A cooperative launch (launch_cooperative) runs every block of its grid at once, each on its
//    own OS thread, as a GPU must for cooperative_groups' grid.sync(): a block whose live
//    threads have all reached grid_sync() waits for every other block, then goes on. A block
//    that ends, or whose threads split between a grid sync and their end or a block barrier,
//    while others wait is a fault (a deadlock on a GPU).
//
// Supported (and therefore all the kernels may use): 1-D grids and blocks (x only; y = z = 1),
// threadIdx / blockIdx / blockDim / gridDim, __syncthreads, __syncwarp, __shfl_xor_sync on full
// warps (mask 0xffffffff, width 32) for 4- and 8-byte types, __shared__ static arrays, the
// correctly rounded intrinsics __fmaf_rn __fmul_rn __fadd_rn __fsub_rn __fdiv_rn __fsqrt_rn __dadd_rn __dsub_rn
// __dmul_rn __ddiv_rn __dsqrt_rn __double2float_rn, and __global__/__device__/__forceinline__.
// grid_sync() inside launch_cooperative.
// Not supported: atomics, dynamic shared memory, textures, 2-D/3-D indexing.
#pragma once

#include <ucontext.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <algorithm>
#include <condition_variable>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local

namespace simt {

enum class Schedule { Forward = 0, Reverse = 1, Shuffled = 2 };

/** Raised (and reported to the host) when a kernel breaks the model: divergent barrier, bad shuffle. */
struct KernelFault : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/** A vector load or store of an address its width does not divide: cudaErrorMisalignedAddress on a GPU. */
struct MisalignedAddress : KernelFault {
    using KernelFault::KernelFault;
};

/** A launch a GPU refuses before running anything (zero-size grid, bad block): cudaErrorInvalidConfiguration. */
struct InvalidConfiguration : KernelFault {
    using KernelFault::KernelFault;
};

struct Config {
    std::atomic<int> schedule{0};
    std::atomic<unsigned> seed{1};
    std::atomic<int> workers{0};
};
inline Config& config() { static Config c; return c; }

/** Selects the fiber schedule of every later launch (process-wide). */
inline void set_schedule(Schedule s, unsigned seed) {
    config().schedule = static_cast<int>(s);
    config().seed = seed;
}

enum FiberState { READY, AT_BLOCK_BARRIER, AT_WARP_BARRIER, AT_GRID_BARRIER, DONE };

/** The grid-wide barrier of a cooperative launch: every block arrives, or the launch faults. */
class GridBarrier {
public:
    explicit GridBarrier(unsigned blocks) : blocks_(blocks) {}

    /** Block-level arrival; returns when all blocks have arrived. Throws if that can never happen. */
    void arrive_and_wait() {
        std::unique_lock<std::mutex> lock(m_);
        check();
        const unsigned gen = generation_;
        if (++arrived_ == blocks_) {
            arrived_ = 0;
            generation_++;
            cv_.notify_all();
            return;
        }
        cv_.wait(lock, [&] { return generation_ != gen || !fault_.empty() || ended_ > 0; });
        if (generation_ == gen) check();
    }

    /** A block has finished (all its threads returned): no later grid sync can complete. */
    void block_ended() {
        std::lock_guard<std::mutex> lock(m_);
        ended_++;
        cv_.notify_all();
    }

    /** Another block faulted: release the waiters with a fault of their own. */
    void abort(const std::string& why) {
        std::lock_guard<std::mutex> lock(m_);
        if (fault_.empty()) fault_ = why;
        cv_.notify_all();
    }

private:
    void check() const {
        if (!fault_.empty()) throw KernelFault("grid sync abandoned: another block faulted");
        if (ended_ > 0) throw KernelFault("grid sync while " + std::to_string(ended_) + " block(s) of the grid have exited (deadlock on a GPU)");
    }

    const unsigned blocks_;
    std::mutex m_;
    std::condition_variable cv_;
    unsigned arrived_ = 0;
    unsigned generation_ = 0;
    unsigned ended_ = 0;
    std::string fault_;
};

struct Fiber {
    ucontext_t ctx;
    uint3 tid;
    FiberState state = READY;
    unsigned warpSyncs = 0;  // how many warp-level syncs this fiber has passed (selects the slot bank)
    std::unique_ptr<char[]> stack;  // not zero-filled: only the pages a fiber touches are mapped
};

/** Runs the blocks given to it, one at a time, each as blockDim.x fibers. One per OS thread. */
class BlockRunner {
public:
    static constexpr size_t STACK_BYTES = 128 * 1024;

    /** Parks the running fiber in state {@code s} and switches to the scheduler. */
    void park(FiberState s);

    void run_block(unsigned block, const dim3& grid, const dim3& blockDim, const std::function<void()>& body,
                   Schedule schedule, unsigned seed);

    Fiber* current = nullptr;
    // Warp exchange slots, two banks so that a fast lane's next shuffle cannot overwrite a value
    // a slower lane of the same warp has not read yet.
    std::vector<uint64_t> slots;  // [2][warps][32]
    unsigned warps = 0;
    uint3 blockIdx{0, 0, 0};
    dim3 blockDim, gridDim;
    GridBarrier* gridBarrier = nullptr;   // set during a cooperative launch

private:
    static void entry();
    ucontext_t scheduler_;
    std::vector<Fiber> fibers_;
    const std::function<void()>* body_ = nullptr;
    std::string fault_;
    bool misaligned_ = false;   // the fault was a misaligned access (keeps its type across the fiber boundary)
};

inline thread_local BlockRunner* tl_runner = nullptr;

inline void BlockRunner::entry() {
    BlockRunner* r = tl_runner;
    try {
        (*r->body_)();
    } catch (const MisalignedAddress& e) {
        if (r->fault_.empty()) r->fault_ = e.what();
        r->misaligned_ = true;
    } catch (const std::exception& e) {
        if (r->fault_.empty()) r->fault_ = e.what();
    }
    r->current->state = DONE;
    // uc_link returns to the scheduler.
}

inline void BlockRunner::run_block(unsigned block, const dim3& grid, const dim3& bdim, const std::function<void()>& body,
                                   Schedule schedule, unsigned seed) {
    const unsigned n = bdim.x;
    if (fibers_.size() != n) {
        fibers_.clear();
        fibers_.resize(n);
        for (auto& f : fibers_) f.stack.reset(new char[STACK_BYTES]);
    }
    warps = (n + 31) / 32;
    slots.assign(2 * warps * 32, 0);
    blockIdx = uint3{block, 0, 0};
    blockDim = bdim;
    gridDim = grid;
    body_ = &body;
    fault_.clear();
    misaligned_ = false;
    for (unsigned i = 0; i < n; i++) {
        Fiber& f = fibers_[i];
        f.tid = uint3{i, 0, 0};
        f.state = READY;
        f.warpSyncs = 0;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack.get();
        f.ctx.uc_stack.ss_size = STACK_BYTES;
        f.ctx.uc_link = &scheduler_;
        makecontext(&f.ctx, &BlockRunner::entry, 0);
    }
    std::vector<unsigned> order(n);
    std::mt19937 rng(seed * 2654435761u + block);
    for (unsigned round = 0;; round++) {
        for (unsigned i = 0; i < n; i++) order[i] = schedule == Schedule::Reverse ? n - 1 - i : i;
        if (schedule == Schedule::Shuffled) std::shuffle(order.begin(), order.end(), rng);
        for (unsigned i : order) {
            Fiber& f = fibers_[i];
            if (f.state != READY) continue;
            current = &f;
            swapcontext(&scheduler_, &f.ctx);
            current = nullptr;
        }
        if (!fault_.empty()) {
            if (misaligned_) throw MisalignedAddress(fault_);
            throw KernelFault(fault_);
        }
        // Release every warp whose live lanes have all reached a warp-level sync.
        bool released = false;
        unsigned live = 0, atBlock = 0;
        for (unsigned w = 0; w < warps; w++) {
            unsigned lo = 32 * w, hi = lo + 32 < n ? lo + 32 : n;
            unsigned waiting = 0, alive = 0;
            for (unsigned i = lo; i < hi; i++) {
                if (fibers_[i].state != DONE) alive++;
                if (fibers_[i].state == AT_WARP_BARRIER) waiting++;
            }
            if (waiting > 0 && waiting == alive) {
                if (alive != hi - lo) throw KernelFault("warp shuffle/sync with exited lanes in block " + std::to_string(block));
                for (unsigned i = lo; i < hi; i++) fibers_[i].state = READY;
                released = true;
            }
        }
        if (released) continue;
        unsigned atGrid = 0;
        for (auto& f : fibers_) {
            if (f.state != DONE) live++;
            if (f.state == AT_BLOCK_BARRIER) atBlock++;
            if (f.state == AT_GRID_BARRIER) atGrid++;
        }
        if (live == 0) return;
        if (atGrid > 0) {
            if (atGrid != n) {
                throw KernelFault("divergent grid sync in block " + std::to_string(block) + ": " + std::to_string(atGrid)
                                  + " of " + std::to_string(n) + " threads arrived, the others " + (live != n ? "exited" : "wait elsewhere"));
            }
            gridBarrier->arrive_and_wait();   // blocks this OS thread until every block of the grid is here
            for (auto& f : fibers_) f.state = READY;
            continue;
        }
        if (atBlock == live && live != n) {
            throw KernelFault("divergent __syncthreads in block " + std::to_string(block) + ": " + std::to_string(n - live)
                              + " threads exited while " + std::to_string(live) + " wait at the barrier (deadlock on a GPU)");
        }
        if (atBlock == live) {
            for (auto& f : fibers_) if (f.state == AT_BLOCK_BARRIER) f.state = READY;
            continue;
        }
        throw KernelFault("deadlock in block " + std::to_string(block)
                          + ": threads wait at different barriers (divergent __syncthreads or partial warp sync)");
    }
}

inline BlockRunner& runner() { return *tl_runner; }

/** The running fiber parks in state {@code s} and returns to the block scheduler. */
inline void BlockRunner::park(FiberState s) {
    Fiber* f = current;
    f->state = s;
    swapcontext(&f->ctx, &scheduler_);
}

inline const uint3& thread_index() { return runner().current->tid; }

/**
 * What every launch accepts: 1-D grids of at least one block, blocks of 1..1024 threads. A GPU
 * refuses a zero-size grid (cudaErrorInvalidConfiguration) rather than running nothing, so the
 * emulator does too: a host plan that could launch an empty grid must be caught here.
 */
inline void check_launch_shape(const dim3& grid, const dim3& block) {
    if (grid.y != 1 || grid.z != 1 || block.y != 1 || block.z != 1) throw InvalidConfiguration("emulator: only 1-D grids and blocks");
    if (grid.x == 0) throw InvalidConfiguration("launch of a zero-size grid");
    if (block.x == 0 || block.x > 1024) throw InvalidConfiguration("block size must be 1..1024");
}

/** Executes {@code body} for every thread of every block; returns after the whole grid is done. */
inline void launch(dim3 grid, dim3 block, std::function<void()> body) {
    check_launch_shape(grid, block);
    const Schedule schedule = static_cast<Schedule>(config().schedule.load());
    const unsigned seed = config().seed.load();
    unsigned workers = config().workers.load();
    if (workers == 0) {
        const char* env = std::getenv("LARS4J_EMU_WORKERS");
        workers = env ? static_cast<unsigned>(std::atoi(env)) : std::thread::hardware_concurrency();
        if (workers == 0) workers = 1;
    }
    if (workers > grid.x) workers = grid.x;
    std::atomic<unsigned> next{0};
    std::mutex faultLock;
    std::exception_ptr fault;   // the first fault, rethrown with its type (e.g. MisalignedAddress)
    auto work = [&]() {
        BlockRunner local;
        BlockRunner* saved = tl_runner;
        tl_runner = &local;
        try {
            for (unsigned b = next++; b < grid.x; b = next++) local.run_block(b, grid, block, body, schedule, seed);
        } catch (const std::exception&) {
            std::lock_guard<std::mutex> g(faultLock);
            if (!fault) fault = std::current_exception();
            next = grid.x;
        }
        tl_runner = saved;
    };
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < workers; i++) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
    if (fault) std::rethrow_exception(fault);
}

/**
 * A cooperative launch: every block runs at once on its own OS thread, so the kernel may call
 * grid_sync(). Like cudaLaunchCooperativeKernel, a grid larger than can be co-resident is
 * refused; here the limit is {@code maxBlocks} (the backend's stand-in for the occupancy limit).
 */
inline void launch_cooperative(dim3 grid, dim3 block, unsigned maxBlocks, std::function<void()> body) {
    check_launch_shape(grid, block);
    if (grid.x > maxBlocks) {
        throw KernelFault("cooperative launch of " + std::to_string(grid.x) + " blocks, more than the "
                          + std::to_string(maxBlocks) + " that can be co-resident");
    }
    const Schedule schedule = static_cast<Schedule>(config().schedule.load());
    const unsigned seed = config().seed.load();
    GridBarrier barrier(grid.x);
    std::mutex faultLock;
    std::exception_ptr fault;   // the first fault, rethrown with its type
    auto work = [&](unsigned b) {
        BlockRunner local;
        local.gridBarrier = &barrier;
        BlockRunner* saved = tl_runner;
        tl_runner = &local;
        try {
            local.run_block(b, grid, block, body, schedule, seed);
            barrier.block_ended();
        } catch (const std::exception& e) {
            {
                std::lock_guard<std::mutex> g(faultLock);
                if (!fault) fault = std::current_exception();
            }
            barrier.abort(e.what());
        }
        tl_runner = saved;
    };
    std::vector<std::thread> threads;
    for (unsigned b = 1; b < grid.x; b++) threads.emplace_back(work, b);
    work(0);
    for (auto& t : threads) t.join();
    if (fault) std::rethrow_exception(fault);
}

}  // namespace simt

#define threadIdx (::simt::thread_index())
#define blockIdx (::simt::runner().blockIdx)
#define blockDim (::simt::runner().blockDim)
#define gridDim (::simt::runner().gridDim)

inline void __syncthreads() { ::simt::runner().park(::simt::AT_BLOCK_BARRIER); }

/** cooperative_groups::this_grid().sync(): every thread of every block (cooperative launches only). */
inline void grid_sync() {
    if (::simt::runner().gridBarrier == nullptr) throw ::simt::KernelFault("grid_sync() outside a cooperative launch");
    ::simt::runner().park(::simt::AT_GRID_BARRIER);
}

inline void __syncwarp(unsigned mask = 0xffffffffu) {
    if (mask != 0xffffffffu) throw ::simt::KernelFault("emulator: __syncwarp supports only the full mask");
    ::simt::Fiber* f = ::simt::runner().current;
    f->warpSyncs++;
    ::simt::runner().park(::simt::AT_WARP_BARRIER);
}

/** Butterfly exchange within a full warp: returns the value of lane (lane ^ laneMask). */
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T value, int laneMask, int width = 32) {
    static_assert(sizeof(T) <= 8, "emulator: shuffles of at most 8 bytes");
    if (mask != 0xffffffffu || width != 32 || laneMask < 0 || laneMask > 31) {
        throw ::simt::KernelFault("emulator: __shfl_xor_sync supports only full warps (mask 0xffffffff, width 32)");
    }
    ::simt::BlockRunner& r = ::simt::runner();
    ::simt::Fiber* f = r.current;
    const unsigned lane = f->tid.x & 31u, warp = f->tid.x >> 5;
    const unsigned bank = f->warpSyncs++ & 1u;
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    r.slots[(bank * r.warps + warp) * 32 + lane] = bits;
    r.park(::simt::AT_WARP_BARRIER);
    T out;
    bits = r.slots[(bank * r.warps + warp) * 32 + (lane ^ static_cast<unsigned>(laneMask))];
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}

// Correctly rounded arithmetic, as CUDA's intrinsics. The translation unit is compiled with
// -ffp-contract=off so that g++ never fuses a separate multiply and add.
//
// NaN results: a GPU's fp32 arithmetic returns the canonical NaN (0x7fffffff) whatever NaN went
// in, where x86 keeps an operand's payload. The float intrinsics return the GPU's NaN, so that
// the emulator shows what a GPU writes; NaN payloads are outside the bitwise contract between
// engines (docs/EMULATOR.md), only NaN positions are compared. Finite results are untouched.
inline float gpu_nan_f32(float r) {
    if (r == r) return r;
    const uint32_t canonical = 0x7fffffffu;
    float out;
    std::memcpy(&out, &canonical, sizeof out);
    return out;
}
inline float __fmaf_rn(float a, float b, float c) { return gpu_nan_f32(std::fma(a, b, c)); }
inline float __fmul_rn(float a, float b) { return gpu_nan_f32(a * b); }
inline float __fadd_rn(float a, float b) { return gpu_nan_f32(a + b); }
inline float __fsub_rn(float a, float b) { return gpu_nan_f32(a - b); }
inline float __fdiv_rn(float a, float b) { return gpu_nan_f32(a / b); }
inline float __fsqrt_rn(float a) { return gpu_nan_f32(std::sqrt(a)); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline float __double2float_rn(double a) { return gpu_nan_f32(static_cast<float>(a)); }

// Self-test of the SIMT emulator (src/main/cpp/simt/simt_emulator.h): barriers, shuffles, shared
// memory, concurrency of blocks, and that planted races and missing barriers are caught by
// running the same kernel under different fiber schedules; and of its emulated CUDA runtime
// (simt/cuda_runtime_emu.h): asynchronous streams, the legacy default stream's semantics, events,
// and which call reports which error. Prints one line per check and a
// closing "N passed, M failed"; exits non-zero on any failure. Run by SimtEmulatorSelfTest.
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "simt/simt_emulator.h"
#include "simt/cuda_runtime_emu.h"
#include "simt.cuh"

static int passed = 0, failed = 0;

static void check(bool ok, const std::string& name) {
    std::printf("%s %s\n", ok ? "PASS" : "FAIL", name.c_str());
    (ok ? passed : failed)++;
}

// Correct: every thread writes, barrier, thread 0 reads all.
__global__ void sum_with_barrier(const float* in, float* out) {
    __shared__ float s[256];
    s[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    if (threadIdx.x == 0) {
        float acc = 0;
        for (unsigned i = 0; i < blockDim.x; i++) acc += s[i];
        out[blockIdx.x] = acc;
    }
}

// Planted bug: the same kernel without the barrier.
__global__ void sum_missing_barrier(const float* in, float* out) {
    __shared__ float s[256];
    s[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
    if (threadIdx.x == 0) {
        float acc = 0;
        for (unsigned i = 0; i < blockDim.x; i++) acc += s[i];
        out[blockIdx.x] = acc;
    }
}

// Planted race: every thread writes its id to one shared word, then reads it after a barrier.
__global__ void write_write_race(int* out) {
    __shared__ int word;
    word = static_cast<int>(threadIdx.x);
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = word;
}

// Butterfly over a full warp: every lane must end with the warp's sum.
__global__ void warp_butterfly(const double* in, double* out) {
    double v = in[threadIdx.x];
    for (int off = 16; off > 0; off >>= 1) v = v + __shfl_xor_sync(0xffffffffu, v, off);
    out[threadIdx.x] = v;
}

// Divergent barrier: only even threads reach __syncthreads.
__global__ void divergent_barrier(int* out) {
    if (threadIdx.x % 2 == 0) __syncthreads();
    out[threadIdx.x] = 1;
}

// Cooperative launch: block partials, a grid barrier, then every block reads all partials; three
// rounds (the barrier is reused), each doubling the data first.
__global__ void grid_total(float* data, float* partial, float* out) {
    __shared__ float s[256];
    for (int round = 0; round < 3; round++) {
        float* x = data + blockIdx.x * 256;
        x[threadIdx.x] *= 2.0f;
        s[threadIdx.x] = x[threadIdx.x];
        __syncthreads();
        if (threadIdx.x == 0) {
            float a = 0.0f;
            for (int i = 0; i < 256; i++) a += s[i];
            partial[blockIdx.x] = a;
        }
        grid_sync();
        if (threadIdx.x == 0) {
            float t = 0.0f;
            for (unsigned b = 0; b < gridDim.x; b++) t += partial[b];
            out[round * gridDim.x + blockIdx.x] = t;
        }
        grid_sync();   // nobody overwrites partial[] before every block has read it
        __syncthreads();
    }
}

// Block 0 returns while the others wait at the grid barrier: a deadlock on a GPU.
__global__ void grid_sync_after_exit(int* out) {
    if (blockIdx.x == 0) return;
    grid_sync();
    out[blockIdx.x] = 1;
}

// Half of a block's threads reach the grid barrier.
__global__ void divergent_grid_sync(int* out) {
    if (threadIdx.x < 32) grid_sync();
    out[blockIdx.x] = 1;
}

// One thread of block 0 stores 1 into *flag.
__global__ void set_flag(int* flag) {
    if (threadIdx.x == 0 && blockIdx.x == 0) *flag = 1;
}

// A 16-byte load at p (misaligned when p is not a multiple of 16 bytes).
__global__ void load_at(const float* p, float* out) {
    if (threadIdx.x == 0) out[0] = load4(p).x;
}

namespace rt = lars4j::emu_cuda;

// A stream held by a host function until the flag opens (what a long kernel does).
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
};
static void wait_gate(void* p) {
    Gate* g = static_cast<Gate*>(p);
    std::unique_lock<std::mutex> lock(g->m);
    g->cv.wait(lock, [&] { return g->open; });
}
static void open_gate(Gate& g) {
    std::lock_guard<std::mutex> lock(g.m);
    g.open = true;
    g.cv.notify_all();
}

template <typename... Exp, typename... Act>
static rt::cudaError_t launch_on(rt::cudaStream_t s, unsigned grid, void (*kernel)(Exp...), Act&&... args) {
    rt::cudaLaunchConfig_t c{};
    c.grid = dim3(grid);
    c.block = dim3(32);
    c.stream = s;
    return rt::cudaLaunchKernelEx(&c, kernel, std::forward<Act>(args)...);
}

static void runtime_checks() {
    using namespace lars4j::emu_cuda;
    cudaStream_t nonBlocking = nullptr, blocking = nullptr, other = nullptr;
    cudaStreamCreateWithFlags(&nonBlocking, cudaStreamNonBlocking);
    cudaStreamCreateWithFlags(&blocking, cudaStreamDefault);
    cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking);
    int* flag = nullptr;
    cudaMalloc(reinterpret_cast<void**>(&flag), sizeof(int));

    // The legacy stream does not wait for a held non-blocking stream...
    {
        Gate g;
        *flag = 0;
        cudaLaunchHostFunc(nonBlocking, wait_gate, &g);
        launch_on(nonBlocking, 1, set_flag, flag);
        const bool legacyReturned = cudaStreamSynchronize(nullptr) == cudaSuccess;
        check(legacyReturned && *flag == 0, "the legacy stream does not wait for a non-blocking stream");
        open_gate(g);
        cudaStreamSynchronize(nonBlocking);
        check(*flag == 1, "a non-blocking stream runs its work once released");
    }
    // ...but does wait for a blocking one (released by a thread after 100 ms).
    {
        Gate g;
        *flag = 0;
        cudaLaunchHostFunc(blocking, wait_gate, &g);
        launch_on(blocking, 1, set_flag, flag);
        std::thread opener([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            open_gate(g);
        });
        cudaStreamSynchronize(nullptr);
        check(*flag == 1, "the legacy stream waits for a blocking stream's earlier work");
        opener.join();
    }
    // An event orders work across streams.
    {
        Gate g;
        cudaEvent_t e = nullptr;
        cudaEventCreateWithFlags(&e, cudaEventDisableTiming);
        *flag = 0;
        cudaLaunchHostFunc(nonBlocking, wait_gate, &g);
        launch_on(nonBlocking, 1, set_flag, flag);
        cudaEventRecord(e, nonBlocking);
        cudaStreamWaitEvent(other, e, 0);
        int seen = -1;
        int* seenAt = &seen;
        const int* flagAt = flag;
        cudaLaunchHostFunc(other, [](void* p) { auto* q = static_cast<std::pair<int*, const int*>*>(p); *q->first = *q->second; },
                           new std::pair<int*, const int*>(seenAt, flagAt));
        open_gate(g);
        cudaStreamSynchronize(other);
        check(seen == 1, "work after cudaStreamWaitEvent sees the work before the event's record");
        cudaEventDestroy(e);
    }
    // Launch errors: returned by the launch that caused them, not by a later good one.
    {
        cudaGetLastError();
        check(launch_on(nonBlocking, 0, set_flag, flag) == cudaErrorInvalidConfiguration, "a zero-size grid is a launch error");
        check(launch_on(nonBlocking, 1, set_flag, flag) == cudaSuccess, "a good launch after a refused one returns success");
        check(cudaGetLastError() == cudaErrorInvalidConfiguration && cudaGetLastError() == cudaSuccess,
              "cudaGetLastError still reports (and clears) the earlier refusal");
        cudaStreamSynchronize(nonBlocking);
    }
    // A misaligned 16-byte load faults when it runs, reported by the next synchronisation.
    {
        float* buf = nullptr;
        cudaMalloc(reinterpret_cast<void**>(&buf), 64);
        std::memset(buf, 0, 64);
        const bool launched = launch_on(nonBlocking, 1, load_at, static_cast<const float*>(buf + 1), buf + 8) == cudaSuccess;
        check(launched && cudaStreamSynchronize(nonBlocking) == cudaErrorMisalignedAddress,
              "a misaligned 16-byte load faults, reported at the next synchronisation");
        check(launch_on(nonBlocking, 1, load_at, static_cast<const float*>(buf + 4), buf + 8) == cudaSuccess
                  && cudaStreamSynchronize(nonBlocking) == cudaSuccess,
              "an aligned one does not");
        cudaFree(buf);
    }
    cudaFree(flag);
    cudaStreamDestroy(nonBlocking);
    cudaStreamDestroy(blocking);
    cudaStreamDestroy(other);
}

template <typename F>
static std::string fault_of(F launch) {
    try {
        launch();
    } catch (const simt::KernelFault& e) {
        return e.what();
    }
    return "";
}

template <typename F>
static std::vector<float> run_sum(F kernel, const std::vector<float>& in, int blocks, simt::Schedule s) {
    std::vector<float> out(blocks, -1.0f);
    simt::set_schedule(s, 7);
    const float* pin = in.data();
    float* pout = out.data();
    simt::launch(dim3(blocks), dim3(256), [=] { kernel(pin, pout); });
    return out;
}

int main() {
    const int blocks = 64;
    std::vector<float> in(blocks * 256);
    for (size_t i = 0; i < in.size(); i++) in[i] = static_cast<float>((i * 37) % 101) - 50.0f;
    std::vector<float> expect(blocks, 0.0f);
    for (int b = 0; b < blocks; b++)
        for (int i = 0; i < 256; i++) expect[b] += in[b * 256 + i];

    for (auto s : {simt::Schedule::Forward, simt::Schedule::Reverse, simt::Schedule::Shuffled}) {
        check(run_sum(sum_with_barrier, in, blocks, s) == expect,
              "barrier kernel correct on 64 concurrent blocks, schedule " + std::to_string(static_cast<int>(s)));
    }
    auto fwd = run_sum(sum_missing_barrier, in, blocks, simt::Schedule::Forward);
    auto rev = run_sum(sum_missing_barrier, in, blocks, simt::Schedule::Reverse);
    check(fwd != rev && (fwd != expect || rev != expect), "missing __syncthreads changes the result across schedules");

    std::vector<int> a(4), b(4);
    simt::set_schedule(simt::Schedule::Forward, 1);
    int* pa = a.data();
    simt::launch(dim3(4), dim3(128), [=] { write_write_race(pa); });
    simt::set_schedule(simt::Schedule::Reverse, 1);
    int* pb = b.data();
    simt::launch(dim3(4), dim3(128), [=] { write_write_race(pb); });
    check(a != b, "write-write race on shared memory changes the result across schedules");

    std::vector<double> win(32), wout(32);
    double sum = 0;
    for (int i = 0; i < 32; i++) { win[i] = 1.0 / (i + 1); }
    // The butterfly's own order, for bitwise comparison: pairs (i, i^16), then (.., ^8), ...
    std::vector<double> t = win;
    for (int off = 16; off > 0; off >>= 1) {
        std::vector<double> n(32);
        for (int i = 0; i < 32; i++) n[i] = t[i] + t[i ^ off];
        t = n;
    }
    sum = t[0];
    bool allSame = true;
    for (auto s : {simt::Schedule::Forward, simt::Schedule::Reverse, simt::Schedule::Shuffled}) {
        simt::set_schedule(s, 3);
        const double* pi = win.data();
        double* po = wout.data();
        simt::launch(dim3(1), dim3(32), [=] { warp_butterfly(pi, po); });
        for (int i = 0; i < 32; i++) allSame = allSame && wout[i] == sum;
    }
    check(allSame, "__shfl_xor_sync butterfly: every lane holds the same bits under every schedule");

    bool faulted = false;
    std::vector<int> d(64);
    try {
        int* pd = d.data();
        simt::launch(dim3(1), dim3(64), [=] { divergent_barrier(pd); });
    } catch (const simt::KernelFault& e) {
        faulted = std::string(e.what()).find("divergent __syncthreads") != std::string::npos;
    }
    check(faulted, "divergent __syncthreads is reported as a kernel fault");

    // Grid-wide sync in a cooperative launch: 8 blocks, each on its own OS thread.
    for (auto s : {simt::Schedule::Forward, simt::Schedule::Shuffled}) {
        const unsigned gb = 8;
        std::vector<float> data(gb * 256), partial(gb), out(3 * gb, -1.0f);
        for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<float>(i % 7);
        std::vector<float> want(3);
        std::vector<float> ref = data;
        for (int r = 0; r < 3; r++) {
            std::vector<float> part(gb, 0.0f);
            for (unsigned b = 0; b < gb; b++)
                for (int i = 0; i < 256; i++) part[b] += (ref[b * 256 + i] *= 2.0f);
            want[r] = 0.0f;
            for (unsigned b = 0; b < gb; b++) want[r] += part[b];
        }
        simt::set_schedule(s, 5);
        float* pd = data.data();
        float* pp = partial.data();
        float* po = out.data();
        const std::string f = fault_of([&] { simt::launch_cooperative(dim3(gb), dim3(256), gb, [=] { grid_total(pd, pp, po); }); });
        bool ok = f.empty();
        for (int r = 0; r < 3; r++)
            for (unsigned b = 0; b < gb; b++) ok = ok && out[r * gb + b] == want[r];
        check(ok, "grid_sync: every block sees every block's partial, three rounds, schedule " + std::to_string(static_cast<int>(s)));
    }
    std::vector<int> gi(8);
    int* pg = gi.data();
    check(fault_of([=] { simt::launch_cooperative(dim3(8), dim3(64), 8, [=] { grid_sync_after_exit(pg); }); }).find("have exited")
              != std::string::npos,
          "grid_sync after a block exited is reported as a kernel fault");
    check(fault_of([=] { simt::launch_cooperative(dim3(4), dim3(64), 8, [=] { divergent_grid_sync(pg); }); }).find("divergent grid sync")
              != std::string::npos,
          "divergent grid_sync is reported as a kernel fault");
    check(fault_of([=] { simt::launch_cooperative(dim3(9), dim3(64), 8, [=] { divergent_grid_sync(pg); }); }).find("co-resident")
              != std::string::npos,
          "a cooperative grid larger than can be co-resident is refused");
    check(fault_of([=] { simt::launch(dim3(2), dim3(64), [=] { divergent_grid_sync(pg); }); }).find("outside a cooperative launch")
              != std::string::npos,
          "grid_sync outside a cooperative launch is reported as a kernel fault");

    runtime_checks();

    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

// The SIMT-emulator backend: "device" memory is host memory, launches run the CUDA kernel source
// (src/main/cuda/lars_kernels.cuh) compiled by g++ on the CPU, synchronously.
#pragma once

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lars4j_backend.h"
#include "lamb_kernels.cuh"

namespace lars4j {

/**
 * The emulator's graphs: the recorded work of a capture. Process-wide, like CUDA's, because
 * every plan and every utility call has its own EmulatorBackend object.
 */
struct EmulatedGraph {
    std::vector<std::function<void()>> work;
};

class EmulatorBackend final : public Backend {
public:
    int alloc(void** p, size_t bytes) override {
        *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
        return *p ? kOk : kOutOfHostMemory;
    }
    int release(void* p) override { std::free(p); return kOk; }
    int allocHost(void** p, size_t bytes) override { return alloc(p, bytes); }
    int releaseHost(void* p) override { return release(p); }
    int copy(void* dst, const void* src, size_t bytes, CopyKind kind, void* stream) override {
        // Under capture only device-to-device copies: a recorded copy from host memory would read
        // it at replay, when it may be gone (CUDA refuses pageable copies in a capture too).
        if (kind != kDeviceToDevice && capturing(stream)) return fail("host copy on a stream that is being captured");
        if (bytes) submit(stream, [=] { std::memmove(dst, src, bytes); });
        return kOk;
    }
    int sync(void* stream) override {
        // As in CUDA: a stream being captured cannot be waited for.
        if (capturing(stream)) return fail("synchronize on a stream that is being captured");
        return kOk;
    }

    /** Stand-in for the occupancy limit: LARS4J_EMU_COOP_BLOCKS, default 6 (one OS thread each). */
    int cooperativeLimit() override {
        const char* env = std::getenv("LARS4J_EMU_COOP_BLOCKS");
        const int n = env ? std::atoi(env) : 6;
        return n > 0 ? n : 0;
    }

    int launchLarsF32(const kernels::LarsTables& t, const kernels::LarsConsts& c,
                      const kernels::TensorRefs<float, float>& refs, kernels::StepParams* params,
                      int tiles, int segments, void* stream) override {
        using namespace kernels;
        try {
            if (c.cooperative > 0) {
                const unsigned limit = static_cast<unsigned>(cooperativeLimit());
                submit(stream, [=] {
                    simt::launch_cooperative(dim3(c.cooperative), dim3(THREADS), limit,
                                             [=] { lars_step_cooperative<float, float>(t, c, refs, params, tiles, segments); });
                });
                return kOk;
            }
            submit(stream, [=] { simt::launch(dim3(tiles), dim3(THREADS), [=] { lars_tile_norms<float, float>(t, refs, c.vectorLoads, params); }); });
            submit(stream, [=] { simt::launch(dim3(segments), dim3(THREADS), [=] { lars_segment_scalars(t, c, params); }); });
            submit(stream, [=] { simt::launch(dim3(tiles), dim3(THREADS), [=] { lars_update<float, float>(t, c, refs, params); }); });
        } catch (const std::exception& e) {
            fault_ = e.what();
            return kEmulatorFault;
        }
        return kOk;
    }

    int launchLambF32(const kernels::LarsTables& nt, const kernels::LambTables& t, const kernels::LambConsts& c,
                      const kernels::TensorRefs<float, float>& refs, kernels::LambStepParams* params, bool gradNormPass,
                      int tiles, int segments, void* stream) override {
        using namespace kernels;
        try {
            if (gradNormPass) {
                submit(stream, [=] { simt::launch(dim3(tiles), dim3(THREADS), [=] { lars_tile_norms<float, float>(nt, refs, c.vectorLoads, nullptr); }); });
                submit(stream, [=] { simt::launch(dim3(segments), dim3(THREADS), [=] { lamb_segment_gsum(t); }); });
                submit(stream, [=] { simt::launch(dim3(1), dim3(THREADS), [=] { lamb_global(t, c, params, segments); }); });
            }
            submit(stream, [=] { simt::launch(dim3(tiles), dim3(THREADS), [=] { lamb_moments<float, float>(t, c, refs, params); }); });
            submit(stream, [=] { simt::launch(dim3(segments), dim3(THREADS), [=] { lamb_segment_scalars(t, c, params); }); });
            submit(stream, [=] { simt::launch(dim3(tiles), dim3(THREADS), [=] { lamb_apply<float, float>(t, c, refs, params); }); });
        } catch (const std::exception& e) {
            fault_ = e.what();
            return kEmulatorFault;
        }
        return kOk;
    }

    int timeMs(const std::function<int()>& work, void*, float* ms) override {
        auto t0 = std::chrono::steady_clock::now();
        int e = work();
        auto t1 = std::chrono::steady_clock::now();
        *ms = std::chrono::duration<float, std::milli>(t1 - t0).count();
        return e;
    }

    // Streams are tokens (launches run synchronously anyway); captures record into a graph.
    int streamCreate(void** stream) override {
        *stream = new char(0);
        return kOk;
    }
    int streamDestroy(void* stream) override {
        if (capturing(stream)) return fail("destroy of a stream that is being captured");
        delete static_cast<char*>(stream);
        return kOk;
    }
    int beginCapture(void* stream) override {
        if (!stream) return fail("capture of the default stream");
        std::lock_guard<std::mutex> lock(registryLock());
        auto& open = captures();
        if (open.count(stream)) return fail("capture begun twice on one stream");
        open[stream] = std::make_unique<EmulatedGraph>();
        return kOk;
    }
    int endCapture(void* stream, void** graphExec) override {
        std::lock_guard<std::mutex> lock(registryLock());
        auto& open = captures();
        auto it = open.find(stream);
        if (it == open.end()) return fail("end of a capture that was not begun");
        *graphExec = it->second.release();
        open.erase(it);
        return kOk;
    }
    int graphLaunch(void* graphExec, void* stream) override {
        auto* graph = static_cast<EmulatedGraph*>(graphExec);
        try {
            for (auto& w : graph->work) submit(stream, w);
        } catch (const std::exception& e) {
            fault_ = e.what();
            return kEmulatorFault;
        }
        return kOk;
    }
    int graphDestroy(void* graphExec) override {
        delete static_cast<EmulatedGraph*>(graphExec);
        return kOk;
    }

    bool hostIsDevice() const override { return true; }

    std::string errorName(int code) const override {
        if (code == kOk) return "success";
        if (code == kEmulatorFault) return "emulatorKernelFault";
        if (code == kOutOfHostMemory) return "emulatorOutOfHostMemory";
        return "emulatorError" + std::to_string(code);
    }

    std::string lastFault() const override { return fault_; }

private:
    static std::mutex& registryLock() {
        static std::mutex m;
        return m;
    }
    static std::map<void*, std::unique_ptr<EmulatedGraph>>& captures() {
        static std::map<void*, std::unique_ptr<EmulatedGraph>> open;
        return open;
    }
    static bool capturing(void* stream) {
        std::lock_guard<std::mutex> lock(registryLock());
        return stream && captures().count(stream) != 0;
    }
    /** Runs work now, or records it (with the values it captured) if its stream is being captured. */
    static void submit(void* stream, std::function<void()> work) {
        if (stream) {
            std::lock_guard<std::mutex> lock(registryLock());
            auto it = captures().find(stream);
            if (it != captures().end()) {
                it->second->work.push_back(std::move(work));
                return;
            }
        }
        work();
    }
    int fail(const char* what) {
        fault_ = what;
        return kEmulatorFault;
    }

    std::string fault_;
};

}  // namespace lars4j

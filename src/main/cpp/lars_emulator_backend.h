// The SIMT-emulator backend: "device" memory is host memory, launches run the CUDA kernel source
// (src/main/cuda/lars_kernels.cuh) compiled by g++ on the CPU, synchronously.
#pragma once

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "lars4j_backend.h"
#include "lamb_kernels.cuh"

namespace lars4j {

class EmulatorBackend final : public Backend {
public:
    int alloc(void** p, size_t bytes) override {
        *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
        return *p ? kOk : kOutOfHostMemory;
    }
    int release(void* p) override { std::free(p); return kOk; }
    int allocHost(void** p, size_t bytes) override { return alloc(p, bytes); }
    int releaseHost(void* p) override { return release(p); }
    int copy(void* dst, const void* src, size_t bytes, CopyKind, void*) override {
        if (bytes) std::memmove(dst, src, bytes);
        return kOk;
    }
    int sync(void*) override { return kOk; }

    /** Stand-in for the occupancy limit: LARS4J_EMU_COOP_BLOCKS, default 6 (one OS thread each). */
    int cooperativeLimit() override {
        const char* env = std::getenv("LARS4J_EMU_COOP_BLOCKS");
        const int n = env ? std::atoi(env) : 6;
        return n > 0 ? n : 0;
    }

    int launchLarsF32(const kernels::LarsTables& t, const kernels::LarsConsts& c,
                      const kernels::TensorRefs<float, float>& refs, kernels::StepParams* params,
                      int tiles, int segments, void*) override {
        using namespace kernels;
        try {
            if (c.cooperative > 0) {
                simt::launch_cooperative(dim3(c.cooperative), dim3(THREADS), static_cast<unsigned>(cooperativeLimit()),
                                         [=] { lars_step_cooperative<float, float>(t, c, refs, params, tiles, segments); });
                return kOk;
            }
            simt::launch(dim3(tiles), dim3(THREADS), [=] { lars_tile_norms<float, float>(t, refs, c.vectorLoads, params); });
            simt::launch(dim3(segments), dim3(THREADS), [=] { lars_segment_scalars(t, c, params); });
            simt::launch(dim3(tiles), dim3(THREADS), [=] { lars_update<float, float>(t, c, refs, params); });
        } catch (const std::exception& e) {
            fault_ = e.what();
            return kEmulatorFault;
        }
        return kOk;
    }

    int launchLambF32(const kernels::LarsTables& nt, const kernels::LambTables& t, const kernels::LambConsts& c,
                      const kernels::TensorRefs<float, float>& refs, kernels::LambStepParams* params, bool gradNormPass,
                      int tiles, int segments, void*) override {
        using namespace kernels;
        try {
            if (gradNormPass) {
                simt::launch(dim3(tiles), dim3(THREADS), [=] { lars_tile_norms<float, float>(nt, refs, c.vectorLoads, nullptr); });
                simt::launch(dim3(segments), dim3(THREADS), [=] { lamb_segment_gsum(t); });
                simt::launch(dim3(1), dim3(THREADS), [=] { lamb_global(t, c, params, segments); });
            }
            simt::launch(dim3(tiles), dim3(THREADS), [=] { lamb_moments<float, float>(t, c, refs, params); });
            simt::launch(dim3(segments), dim3(THREADS), [=] { lamb_segment_scalars(t, c, params); });
            simt::launch(dim3(tiles), dim3(THREADS), [=] { lamb_apply<float, float>(t, c, refs, params); });
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

    bool hostIsDevice() const override { return true; }

    std::string errorName(int code) const override {
        if (code == kOk) return "success";
        if (code == kEmulatorFault) return "emulatorKernelFault";
        if (code == kOutOfHostMemory) return "emulatorOutOfHostMemory";
        return "emulatorError" + std::to_string(code);
    }

    std::string lastFault() const override { return fault_; }

private:
    std::string fault_;
};

}  // namespace lars4j

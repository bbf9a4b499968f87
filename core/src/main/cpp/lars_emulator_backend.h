// The emulator backend: the CUDA backend's own source (src/main/cuda/cuda_runtime_backend.inc)
// compiled by g++ against the emulated CUDA runtime (simt/cuda_runtime_emu.h), whose "device"
// memory is host memory and whose kernels are the CUDA kernel source run by the SIMT emulator.
// Streams run asynchronously there, as on a GPU, so the host plan's stream ordering is tested.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

#include "lars4j_backend.h"
#include "lamb_kernels.cuh"
#include "simt/cuda_runtime_emu.h"

namespace lars4j {
namespace emu_cuda {

inline cudaLaunchConfig_t makeLaunchConfig(dim3 grid, dim3 block, cudaStream_t stream) {
    cudaLaunchConfig_t c{};
    c.grid = grid;
    c.block = block;
    c.dynamicSmemBytes = 0;
    c.stream = stream;
    c.attrs = nullptr;
    c.numAttrs = 0;
    return c;
}

inline std::string faultDetailOf(int code) { return emuDetail(code); }

inline std::string errorNameOf(int code) {
    if (code == kOutOfHostMemory) return "outOfHostMemory";
    return cudaGetErrorName(static_cast<cudaError_t>(code));
}

#include "cuda_runtime_backend.inc"

}  // namespace emu_cuda

using EmulatorBackend = emu_cuda::CudaRuntimeBackend;

}  // namespace lars4j

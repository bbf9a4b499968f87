// The emulator build: the CUDA backend's own source (src/main/cuda/cuda_runtime_backend.inc)
// compiled by g++ against the emulated CUDA runtime (simt/cuda_runtime_emu.h), whose "device"
// memory is host memory and whose kernels are the CUDA kernel source run by the SIMT emulator;
// and the rules with their kernels compiled for the emulator. Streams run asynchronously there,
// as on a GPU, so the host plan's stream ordering is tested.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

#include "lars4j_backend.h"
#include "rules/registry.cuh"
#include "simt/cuda_runtime_emu.h"

namespace lars4j {
namespace emu_cuda {

#include "cuda_runtime_backend.inc"

}  // namespace emu_cuda

using EmulatorBackend = emu_cuda::CudaRuntimeBackend;

/** Rule {@code rule} with its kernels built for the emulator; null for an unknown id. */
inline NativeRule* createEmulatorRule(int rule) { return kernels::emu::newRule(rule); }

}  // namespace lars4j

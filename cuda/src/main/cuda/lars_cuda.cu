// The GPU build: the CUDA backend on the CUDA runtime (its body, cuda_runtime_backend.inc, is
// shared with the emulator build so that CI runs the same host code) and the rules with their
// kernels compiled for the GPU. Compiled by nvcc (SASS for sm_80 and sm_90, plus PTX); linked
// with cudart_static so the JNI library loads on machines without a driver and reports it instead.
#include <cuda_runtime.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

#include "lars4j_backend.h"
#include "rules/registry.cuh"

namespace lars4j {
namespace {

#include "cuda_runtime_backend.inc"

}  // namespace

Backend* createCudaBackend(int* status) {
    int e = cudaProbe();
    *status = e;
    return e == cudaSuccess ? new CudaRuntimeBackend() : nullptr;
}

NativeRule* createCudaRule(int rule) { return kernels::newRule(rule); }

int cudaProbe() {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return e;
    return count > 0 ? cudaSuccess : cudaErrorNoDevice;
}

std::string cudaErrorName(int code) {
    const std::string own = libraryErrorName(code);
    return own.empty() ? cudaGetErrorName(static_cast<cudaError_t>(code)) : own;
}

}  // namespace lars4j

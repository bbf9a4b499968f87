// The CUDA backend on the CUDA runtime: its body (cuda_runtime_backend.inc) is shared with the
// emulator build, so that CI runs the same host code. Compiled by nvcc (SASS for sm_80 and sm_90,
// plus PTX); linked with cudart_static so the JNI library loads on machines without a driver and
// reports it instead.
#include <cuda_runtime.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

#include "lars4j_backend.h"
#include "lamb_kernels.cuh"

namespace lars4j {
namespace {

inline cudaLaunchConfig_t makeLaunchConfig(dim3 grid, dim3 block, cudaStream_t stream) {
    cudaLaunchConfig_t c = {};
    c.gridDim = grid;
    c.blockDim = block;
    c.dynamicSmemBytes = 0;
    c.stream = stream;
    c.attrs = nullptr;
    c.numAttrs = 0;
    return c;
}

inline std::string faultDetailOf(int) { return std::string(); }

inline std::string errorNameOf(int code) { return cudaErrorName(code); }

#include "cuda_runtime_backend.inc"

}  // namespace

Backend* createCudaBackend(int* status) {
    int e = cudaProbe();
    *status = e;
    return e == cudaSuccess ? new CudaRuntimeBackend() : nullptr;
}

int cudaProbe() {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return e;
    return count > 0 ? cudaSuccess : cudaErrorNoDevice;
}

std::string cudaErrorName(int code) {
    if (code == kNotBuiltWithCuda) return "notBuiltWithCuda";
    if (code == kEmulatorFault) return "emulatorFault";
    if (code == kOutOfHostMemory) return "outOfHostMemory";
    return cudaGetErrorName(static_cast<cudaError_t>(code));
}

}  // namespace lars4j

// Built instead of src/main/cuda/lars_cuda.cu when nvcc is not on the PATH: the library still
// loads, the emulator works, and the CUDA engine says why it cannot run.
#include "lars4j_backend.h"

namespace lars4j {

Backend* createCudaBackend(int* status) {
    *status = kNotBuiltWithCuda;
    return nullptr;
}

NativeRule* createCudaRule(int) { return nullptr; }

int cudaProbe() { return kNotBuiltWithCuda; }

std::string cudaErrorName(int code) {
    const std::string own = libraryErrorName(code);
    return own.empty() ? "cudaError" + std::to_string(code) : own;
}

}  // namespace lars4j

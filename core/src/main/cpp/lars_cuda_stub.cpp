// Built instead of src/main/cuda/lars_cuda.cu when nvcc is not on the PATH: the library still
// loads, the emulator works, and the CUDA engine says why it cannot run.
#include "lars4j_backend.h"

namespace lars4j {

Backend* createCudaBackend(int* status) {
    *status = kNotBuiltWithCuda;
    return nullptr;
}

int cudaProbe() { return kNotBuiltWithCuda; }

std::string cudaErrorName(int code) {
    if (code == kNotBuiltWithCuda) return "notBuiltWithCuda (nvcc was not found when this library was built)";
    if (code == kEmulatorFault) return "emulatorFault";
    if (code == kOutOfHostMemory) return "outOfHostMemory";
    return "cudaError" + std::to_string(code);
}

}  // namespace lars4j

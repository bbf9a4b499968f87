// Portability layer: the kernels in this folder compile either with nvcc for a GPU, or with g++
// against the project's SIMT emulator (src/main/cpp/simt/simt_emulator.h) for the CPU.
// Kernels may use only what the emulator supports; the list is at the top of that header.
#pragma once

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#define LARS4J_ISFINITE(x) isfinite(x)
#define LARS4J_QNAN() __longlong_as_double(0x7ff8000000000000ULL)
#else
#include <limits>
#include "simt/simt_emulator.h"
#define LARS4J_ISFINITE(x) std::isfinite(x)
#define LARS4J_QNAN() std::numeric_limits<double>::quiet_NaN()
#endif

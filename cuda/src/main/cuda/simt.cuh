// Portability layer: the kernels in this folder compile either with nvcc for a GPU, or with g++
// against the project's SIMT emulator (src/main/cpp/simt/simt_emulator.h) for the CPU.
// Kernels may use only what the emulator supports; the list is at the top of that header.
#pragma once

#include <cstdint>

// The GPU and emulator builds of the kernels (and of each rule's host code, which names them) live
// in distinct inline namespaces, so that both can be linked into one library without clashing.
#if defined(__CUDACC__)
#define LARS4J_KERNEL_BUILD gpu
#else
#define LARS4J_KERNEL_BUILD emu
#endif

#if defined(__CUDACC__)
#include <cooperative_groups.h>
#include <cuda_runtime.h>
#define LARS4J_ISFINITE(x) isfinite(x)
/** Grid-wide barrier with memory ordering; only in kernels started by cudaLaunchCooperativeKernel. */
__device__ __forceinline__ void grid_sync() { cooperative_groups::this_grid().sync(); }
#define LARS4J_QNAN() __longlong_as_double(0x7ff8000000000000ULL)
/** 16-byte load and store of four floats (the address must be 16-byte aligned). */
__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ void store4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }
#else
#include <cstring>
#include <limits>
#include "simt/simt_emulator.h"
#define LARS4J_ISFINITE(x) std::isfinite(x)
#define LARS4J_QNAN() std::numeric_limits<double>::quiet_NaN()
struct alignas(16) float4 { float x, y, z, w; };
// A GPU faults on a 16-byte access that is not 16-byte aligned (cudaErrorMisalignedAddress, reported
// at the next synchronisation); so does the emulator, so that a missing alignment check shows in CI.
inline void check_aligned16(const float* p) {
    if (reinterpret_cast<std::uintptr_t>(p) & 15u) throw ::simt::MisalignedAddress("misaligned 16-byte access");
}
inline float4 load4(const float* p) { check_aligned16(p); float4 v; std::memcpy(&v, p, sizeof v); return v; }
inline void store4(float* p, float4 v) { check_aligned16(p); std::memcpy(p, &v, sizeof v); }
#endif

/** True when every pointer is 16-byte aligned, so float4 loads may be used. */
__device__ __forceinline__ bool aligned16(const void* a, const void* b, const void* c) {
    return ((reinterpret_cast<std::uintptr_t>(a) | reinterpret_cast<std::uintptr_t>(b) | reinterpret_cast<std::uintptr_t>(c)) & 15u) == 0;
}

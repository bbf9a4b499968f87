// Segmented canonical sum of squares: for each segment of a model, the sum of its elements'
// squares, in float64, computed in the one order every lars4j engine follows
// (docs/CANONICAL_ORDER.md), so that the result is the same bits on a GPU, on the emulator and in
// the Java engine. Shaped like CUB's DeviceSegmentedReduce::Sum: segment offsets (here the tile
// table and the walk of kernel_abi.h, built once per plan) in, one float64 per segment out, with
// caller-provided temporary storage (one float per tile).
//
// Two stages, each a plain launch:
//   1. sum_squares_tiles     per tile (4096 elements at most): 1024 float32 lanes, lane i
//                            accumulating fma(x, x, acc) over elements i + 1024 r, r = 0..3 in
//                            order; then s_j = (a0 + a1) + (a2 + a3) per thread and a fixed
//                            block tree (a butterfly in each warp, then warp 0 over the 8 warp
//                            sums): one float32 partial per tile;
//   2. sum_squares_segments  per segment: thread j sums partials j, j + 256, ... in float64, then
//                            the same block tree in float64.
//
// Worked example: three segments of 5000, 3 and 4096 elements.
//   tiles          seg 0: tile 0 (elements 0..4095), tile 1 (4096..4999, 904 elements);
//                  seg 1: tile 2 (3 elements); seg 2: tile 3 (4096 elements)
//   work items     {tile 0}, {tiles 1, 2} (904 + 3 elements fit one block's 4096), {tile 3}
//   segment items  {segs 0, 1, 2} (4 tiles, 3 segments: one block)
//   stage 1        partial[0..3]: four float32 partials, partial[2] is fma(x2, x2, fma(x1, x1,
//                  fma(x0, x0, 0))) split over lanes 0..2 and summed by the tree
//   stage 2        out[0] = (double) partial[0] + (double) partial[1] (threads 0 and 1, then the
//                  tree: exact additions of zeros); out[1] = partial[2]; out[2] = partial[3]
//
// The block-level pieces (SquareLanes, block_tree, segment_total) are what a rule fuses into its
// own passes when it needs several sums from one read of the data (LARS's norm pass: w^2, g^2 and
// (g + lam w)^2 of a tile together; LAMB's moments pass: r^2 and w^2); the kernels below are the
// stand-alone reduction of one tensor (LAMB's gradient-norm pass).
#pragma once

#include <type_traits>

#include "kernel_abi.h"
#include "launch.cuh"
#include "primitives/gradient_centralization.cuh"
#include "primitives/tile_walk.cuh"
#include "simt.cuh"

namespace lars4j {
namespace kernels {
inline namespace LARS4J_KERNEL_BUILD {

__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

/**
 * The canonical block tree: a butterfly inside each warp (off = 16..1), then warp 0 combines the
 * 8 warp sums (off = 4, 2, 1). The result is valid in thread 0. {@code warpSums} is 8 entries of
 * shared memory; the trailing barrier lets the caller reuse it at once.
 */
template <typename T>
__device__ __forceinline__ T block_tree(T s, T* warpSums) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    for (int off = 16; off > 0; off >>= 1) s = add_rn(s, __shfl_xor_sync(FULL, s, off));
    if (lane == 0) warpSums[warp] = s;
    __syncthreads();
    T r = T(0);
    if (warp == 0) {
        r = lane < THREADS / 32 ? warpSums[lane] : T(0);
        for (int off = 4; off > 0; off >>= 1) r = add_rn(r, __shfl_xor_sync(FULL, r, off));
    }
    __syncthreads();
    return r;
}

/** A thread's four canonical lanes of one sum of squares (stage 1). */
struct SquareLanes {
    float a[4] = {0.f, 0.f, 0.f, 0.f};

    /** Element x at lane q of this thread. */
    __device__ __forceinline__ void add(int q, float x) { a[q] = __fmaf_rn(x, x, a[q]); }

    /** One round of four elements at once: components x..w are lanes q = 0..3. */
    __device__ __forceinline__ void add4(float4 x) {
        a[0] = __fmaf_rn(x.x, x.x, a[0]);
        a[1] = __fmaf_rn(x.y, x.y, a[1]);
        a[2] = __fmaf_rn(x.z, x.z, a[2]);
        a[3] = __fmaf_rn(x.w, x.w, a[3]);
    }

    /** The tile's partial, valid in thread 0: s_j = (a0 + a1) + (a2 + a3), then the block tree. */
    __device__ __forceinline__ float tile_total(float* warpSums) const {
        return block_tree(__fadd_rn(__fadd_rn(a[0], a[1]), __fadd_rn(a[2], a[3])), warpSums);
    }
};

/** Stage 2 for one segment: thread j sums partials j, j + 256, ... in float64, then the tree (valid in thread 0). */
__device__ __forceinline__ double segment_total(const float* part, int first, int count, double* warpSums) {
    double acc = 0.0;
    for (int k = threadIdx.x; k < count; k += THREADS) acc = __dadd_rn(acc, static_cast<double>(part[first + k]));
    return block_tree(acc, warpSums);
}

/** The input of the stand-alone reduction: one tensor, in flat (base) or list (table) form. */
template <typename T>
struct SumSquaresInput {
    const T* const* table;   // null: base + segOffset[seg]
    const T* base;
    CentringTables gc;       // a gradient under gradient centralization: the squares of g - mean (rows 0: x as it is)
};

template <typename T>
struct SquaresOp {
    const T* x;
    SquareLanes acc;
    TileCentring gc;
    __device__ __forceinline__ void vec4(int e) { acc.add4(gc.centre4(load4(reinterpret_cast<const float*>(x) + e), e)); }
    __device__ __forceinline__ void one(int e, int q) { acc.add(q, gc.centre(to_f32(x[e]), e)); }
};

/** Stage 1: the partial of each tile of a work item. One block per work item. */
template <typename T>
__global__ void sum_squares_tiles(Tiles tiles, WalkTables wk, SumSquaresInput<T> in, int vectorLoads, float* partials) {
    __shared__ float warpSums[THREADS / 32];
    item_tiles(blockIdx.x, wk, [&](int k) {
        const TileDesc d = tiles.desc[k];
        const int n = tile_len(d);
        const T* x = tile_ptr(d, in.table, in.base, tiles.segOffset);
        // A gradient under centralization: the step's first pass over it (LAMB's gradient norms).
        SquaresOp<T> op{x, {}, tile_centring(d, in.gc, tiles.segOffset, x, true)};
        bool vec = false;
        if constexpr (std::is_same<T, float>::value) vec = vectorLoads && n == TILE && aligned16(op.x, op.x, op.x);
        tile_lanes(n, vec, op);
        const float s = op.acc.tile_total(warpSums);
        if (threadIdx.x == 0) partials[k] = s;
    });
}

/** Stage 2: the float64 total of each segment of a segment item. One block per segment item. */
__global__ void sum_squares_segments(Tiles tiles, WalkTables wk, const float* partials, double* out) {
    __shared__ double warpSums[THREADS / 32];
    item_segments(blockIdx.x, wk, [&](int seg) {
        const double s = segment_total(partials, tiles.segFirstTile[seg], tiles.segTiles[seg], warpSums);
        if (threadIdx.x == 0) out[seg] = s;
    });
}

/**
 * The reduction, enqueued on {@code stream}: {@code out[seg]} = the canonical sum of squares of
 * segment seg of {@code in}. {@code partials}: temporary storage of one float per tile. Two
 * launches; returns the first error.
 */
template <typename T>
inline int segmented_sum_squares(Backend& b, const Tiles& tiles, const WalkTables& wk, const SumSquaresInput<T>& in,
                                 int vectorLoads, float* partials, double* out, void* stream) {
    int e = launch(b, wk.items, stream, sum_squares_tiles<T>, tiles, wk, in, vectorLoads, partials);
    if (e == 0) e = launch(b, wk.segItems, stream, sum_squares_segments, tiles, wk, static_cast<const float*>(partials), out);
    return e;
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

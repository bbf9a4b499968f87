// Tile traversal, the walk every rule's element pass shares (the multi-tensor-apply idea: the
// walk is written once, the element math is a functor). A block takes a work item (a run of
// consecutive tiles, kernel_abi.h), finds each tile's tensors from its 16-byte TileDesc, and
// gives its elements to the functor in one of two orders:
//
//   tile_lanes    the canonical lanes: thread j handles elements 4j + q + 1024 r (q, r = 0..3),
//                 r in order, so lane i = 4j + q sees elements i + 1024 r, the order in which the
//                 canonical sum of squares accumulates them (docs/CANONICAL_ORDER.md). A full,
//                 16-byte aligned fp32 tile goes four elements at a time (op.vec4(e): elements
//                 e..e+3 are lanes q = 0..3 of round r), else one at a time (op.one(e, q));
//   tile_strided  element-wise passes with no reduction: thread j handles j, j + 256, ...
//                 (op.one(e)), or the same four-at-a-time rounds as tile_lanes on vector tiles.
//
// Both orders give every element the same operations, so vector and scalar paths give the same
// bits; only reductions depend on the lanes, and they use tile_lanes.
#pragma once

#include "kernel_abi.h"
#include "simt.cuh"

namespace lars4j {
namespace kernels {
inline namespace LARS4J_KERNEL_BUILD {

template <typename T> __device__ __forceinline__ float to_f32(T x) { return static_cast<float>(x); }
template <typename T> __device__ __forceinline__ T from_f32(float x) { return static_cast<T>(x); }

__device__ __forceinline__ int tile_len(const TileDesc& d) { return d.info & TILE_LEN_MASK; }
__device__ __forceinline__ int tile_mode(const TileDesc& d) { return d.info >> TILE_MODE_SHIFT; }

/**
 * Where tile {@code d} starts in one tensor: at base + d.at (flat form), or through the
 * per-segment pointer table (list form), d.at - segOffset[seg] into its segment.
 */
template <typename T>
__device__ __forceinline__ T* tile_ptr(const TileDesc& d, T* const* table, T* base, const long long* segOffset) {
    return table ? table[d.seg] + (d.at - segOffset[d.seg]) : base + d.at;
}

/** Tile {@code d}'s weights and gradients. */
template <typename P, typename G>
__device__ __forceinline__ void tile_ptrs(const TileDesc& d, const TensorRefs<P, G>& r, const long long* segOffset, P*& w,
                                          const G*& g) {
    w = tile_ptr(d, r.wTable, r.wBase, segOffset);
    g = tile_ptr(d, r.gTable, r.gBase, segOffset);
}

/** {@code fn(k)} for each tile k of work item {@code i}, in order. */
template <typename Fn>
__device__ __forceinline__ void item_tiles(int i, const WalkTables& wk, Fn&& fn) {
    const int end = wk.itemFirstTile[i + 1];
    for (int k = wk.itemFirstTile[i]; k < end; k++) fn(k);
}

/** {@code fn(seg)} for each segment of segment item {@code i}, in order. */
template <typename Fn>
__device__ __forceinline__ void item_segments(int i, const WalkTables& wk, Fn&& fn) {
    const int end = wk.segItemFirstSeg[i + 1];
    for (int s = wk.segItemFirstSeg[i]; s < end; s++) fn(s);
}

/** A tile of {@code n} elements in the canonical lanes; {@code vec}: a full tile of 16-byte aligned floats. */
template <typename Op>
__device__ __forceinline__ void tile_lanes(int n, bool vec, Op& op) {
    if (vec) {
        for (int r = 0; r < 4; r++) op.vec4(4 * static_cast<int>(threadIdx.x) + LANES * r);
    } else {
        for (int r = 0; r < 4; r++) {
            for (int q = 0; q < 4; q++) {
                const int e = 4 * static_cast<int>(threadIdx.x) + q + LANES * r;
                if (e < n) op.one(e, q);   // past the end: skipped (an accumulator adds +0)
            }
        }
    }
}

/** A tile of {@code n} elements, element-wise (no reduction). */
template <typename Op>
__device__ __forceinline__ void tile_strided(int n, bool vec, Op& op) {
    if (vec) {
        for (int r = 0; r < 4; r++) op.vec4(4 * static_cast<int>(threadIdx.x) + LANES * r);
    } else {
        for (int e = threadIdx.x; e < n; e += THREADS) op.one(e);
    }
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

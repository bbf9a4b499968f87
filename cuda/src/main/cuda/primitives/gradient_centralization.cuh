// Gradient centralization (docs/MATH.md section 13, docs/CANONICAL_ORDER.md "Gradient
// centralization"), a gradient stage of every rule, in two parts that any rule's kernels share:
//
//   row means      each row's gradients summed in float64, sequentially in memory order, divided
//                  by the row's length and rounded once to float: rowMean. A row that lies inside
//                  one tile (rows contiguous, no tile boundary inside the row) is summed by the
//                  first pass of the step that reads its tile, one thread per row, before the
//                  block uses it (tile_centring with sumsRowsInTile): no extra read of g. The
//                  others (rows that straddle tiles, interleaved rows of another output axis) by
//                  gc_row_means, one launch before the rule's, one thread per row: one more read
//                  of those rows' g, and no launch when there are none.
//   TileCentring   where a rule's kernel loads g, g - mean (one float subtraction) for the tiles
//                  of centred segments; a tile of a segment that is not centred has a null mean
//                  and loads g as before (one test per element, uniform across the block).
//
// The same operations in the same order as the Java engine's CentredGradients, so the same bits.
#pragma once

#include "kernel_abi.h"
#include "launch.cuh"
#include "primitives/tile_walk.cuh"
#include "simt.cuh"

namespace lars4j {
namespace kernels {
inline namespace LARS4J_KERNEL_BUILD {

/**
 * The gradient stages of one tile as its kernel loads g: the centring (where its elements' row
 * means are; {@code mean} null: not centred), then the global clip's division by {@code clip}
 * (1: none; stages/global_clip.cuh).
 */
struct TileCentring {
    const float* mean;   // the segment's row means, row 0 first
    int inner;           // elements per index of the output axis
    int rows;
    int q0;              // the tile's first element: its place within its index of the output axis ...
    int row0;            // ... and its row
    float clip;          // the global clip factor g is divided by after the centring (1: none)

    /** (g - mean) / clip of element e of the tile (without the centring where the tile is not centred, without the division where clip is 1). */
    __device__ __forceinline__ float centre(float g, int e) const {
        if (mean) {
            const int row = (row0 + (q0 + e) / inner) % rows;
            g = __fsub_rn(g, mean[row]);
        }
        if (clip != 1.f) g = __fdiv_rn(g, clip);
        return g;
    }

    /** Elements e .. e+3 of the tile. */
    __device__ __forceinline__ float4 centre4(float4 g, int e) const {
        if (!mean && clip == 1.f) return g;
        g.x = centre(g.x, e);
        g.y = centre(g.y, e + 1);
        g.z = centre(g.z, e + 2);
        g.w = centre(g.w, e + 3);
        return g;
    }
};

/** The float64 sum of {@code n} gradients from {@code x}, one after the other (the row means' order). */
template <typename G>
__device__ __forceinline__ double row_sum(const G* x, int n) {
    double acc = 0.0;
    for (int j = 0; j < n; j++) acc = __dadd_rn(acc, static_cast<double>(to_f32(x[j])));
    return acc;
}

/**
 * The gradient stages of tile {@code d}, whose gradients start at {@code g}: its centring, and the
 * global clip factor {@code clip} (1: none). {@code sumsRowsInTile}: this
 * pass is the step's first to read the tile's g, so it sums the means of the rows that lie wholly
 * inside the tile first (thread j of the block row o0 + j, then a barrier so that every thread
 * sees them); later passes read them from rowMean. Called by the whole block.
 */
template <typename G>
__device__ __forceinline__ TileCentring tile_centring(const TileDesc& d, const CentringTables& gc, const long long* segOffset, const G* g,
                                                      bool sumsRowsInTile, float clip = 1.f) {
    if (gc.rows == 0) return TileCentring{nullptr, 1, 1, 0, 0, clip};
    const int rows = gc.segRows[d.seg];
    if (rows == 0) return TileCentring{nullptr, 1, 1, 0, 0, clip};
    const int inner = gc.segInner[d.seg];
    const int start = static_cast<int>(d.at - segOffset[d.seg]);   // within the segment: an int
    float* mean = gc.rowMean + gc.segRowBase[d.seg];
    if (sumsRowsInTile && gc.segCount[d.seg] == inner) {            // rows contiguous (uniform across the block)
        const int o0 = static_cast<int>((static_cast<long long>(start) + inner - 1) / inner);
        const int o1 = static_cast<int>((static_cast<long long>(start) + tile_len(d)) / inner);   // rows [o0, o1) lie inside the tile
        for (int o = o0 + static_cast<int>(threadIdx.x); o < o1; o += THREADS) {
            const double acc = row_sum(g + (static_cast<long long>(o) * inner - start), inner);
            mean[o] = __double2float_rn(__ddiv_rn(acc, static_cast<double>(inner)));
        }
        if (o1 > o0) __syncthreads();
    }
    return TileCentring{mean, inner, rows, start % inner, (start / inner) % rows, clip};
}

/** The means of the rows that straddle tiles or interleave: thread r of the grid, pre-pass row r. */
template <typename G>
__global__ void gc_row_means(CentringTables gc, const long long* segOffset, const G* const* gTable, const G* gBase) {
    const int i = static_cast<int>(blockIdx.x) * THREADS + static_cast<int>(threadIdx.x);
    if (i >= gc.prePassRows) return;
    const int r = gc.prePassRow[i];
    const int seg = gc.rowSeg[r];
    const int rows = gc.segRows[seg];
    const int inner = gc.segInner[seg];
    const int o = r - gc.segRowBase[seg];
    const int count = gc.segCount[seg];
    const int outer = count / inner;
    const G* g = gTable ? gTable[seg] : gBase + segOffset[seg];
    double acc = 0.0;
    for (int a = 0; a < outer; a++) {
        // the row's elements in memory order: index o of the output axis in each outer block
        const G* x = g + (static_cast<long long>(a) * rows + o) * inner;
        for (int j = 0; j < inner; j++) acc = __dadd_rn(acc, static_cast<double>(to_f32(x[j])));
    }
    gc.rowMean[r] = __double2float_rn(__ddiv_rn(acc, static_cast<double>(count)));
}

/** The row-means launch of a step, before the rule's own (nothing when no row straddles tiles or interleaves). */
template <typename G>
inline int launch_row_means(Backend& b, const CentringTables& gc, const long long* segOffset, const G* const* gTable, const G* gBase,
                            void* stream) {
    if (gc.prePassRows == 0) return 0;
    return launch(b, static_cast<unsigned>((gc.prePassRows + THREADS - 1) / THREADS), stream, gc_row_means<G>, gc, segOffset, gTable, gBase);
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

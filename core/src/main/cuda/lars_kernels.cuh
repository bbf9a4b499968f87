// The three kernels of a LARS-family step (docs/MATH.md section 3), in the canonical order of
// docs/CANONICAL_ORDER.md, so that their results are bitwise equal to the Java engine's.
//
//   1. lars_tile_norms      one block per 4096-element tile of any segment: the tile's partial
//                           sums of w^2, g^2 and u^2 (u = g + lam w), float32, fixed tree.
//   2. lars_segment_scalars one block per segment: float64 totals of its tile partials, the
//                           norms, the trust ratio, and the two float scalars of the update;
//                           flags the step as skipped if a gradient is not finite. No atomics.
//   3. lars_update          one block per tile: one pass reading w, g, v and writing w, v.
//
// Variant (a) of issue 6, opt-in (LarsConsts.cooperative > 0): lars_step_cooperative runs the
// same three bodies in ONE cooperative launch of a grid that fits on the device at once, with a
// grid-wide barrier between them (grid-stride loops over tiles and segments; the update walks the
// tiles last to first, so the w and g the norm pass touched last are the first re-read, from L2
// when they are still there). Same bodies, so the same bits; it saves two launches and, for
// models whose w and g fit in L2, the second DRAM read.
//
// Three launches per step whatever the number of segments: tiles of all segments are described
// by a tile -> (segment, start) table built once at plan time. Segment data is found either
// through a table of per-segment pointers (list form) or at base + offset (flat form).
// Every floating-point operation is an explicit correctly rounded intrinsic (__fmaf_rn, ...),
// so nvcc cannot contract or reorder it; never build with --use_fast_math.
// Templated on the parameter and gradient element types; instantiated for float today, with
// bf16/fp16 (converted to float on load) to follow.
// Variant (c) of issue 6, on by default (LarsConsts.vectorLoads): full fp32 tiles whose
// pointers are 16-byte aligned use float4 loads and stores; same operations, same order, same bits.
#pragma once

#include "simt.cuh"
#include "lars_types.h"

#include <type_traits>

// The GPU and emulator builds of these kernels live in distinct namespaces, so that both can be
// linked into one library without clashing.
#if defined(__CUDACC__)
#define LARS4J_KERNEL_BUILD gpu
#else
#define LARS4J_KERNEL_BUILD emu
#endif

namespace lars4j {
namespace kernels {
inline namespace LARS4J_KERNEL_BUILD {

template <typename T> __device__ __forceinline__ float to_f32(T x) { return static_cast<float>(x); }
template <typename T> __device__ __forceinline__ T from_f32(float x) { return static_cast<T>(x); }

/** Segment {@code seg}'s weights: from the pointer table (list form) or at base + offset (flat form). */
template <typename P, typename G>
__device__ __forceinline__ P* seg_w(const TensorRefs<P, G>& r, const long long* segOffset, int seg) {
    return r.wTable ? r.wTable[seg] : r.wBase + segOffset[seg];
}
template <typename P, typename G>
__device__ __forceinline__ const G* seg_g(const TensorRefs<P, G>& r, const long long* segOffset, int seg) {
    return r.gTable ? r.gTable[seg] : r.gBase + segOffset[seg];
}

__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

/**
 * Canonical block tree (step 2): a butterfly inside each warp (off = 16..1), then warp 0
 * combines the 8 warp sums (off = 4, 2, 1). The result is valid in thread 0. {@code warpSums}
 * is 8 entries of shared memory; the trailing barrier lets the caller reuse it at once.
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

/** One lane's four rounds from a float4 of each round (the vector variant's loads, same order). */
__device__ __forceinline__ void lanes4(float* a, float4 x) {
    a[0] = __fmaf_rn(x.x, x.x, a[0]);
    a[1] = __fmaf_rn(x.y, x.y, a[1]);
    a[2] = __fmaf_rn(x.z, x.z, a[2]);
    a[3] = __fmaf_rn(x.w, x.w, a[3]);
}

/** Kernel 1's body: the partials of tile {@code k}, by the whole block. */
template <typename P, typename G>
__device__ __forceinline__ void tile_norms(int k, const LarsTables& t, const TensorRefs<P, G>& refs, int vectorLoads,
                                           const StepParams* params) {
    __shared__ float warpSums[THREADS / 32];
    const int seg = t.tileSeg[k];
    int mode = t.normMode[seg];
    if (mode == NORM_NONE) return;                       // uniform across the block
    // Variant (b): ||w||^2 partials carried from the last update pass; read g only.
    if (mode == NORM_WG && params != nullptr && params->useCarriedW) mode = NORM_G;
    const int start = t.tileStart[k];
    const int rest = t.segLen[seg] - start;
    const int n = rest < TILE ? rest : TILE;
    const P* w = seg_w(refs, t.segOffset, seg) + start;
    const G* g = seg_g(refs, t.segOffset, seg) + start;
    const float lam = __double2float_rn(t.segLam[seg]);
    float aw[4] = {0.f, 0.f, 0.f, 0.f};
    float ag[4] = {0.f, 0.f, 0.f, 0.f};
    float au[4] = {0.f, 0.f, 0.f, 0.f};
    // Step 1: lane i = 4*thread + q accumulates elements i + 1024 r, r = 0..3 in order.
    bool vec = false;
    if constexpr (std::is_same<P, float>::value && std::is_same<G, float>::value) {
        vec = vectorLoads && n == TILE && aligned16(mode == NORM_G ? static_cast<const void*>(g) : w, g, g);
    }
    if (vec && mode != NORM_WGU) {
        // Variant (c): four coalesced 16-byte loads per array, the same fmas in the same order.
        for (int r = 0; r < 4; r++) {
            const int e = 4 * threadIdx.x + LANES * r;
            lanes4(ag, load4(reinterpret_cast<const float*>(g) + e));
            if (mode == NORM_WG) lanes4(aw, load4(reinterpret_cast<const float*>(w) + e));
        }
    } else {
        for (int r = 0; r < 4; r++) {
            for (int q = 0; q < 4; q++) {
                const int e = 4 * threadIdx.x + q + LANES * r;
                if (e < n) {                                 // past the end: skipped (== adding +0)
                    const float gv = to_f32(g[e]);
                    ag[q] = __fmaf_rn(gv, gv, ag[q]);
                    if (mode >= NORM_WG) {
                        const float wv = to_f32(w[e]);
                        aw[q] = __fmaf_rn(wv, wv, aw[q]);
                        if (mode == NORM_WGU) {
                            const float uv = __fmaf_rn(lam, wv, gv);   // u = g + lam w
                            au[q] = __fmaf_rn(uv, uv, au[q]);
                        }
                    }
                }
            }
        }
    }
    // Step 2: s_j = (a0 + a1) + (a2 + a3), then the block tree.
    const float sg = block_tree(__fadd_rn(__fadd_rn(ag[0], ag[1]), __fadd_rn(ag[2], ag[3])), warpSums);
    if (threadIdx.x == 0) t.partG[k] = sg;
    if (mode >= NORM_WG) {
        const float sw = block_tree(__fadd_rn(__fadd_rn(aw[0], aw[1]), __fadd_rn(aw[2], aw[3])), warpSums);
        if (threadIdx.x == 0) t.partW[k] = sw;
        if (mode == NORM_WGU) {
            const float su = block_tree(__fadd_rn(__fadd_rn(au[0], au[1]), __fadd_rn(au[2], au[3])), warpSums);
            if (threadIdx.x == 0) t.partU[k] = su;
        }
    }
}

/** Step 3 for one segment: thread j sums partials j, j+256, ... in float64, then the tree. */
__device__ __forceinline__ double segment_total(const float* part, int first, int count, double* warpSums) {
    double acc = 0.0;
    for (int k = threadIdx.x; k < count; k += THREADS) acc = __dadd_rn(acc, static_cast<double>(part[first + k]));
    return block_tree(acc, warpSums);
}

/** Kernel 1: tile partials. Grid: one block per tile. */
template <typename P, typename G>
__global__ void lars_tile_norms(LarsTables t, TensorRefs<P, G> refs, int vectorLoads, const StepParams* params) {
    tile_norms(blockIdx.x, t, refs, vectorLoads, params);
}

/** Kernel 2's body: norms and scalars of segment {@code seg} (docs/CANONICAL_ORDER.md section 4). */
__device__ __forceinline__ void segment_scalars(int seg, const LarsTables& t, const LarsConsts& c, StepParams* params) {
    __shared__ double warpSums[THREADS / 32];
    const int mode = t.normMode[seg];
    const int first = t.segFirstTile[seg];
    const int count = t.segTiles[seg];
    double sg = 0.0, sw = 0.0, su = 0.0;
    if (mode != NORM_NONE) sg = segment_total(t.partG, first, count, warpSums);
    if (mode >= NORM_WG) sw = segment_total(t.partW, first, count, warpSums);
    if (mode == NORM_WGU) su = segment_total(t.partU, first, count, warpSums);
    if (threadIdx.x != 0) return;
    const double lr = params->lr;
    const double phi = params->phi;
    double gNorm = LARS4J_QNAN();
    if (mode != NORM_NONE) {
        if (!LARS4J_ISFINITE(sg) && c.skipNonFinite) params->skip = 1;   // benign race: every writer stores 1
        gNorm = __dsqrt_rn(sg);
    }
    double lam = t.segLam[seg];
    double tr = 1.0;
    double wNorm = LARS4J_QNAN();
    if (mode >= NORM_WG) {
        wNorm = __dsqrt_rn(sw);
        const double nNorm = mode == NORM_WGU ? __dsqrt_rn(su) : gNorm;
        const double wc = wNorm > c.normClamp ? c.normClamp : wNorm;     // NaN stays NaN
        const double nc = nNorm > c.normClamp ? c.normClamp : nNorm;
        if (wc > 0.0 && nc > 0.0) {
            const double den = c.sumOfNorms ? __dadd_rn(__dadd_rn(nc, __dmul_rn(lam, wc)), c.eps)
                                            : __dadd_rn(nc, c.eps);
            tr = __dmul_rn(__ddiv_rn(__dmul_rn(c.eta, wc), den), phi);
            if (c.clip) {
                const double x = __ddiv_rn(tr, lr);
                tr = x > 1.0 ? 1.0 : x;
            }
        } else if (c.zeroNormSkipsDecay) {
            lam = 0.0;                                   // apex LARC: no decay, no ratio
        }
    }
    t.normW[seg] = wNorm;
    t.normG[seg] = gNorm;
    t.trust[seg] = tr;
    t.lamF[seg] = __double2float_rn(lam);
    t.scaleF[seg] = __double2float_rn(c.lrInside ? __dmul_rn(lr, tr) : tr);
}

/** Kernel 2: per-segment norms and scalars. One block per segment. */
__global__ void lars_segment_scalars(LarsTables t, LarsConsts c, StepParams* params) {
    segment_scalars(blockIdx.x, t, c, params);
}

/** The update of one element (docs/CANONICAL_ORDER.md section 5); w and v in, w' and v' out. */
__device__ __forceinline__ void update_one(float& w, float g, float& v, float lam, float scale, float mu,
                                           const LarsConsts& c, const StepParams& p) {
    const float wv = w;
    if (c.lrInside) {
        const float s = __fmul_rn(scale, __fmaf_rn(lam, wv, g));               // s  = lr tr (g + lam w)
        const float vn = __fmaf_rn(mu, v, s);                                   // v' = mu v + s
        v = vn;
        w = c.nesterov ? __fsub_rn(wv, __fmaf_rn(mu, vn, s))                   // w' = w - (mu v' + s)
                       : __fsub_rn(wv, vn);                                     // w' = w - v'
    } else {
        const float damp1 = __double2float_rn(__dsub_rn(1.0, c.dampening));
        const float negLr = -__double2float_rn(p.lr);
        const float d = __fmul_rn(scale, __fmaf_rn(lam, wv, g));               // d  = tr (g + lam w)
        const float vn = p.first ? d                                            // buffer starts as d
                                 : __fmaf_rn(mu, v, __fmul_rn(damp1, d));       // v' = mu v + (1-damp) d
        v = vn;
        w = __fmaf_rn(negLr, c.nesterov ? __fmaf_rn(mu, vn, d) : vn, wv);       // w' = w - lr (...)
    }
}

/** Kernel 3's body: the fused update of tile {@code k} (docs/CANONICAL_ORDER.md section 5). */
template <typename P, typename G>
__device__ __forceinline__ void update_tile(int k, const LarsTables& t, const LarsConsts& c, const TensorRefs<P, G>& refs,
                                            const StepParams* params) {
    if (params->skip) return;                            // non-finite gradient: nothing is written
    const int seg = t.tileSeg[k];
    const int start = t.tileStart[k];
    const int rest = t.segLen[seg] - start;
    const int n = rest < TILE ? rest : TILE;
    P* w = seg_w(refs, t.segOffset, seg) + start;
    const G* g = seg_g(refs, t.segOffset, seg) + start;
    float* v = t.state + t.segOffset[seg] + start;
    const float lam = t.lamF[seg];                       // (float) effective weight decay
    const float scale = t.scaleF[seg];                   // (float)(lr*tr) INSIDE, (float) tr OUTSIDE
    const StepParams p = *params;
    const float mu = __double2float_rn(p.mu);            // momentum (MLPerf-corrected on the host)
    bool vec = false;
    if constexpr (std::is_same<P, float>::value && std::is_same<G, float>::value) {
        vec = c.vectorLoads && n == TILE && aligned16(w, g, v);
    }
    // Both paths give thread j the elements 4j + q + 1024 r (q, r = 0..3): the canonical lanes,
    // so that variant (b) can accumulate the new weights' squares in the canonical order.
    const bool carry = c.carryW && t.normMode[seg] == NORM_WG;   // uniform across the block
    float aw[4] = {0.f, 0.f, 0.f, 0.f};
    if (vec) {
        // Variant (c): 16-byte loads and stores; element-wise, so the same bits.
        for (int r = 0; r < 4; r++) {
            const int e = 4 * threadIdx.x + LANES * r;
            float4 w4 = load4(reinterpret_cast<const float*>(w) + e);
            const float4 g4 = load4(reinterpret_cast<const float*>(g) + e);
            float4 v4 = load4(v + e);
            update_one(w4.x, g4.x, v4.x, lam, scale, mu, c, p);
            update_one(w4.y, g4.y, v4.y, lam, scale, mu, c, p);
            update_one(w4.z, g4.z, v4.z, lam, scale, mu, c, p);
            update_one(w4.w, g4.w, v4.w, lam, scale, mu, c, p);
            store4(reinterpret_cast<float*>(w) + e, w4);
            store4(v + e, v4);
            if (carry) lanes4(aw, w4);
        }
    } else {
        for (int r = 0; r < 4; r++) {
            for (int q = 0; q < 4; q++) {
                const int e = 4 * threadIdx.x + q + LANES * r;
                if (e < n) {
                    float wv = to_f32(w[e]);
                    float vv = v[e];
                    update_one(wv, to_f32(g[e]), vv, lam, scale, mu, c, p);
                    v[e] = vv;
                    w[e] = from_f32<P>(wv);
                    const float stored = to_f32(w[e]);                    // the weight as stored
                    aw[q] = __fmaf_rn(stored, stored, aw[q]);
                }
            }
        }
    }
    if (carry) {
        __shared__ float warpSums[THREADS / 32];
        const float sw = block_tree(__fadd_rn(__fadd_rn(aw[0], aw[1]), __fadd_rn(aw[2], aw[3])), warpSums);
        if (threadIdx.x == 0) t.partW[k] = sw;
    }
}

/** Kernel 3: the fused update. One block per tile. */
template <typename P, typename G>
__global__ void lars_update(LarsTables t, LarsConsts c, TensorRefs<P, G> refs, const StepParams* params) {
    update_tile(blockIdx.x, t, c, refs, params);
}

/**
 * Variant (a): the whole step in one cooperative launch (grid of LarsConsts.cooperative blocks,
 * all co-resident). Each phase is a grid-stride loop over the same bodies as kernels 1-3; the
 * grid barrier orders them (and makes phase 2's skip flag and scalars visible to phase 3).
 */
template <typename P, typename G>
__global__ void lars_step_cooperative(LarsTables t, LarsConsts c, TensorRefs<P, G> refs, StepParams* params, int tiles,
                                      int segments) {
    for (int k = blockIdx.x; k < tiles; k += gridDim.x) tile_norms(k, t, refs, c.vectorLoads, params);
    grid_sync();
    for (int s = blockIdx.x; s < segments; s += gridDim.x) segment_scalars(s, t, c, params);
    grid_sync();
    // Last tile first: the tiles the norm phase read last are the likeliest still in L2.
    for (int k = tiles - 1 - static_cast<int>(blockIdx.x); k >= 0; k -= gridDim.x) update_tile(k, t, c, refs, params);
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

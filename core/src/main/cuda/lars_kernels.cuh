// The kernels of a LARS-family step (docs/MATH.md section 3), in the canonical order of
// docs/CANONICAL_ORDER.md, so that their results are bitwise equal to the Java engine's.
//
// A step has three phases:
//   norms    per 4096-element tile: the tile's partial sums of w^2, g^2 and u^2 (u = g + lam w),
//            float32, fixed tree;
//   scalars  per segment: float64 totals of its tile partials, the norms, the trust ratio and the
//            two float scalars of the update; flags the step as skipped if a gradient is not
//            finite. No atomics;
//   update   per tile: one pass reading w, g, v and writing w, v.
//
// Two ways to run them, same bodies, so the same bits (docs/BYTES.md has the byte counts):
//
//   lars_step_grouped   the default where the device can launch cooperatively: ONE cooperative
//                       launch that walks the model in groups of whole segments sized to about
//                       half the L2 (norms, grid barrier, scalars, grid barrier, update, group by
//                       group), so the update finds the group's w and g still in L2 and they come
//                       from DRAM once: 20 bytes per parameter instead of 28. Under SKIP_STEP with
//                       more than one group, no group may be written before every gradient has
//                       been seen, so a gradient-only pass over the whole model comes first (24).
//   lars_tile_norms,    three launches over the whole model: the fallback where cooperative
//   lars_segment_scalars, launches are refused (MPS, another device) or switched off.
//   lars_update
//
// Launches per step are fixed (one, or three) whatever the number of segments. Blocks walk work
// items: one full tile, or a run of small tiles up to 4096 elements, in the canonical tile
// order; a model of 10,000 tiny tensors is then a few thousand short walks, not 10,000 blocks of
// one short round each. Tiles are described by a packed 16-byte TileDesc.
//
// Every floating-point operation is an explicit correctly rounded intrinsic (__fmaf_rn, ...),
// so nvcc cannot contract or reorder it (and the build adds -fmad=false); never build with
// --use_fast_math. Full fp32 tiles whose pointers are 16-byte aligned use float4 loads and
// stores: the same operations in the same order, so the same bits. What changes per step only
// (the update's form, the first step) is a template parameter chosen once per work item, so the
// element loops carry no per-step branch. Templated on the parameter and gradient element
// types; instantiated for float today, with bf16/fp16 (converted to float on load) to follow.
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

__device__ __forceinline__ int tile_len(const TileDesc& d) { return d.info & TILE_LEN_MASK; }
__device__ __forceinline__ int tile_mode(const TileDesc& d) { return d.info >> TILE_MODE_SHIFT; }

/**
 * Tile {@code d}'s weights and gradients: at base + d.at (flat form), or through the per-segment
 * pointer tables (list form), where the tile starts d.at - segOffset[seg] into its segment.
 */
template <typename P, typename G>
__device__ __forceinline__ void tile_ptrs(const TileDesc& d, const TensorRefs<P, G>& r, const long long* segOffset, P*& w,
                                          const G*& g) {
    if (r.wTable) {
        const long long start = d.at - segOffset[d.seg];
        w = r.wTable[d.seg] + start;
        g = r.gTable[d.seg] + start;
    } else {
        w = r.wBase + d.at;
        g = r.gBase + d.at;
    }
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

/** The block tree of a thread's four lanes: s_j = (a0 + a1) + (a2 + a3), then step 2. */
__device__ __forceinline__ float lanes_tree(const float* a, float* warpSums) {
    return block_tree(__fadd_rn(__fadd_rn(a[0], a[1]), __fadd_rn(a[2], a[3])), warpSums);
}

/** One lane's four rounds from a float4 of each round (the vector loads' order: lanes q = 0..3). */
__device__ __forceinline__ void lanes4(float* a, float4 x) {
    a[0] = __fmaf_rn(x.x, x.x, a[0]);
    a[1] = __fmaf_rn(x.y, x.y, a[1]);
    a[2] = __fmaf_rn(x.z, x.z, a[2]);
    a[3] = __fmaf_rn(x.w, x.w, a[3]);
}

// ---- norms ---------------------------------------------------------------------------------

// What a tile's norm pass reads and writes (bits): partG from g, partW from w, partU from both.
constexpr int NEED_G = 1;
constexpr int NEED_W = 2;
constexpr int NEED_U = 4;

// Which norm pass runs. FULL: the one pass of an ungrouped step or of a group without the
// pre-pass. GRAD_ONLY: SKIP_STEP's gradient pass over the whole model, before any group. AFTER_GRAD:
// a group's pass after it (partG is already there). W_ONLY: the weights' partials a step skipped
// by the gradient pass must still leave for carried weight norms (the update did not write them).
constexpr int NORMS_FULL = 0;
constexpr int NORMS_GRAD_ONLY = 1;
constexpr int NORMS_AFTER_GRAD = 2;
constexpr int NORMS_W_ONLY = 3;

/** The partials a tile of norm mode {@code mode} computes in {@code phase} (uniform across a block). */
__device__ __forceinline__ int norm_needs(int mode, int phase, bool carriedW) {
    if (mode == NORM_NONE) return 0;
    switch (phase) {
        case NORMS_GRAD_ONLY: return NEED_G;
        case NORMS_W_ONLY: return mode == NORM_WG ? NEED_W : 0;
        case NORMS_AFTER_GRAD:
            if (mode == NORM_G) return 0;
            if (mode == NORM_WG) return carriedW ? 0 : NEED_W;
            return NEED_G | NEED_W | NEED_U;   // u needs g again; partG is rewritten with the same bits
        default:
            if (mode == NORM_G) return NEED_G;
            if (mode == NORM_WG) return carriedW ? NEED_G : NEED_G | NEED_W;   // ||w||^2 carried: g only
            return NEED_G | NEED_W | NEED_U;
    }
}

/** The partials {@code NEEDS} of tile {@code k}, by the whole block (steps 1-2). */
template <int NEEDS, typename P, typename G>
__device__ __forceinline__ void tile_norms_of(int k, const TileDesc& d, const LarsTables& t, const TensorRefs<P, G>& refs,
                                              int vectorLoads) {
    constexpr bool needG = (NEEDS & NEED_G) != 0;
    constexpr bool needW = (NEEDS & NEED_W) != 0;
    constexpr bool needU = (NEEDS & NEED_U) != 0;
    __shared__ float warpSums[THREADS / 32];
    const int n = tile_len(d);
    P* wp;
    const G* gp;
    tile_ptrs(d, refs, t.segOffset, wp, gp);
    const P* __restrict__ w = wp;
    const G* __restrict__ g = gp;
    const float lam = needU ? __double2float_rn(t.segLam[d.seg]) : 0.f;
    float aw[4] = {0.f, 0.f, 0.f, 0.f};
    float ag[4] = {0.f, 0.f, 0.f, 0.f};
    float au[4] = {0.f, 0.f, 0.f, 0.f};
    // Step 1: lane i = 4*thread + q accumulates elements i + 1024 r, r = 0..3 in order.
    bool vec = false;
    if constexpr (std::is_same<P, float>::value && std::is_same<G, float>::value) {
        // Only the arrays this pass reads need to be aligned.
        vec = vectorLoads && n == TILE && aligned16(needW ? static_cast<const void*>(w) : g, needG ? static_cast<const void*>(g) : w, w);
    }
    if (vec) {
        // Four coalesced 16-byte loads per array: the same fmas in the same order.
        for (int r = 0; r < 4; r++) {
            const int e = 4 * threadIdx.x + LANES * r;
            float4 g4{}, w4{};
            if constexpr (needG) {
                g4 = load4(reinterpret_cast<const float*>(g) + e);
                lanes4(ag, g4);
            }
            if constexpr (needW) {
                w4 = load4(reinterpret_cast<const float*>(w) + e);
                lanes4(aw, w4);
            }
            if constexpr (needU) {
                float4 u4;
                u4.x = __fmaf_rn(lam, w4.x, g4.x);   // u = g + lam w
                u4.y = __fmaf_rn(lam, w4.y, g4.y);
                u4.z = __fmaf_rn(lam, w4.z, g4.z);
                u4.w = __fmaf_rn(lam, w4.w, g4.w);
                lanes4(au, u4);
            }
        }
    } else {
        for (int r = 0; r < 4; r++) {
            for (int q = 0; q < 4; q++) {
                const int e = 4 * threadIdx.x + q + LANES * r;
                if (e < n) {                                 // past the end: skipped (== adding +0)
                    float gv = 0.f, wv = 0.f;
                    if constexpr (needG) {
                        gv = to_f32(g[e]);
                        ag[q] = __fmaf_rn(gv, gv, ag[q]);
                    }
                    if constexpr (needW) {
                        wv = to_f32(w[e]);
                        aw[q] = __fmaf_rn(wv, wv, aw[q]);
                    }
                    if constexpr (needU) {
                        const float uv = __fmaf_rn(lam, wv, gv);   // u = g + lam w
                        au[q] = __fmaf_rn(uv, uv, au[q]);
                    }
                }
            }
        }
    }
    // Step 2: the block trees.
    if constexpr (needG) {
        const float s = lanes_tree(ag, warpSums);
        if (threadIdx.x == 0) t.partG[k] = s;
    }
    if constexpr (needW) {
        const float s = lanes_tree(aw, warpSums);
        if (threadIdx.x == 0) t.partW[k] = s;
    }
    if constexpr (needU) {
        const float s = lanes_tree(au, warpSums);
        if (threadIdx.x == 0) t.partU[k] = s;
    }
}

/** The norm pass {@code phase} of tile {@code k}, by the whole block. */
template <typename P, typename G>
__device__ __forceinline__ void tile_norms(int k, const LarsTables& t, const TensorRefs<P, G>& refs, int vectorLoads, int phase,
                                           bool carriedW) {
    const TileDesc d = t.tile[k];
    switch (norm_needs(tile_mode(d), phase, carriedW)) {   // uniform across the block
        case NEED_G: tile_norms_of<NEED_G>(k, d, t, refs, vectorLoads); break;
        case NEED_W: tile_norms_of<NEED_W>(k, d, t, refs, vectorLoads); break;
        case NEED_G | NEED_W: tile_norms_of<NEED_G | NEED_W>(k, d, t, refs, vectorLoads); break;
        case NEED_G | NEED_W | NEED_U: tile_norms_of<NEED_G | NEED_W | NEED_U>(k, d, t, refs, vectorLoads); break;
        default: break;
    }
}

/** The norm pass of work item {@code i}: its tiles in order. */
template <typename P, typename G>
__device__ __forceinline__ void item_norms(int i, const LarsTables& t, const WalkTables& wk, const TensorRefs<P, G>& refs,
                                           int vectorLoads, int phase, bool carriedW) {
    const int end = wk.itemFirstTile[i + 1];
    for (int k = wk.itemFirstTile[i]; k < end; k++) tile_norms(k, t, refs, vectorLoads, phase, carriedW);
}

/** Step 3 for one segment: thread j sums partials j, j+256, ... in float64, then the tree. */
__device__ __forceinline__ double segment_total(const float* part, int first, int count, double* warpSums) {
    double acc = 0.0;
    for (int k = threadIdx.x; k < count; k += THREADS) acc = __dadd_rn(acc, static_cast<double>(part[first + k]));
    return block_tree(acc, warpSums);
}

/** Kernel 1 of the three-launch step: the norms. One block per work item. */
template <typename P, typename G>
__global__ void lars_tile_norms(LarsTables t, WalkTables wk, TensorRefs<P, G> refs, int vectorLoads, const StepParams* params) {
    const bool carriedW = params != nullptr && params->useCarriedW;
    item_norms(blockIdx.x, t, wk, refs, vectorLoads, NORMS_FULL, carriedW);
}

// ---- scalars -------------------------------------------------------------------------------

/** ||g|| of segment {@code seg} and the skip flag: SKIP_STEP's gradient pass, before any group. */
__device__ __forceinline__ void segment_grad_norm(int seg, const LarsTables& t, StepParams* params) {
    __shared__ double warpSums[THREADS / 32];
    if (t.normMode[seg] == NORM_NONE) return;            // uniform across the block
    const double sg = segment_total(t.partG, t.segFirstTile[seg], t.segTiles[seg], warpSums);
    if (threadIdx.x != 0) return;
    if (!LARS4J_ISFINITE(sg)) params->skip = 1;         // benign race: every writer stores 1
    t.normG[seg] = __dsqrt_rn(sg);
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

/** Kernel 2 of the three-launch step: the scalars. One block per segment item. */
__global__ void lars_segment_scalars(LarsTables t, WalkTables wk, LarsConsts c, StepParams* params) {
    const int end = wk.segItemFirstSeg[blockIdx.x + 1];
    for (int s = wk.segItemFirstSeg[blockIdx.x]; s < end; s++) segment_scalars(s, t, c, params);
}

// ---- update --------------------------------------------------------------------------------

// The update's form (template bits): lr inside the ratio, Nesterov, and, for lr outside, the
// first step (the buffer starts as d and the old one is not read).
constexpr int UPD_INSIDE = 1;
constexpr int UPD_NESTEROV = 2;
constexpr int UPD_FIRST = 4;

/** The float scalars of a tile's update: per step (mu, damp1, negLr) and per segment (lam, scale). */
struct UpdateScalars {
    float lam, scale, mu, damp1, negLr;
};

/** The update of one element (docs/CANONICAL_ORDER.md section 5); w and v in, w' and v' out. */
template <int FORM>
__device__ __forceinline__ void update_one(float& w, float g, float& v, const UpdateScalars& s) {
    const float wv = w;
    if constexpr ((FORM & UPD_INSIDE) != 0) {
        const float st = __fmul_rn(s.scale, __fmaf_rn(s.lam, wv, g));          // s  = lr tr (g + lam w)
        const float vn = __fmaf_rn(s.mu, v, st);                               // v' = mu v + s
        v = vn;
        if constexpr ((FORM & UPD_NESTEROV) != 0) w = __fsub_rn(wv, __fmaf_rn(s.mu, vn, st));   // w' = w - (mu v' + s)
        else w = __fsub_rn(wv, vn);                                            // w' = w - v'
    } else {
        const float d = __fmul_rn(s.scale, __fmaf_rn(s.lam, wv, g));          // d  = tr (g + lam w)
        float vn;
        if constexpr ((FORM & UPD_FIRST) != 0) vn = d;                         // buffer starts as d
        else vn = __fmaf_rn(s.mu, v, __fmul_rn(s.damp1, d));                   // v' = mu v + (1-damp) d
        v = vn;
        if constexpr ((FORM & UPD_NESTEROV) != 0) w = __fmaf_rn(s.negLr, __fmaf_rn(s.mu, vn, d), wv);   // w' = w - lr (mu v' + d)
        else w = __fmaf_rn(s.negLr, vn, wv);                                   // w' = w - lr v'
    }
}

/** The update's form bits for this step. */
__device__ __forceinline__ int update_form(const LarsConsts& c, const StepParams& p) {
    return (c.lrInside ? UPD_INSIDE : (p.first ? UPD_FIRST : 0)) | (c.nesterov ? UPD_NESTEROV : 0);
}

/** The per-step part of the update's scalars. */
__device__ __forceinline__ UpdateScalars step_scalars(const LarsConsts& c, const StepParams& p) {
    UpdateScalars s;
    s.lam = 0.f;
    s.scale = 0.f;
    s.mu = __double2float_rn(p.mu);                                            // momentum (MLPerf-corrected on the host)
    s.damp1 = __double2float_rn(__dsub_rn(1.0, c.dampening));
    s.negLr = -__double2float_rn(p.lr);
    return s;
}

/** The fused update of tile {@code k} (docs/CANONICAL_ORDER.md section 5), by the whole block. */
template <int FORM, typename P, typename G>
__device__ __forceinline__ void update_tile(int k, const LarsTables& t, const LarsConsts& c, const TensorRefs<P, G>& refs,
                                            UpdateScalars s) {
    constexpr bool readV = (FORM & UPD_FIRST) == 0;      // the first step's buffer starts as d
    const TileDesc d = t.tile[k];
    const int n = tile_len(d);
    P* wp;
    const G* gp;
    tile_ptrs(d, refs, t.segOffset, wp, gp);
    P* __restrict__ w = wp;                               // the caller's w and g never alias lars4j's v
    const G* __restrict__ g = gp;
    float* __restrict__ v = t.state + d.at;
    s.lam = t.lamF[d.seg];                               // (float) effective weight decay
    s.scale = t.scaleF[d.seg];                           // (float)(lr*tr) INSIDE, (float) tr OUTSIDE
    bool vec = false;
    if constexpr (std::is_same<P, float>::value && std::is_same<G, float>::value) {
        vec = c.vectorLoads && n == TILE && aligned16(w, g, v);
    }
    // Both paths give thread j the elements 4j + q + 1024 r (q, r = 0..3): the canonical lanes,
    // so that carried weight norms accumulate the new weights' squares in the canonical order.
    const bool carry = c.carryW && tile_mode(d) == NORM_WG;   // uniform across the block
    float aw[4] = {0.f, 0.f, 0.f, 0.f};
    if (vec) {
        // 16-byte loads and stores; element-wise, so the same bits.
        for (int r = 0; r < 4; r++) {
            const int e = 4 * threadIdx.x + LANES * r;
            float4 w4 = load4(reinterpret_cast<const float*>(w) + e);
            const float4 g4 = load4(reinterpret_cast<const float*>(g) + e);
            float4 v4{};
            if constexpr (readV) v4 = load4(v + e);
            update_one<FORM>(w4.x, g4.x, v4.x, s);
            update_one<FORM>(w4.y, g4.y, v4.y, s);
            update_one<FORM>(w4.z, g4.z, v4.z, s);
            update_one<FORM>(w4.w, g4.w, v4.w, s);
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
                    float vv = readV ? v[e] : 0.f;
                    update_one<FORM>(wv, to_f32(g[e]), vv, s);
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
        const float sw = lanes_tree(aw, warpSums);
        if (threadIdx.x == 0) t.partW[k] = sw;
    }
}

template <int FORM, typename P, typename G>
__device__ __forceinline__ void update_tiles(int k0, int k1, const LarsTables& t, const LarsConsts& c, const TensorRefs<P, G>& refs,
                                             const UpdateScalars& s) {
    for (int k = k0; k < k1; k++) update_tile<FORM>(k, t, c, refs, s);
}

/**
 * The update of work item {@code i}: its tiles in order, with the form chosen once for all of
 * them. Nothing is written when the step is skipped (a non-finite gradient).
 */
template <typename P, typename G>
__device__ __forceinline__ void item_update(int i, const LarsTables& t, const WalkTables& wk, const LarsConsts& c,
                                            const TensorRefs<P, G>& refs, const StepParams* params) {
    const StepParams p = *params;
    if (p.skip) return;                                  // uniform: read after the scalars phase ended
    const int k0 = wk.itemFirstTile[i];
    const int k1 = wk.itemFirstTile[i + 1];
    const UpdateScalars s = step_scalars(c, p);
    switch (update_form(c, p)) {
        case 0: update_tiles<0>(k0, k1, t, c, refs, s); break;
        case UPD_INSIDE: update_tiles<UPD_INSIDE>(k0, k1, t, c, refs, s); break;
        case UPD_NESTEROV: update_tiles<UPD_NESTEROV>(k0, k1, t, c, refs, s); break;
        case UPD_INSIDE | UPD_NESTEROV: update_tiles<UPD_INSIDE | UPD_NESTEROV>(k0, k1, t, c, refs, s); break;
        case UPD_FIRST: update_tiles<UPD_FIRST>(k0, k1, t, c, refs, s); break;
        default: update_tiles<UPD_FIRST | UPD_NESTEROV>(k0, k1, t, c, refs, s); break;
    }
}

/** Kernel 3 of the three-launch step: the fused update. One block per work item. */
template <typename P, typename G>
__global__ void lars_update(LarsTables t, WalkTables wk, LarsConsts c, TensorRefs<P, G> refs, const StepParams* params) {
    item_update(blockIdx.x, t, wk, c, refs, params);
}

// ---- the grouped step ----------------------------------------------------------------------

/**
 * The whole step in ONE cooperative launch (a grid of LarsConsts.cooperative blocks, all
 * co-resident), group by group: the group's norms, a grid barrier, its segments' scalars, a
 * grid barrier, its update. Groups are sized so that their w and g stay in L2 from the norm
 * phase to the update, which walks the group's items last to first (what the norm phase read
 * last is the likeliest still there for a group that does not fit). Nothing orders one group's
 * update before the next group's norms: they touch disjoint tiles and segments, so blocks that
 * finish early start on the next group.
 *
 * Under SKIP_STEP with more than one group, a gradient-only pass over every tile and a barrier
 * decide the skip flag before any group is written (the barrier makes the flag the same for
 * every block, so all blocks leave together). A skipped step still leaves the weights' partials
 * that carried weight norms need, as the three-launch step's norm pass does.
 */
template <typename P, typename G>
__global__ void lars_step_grouped(LarsTables t, WalkTables wk, LarsConsts c, TensorRefs<P, G> refs, StepParams* params) {
    const bool carriedW = params->useCarriedW != 0;
    const bool gradPass = c.skipNonFinite && wk.groups > 1;
    if (gradPass) {
        for (int i = blockIdx.x; i < wk.items; i += gridDim.x) item_norms(i, t, wk, refs, c.vectorLoads, NORMS_GRAD_ONLY, carriedW);
        grid_sync();
        for (int i = blockIdx.x; i < wk.segItems; i += gridDim.x) {
            for (int s = wk.segItemFirstSeg[i]; s < wk.segItemFirstSeg[i + 1]; s++) segment_grad_norm(s, t, params);
        }
        grid_sync();
        if (params->skip) {
            if (c.carryW && !carriedW) {
                for (int i = blockIdx.x; i < wk.items; i += gridDim.x) item_norms(i, t, wk, refs, c.vectorLoads, NORMS_W_ONLY, carriedW);
            }
            return;
        }
    }
    const int phase = gradPass ? NORMS_AFTER_GRAD : NORMS_FULL;
    for (int grp = 0; grp < wk.groups; grp++) {
        const int i0 = wk.groupFirstItem[grp];
        const int i1 = wk.groupFirstItem[grp + 1];
        for (int i = i0 + static_cast<int>(blockIdx.x); i < i1; i += gridDim.x) item_norms(i, t, wk, refs, c.vectorLoads, phase, carriedW);
        grid_sync();
        for (int i = wk.groupFirstSegItem[grp] + static_cast<int>(blockIdx.x); i < wk.groupFirstSegItem[grp + 1]; i += gridDim.x) {
            for (int s = wk.segItemFirstSeg[i]; s < wk.segItemFirstSeg[i + 1]; s++) segment_scalars(s, t, c, params);
        }
        grid_sync();
        for (int i = i1 - 1 - static_cast<int>(blockIdx.x); i >= i0; i -= gridDim.x) item_update(i, t, wk, c, refs, params);
    }
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

// LARS, the layer-wise adaptive rate family (docs/MATH.md section 3): every kernel of its step,
// its constants, step values and tables, and its launch sequence, in the canonical order of
// docs/CANONICAL_ORDER.md so that its results are bitwise equal to the Java engine's.
//
// A step has three phases:
//   norms    per 4096-element tile: the tile's partial sums of w^2, g^2 and u^2 (u = g + lam w),
//            float32, in the canonical lanes and block tree of primitives/segmented_sum_squares.cuh;
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
//                       from DRAM once. Under SKIP_STEP with more than one group, no group may be
//                       written before every gradient has been seen, so a gradient-only pass over
//                       the whole model comes first.
//   lars_tile_norms,    three launches over the whole model: the fallback where cooperative
//   lars_segment_scalars, launches are refused (MPS, another device) or switched off.
//   lars_update
//
// Launches per step are fixed (one, or three) whatever the number of segments. Blocks walk work
// items (primitives/tile_walk.cuh): one full tile, or a run of small tiles up to 4096 elements;
// a model of 10,000 tiny tensors is then a few thousand short walks, not 10,000 blocks of one
// short round each.
//
// Every floating-point operation is an explicit correctly rounded intrinsic (__fmaf_rn, ...),
// so nvcc cannot contract or reorder it (and the build adds -fmad=false); never build with
// --use_fast_math. Full fp32 tiles whose pointers are 16-byte aligned use float4 loads and
// stores: the same operations in the same order, so the same bits. What changes per step only
// (the update's form, the first step) is a template parameter chosen once per work item, so the
// element loops carry no per-step branch. Templated on the parameter and gradient element
// types; instantiated for float. With Lookahead around the rule (stages/lookahead.cuh), the
// update also copies or syncs the slow weights, per element, on the steps that do.
#pragma once

#include <algorithm>
#include <string>
#include <type_traits>

#include "kernel_abi.h"
#include "launch.cuh"
#include "native_rule.h"
#include "primitives/gradient_centralization.cuh"
#include "primitives/segmented_sum_squares.cuh"
#include "primitives/tile_walk.cuh"
#include "simt.cuh"
#include "stages/global_clip.cuh"
#include "stages/lookahead.cuh"

namespace lars4j {
namespace kernels {

// What the norm pass computes for a segment (the segment's mode in its tiles; the same values as
// the Java engine's plan).
constexpr int NORM_NONE = 0;   // nothing (not adapted, non-finite check off)
constexpr int NORM_G = 1;      // g only (non-finite check)
constexpr int NORM_WG = 2;     // w and g
constexpr int NORM_WGU = 3;    // w, g and u = fma(lam, w, g)

/**
 * LARS constants, filled by Java at plan time (org.lars4j.engine.cuda.NativeLars.LarsConsts) and
 * passed to the kernels by value. The last fields are requests the plan reads; the kernels read
 * {@code cooperative}, which the plan sets.
 */
struct LarsConsts {
    double eta, eps, normClamp, dampening;
    int sumOfNorms, lrInside, clip, zeroNormSkipsDecay, nesterov, skipNonFinite;
    int vectorLoads;   // float4 loads/stores on full, 16-byte aligned fp32 tiles (same bits)
    int carryW;        // carried weight norms: the update also writes the new weights' ||w||^2 partials
    int cooperative;   // set by the plan: 0 = three launches over the whole model, else the grid of the one grouped launch
    int grouped;       // request: the grouped step as one cooperative launch where the device allows
    long long groupElements;   // request: elements per group (-1: from the device's L2, 0: one group)
    int lookahead;             // Lookahead around the rule: a second state buffer, the slow weights
    float lookaheadAlpha;      // (float) alpha
    int clipOn;                // the global gradient clip stage: the gradient pass first, then g / clip
    double maxGradNorm;        // its maxNorm
};

/** LARS step values, filled by Java each step (host memory). */
struct LarsStepValues {
    double lr, mu, phi;
    int first;           // first step of the momentum buffers (PyTorch's buffer-initialisation rule)
    int weightsAsLeft;   // the caller's weights are those the last step left (carried weight norms)
    int lookaheadCopy;   // Lookahead: this step copies w into the slow weights (step 1 of the state)
    int lookaheadSync;   // Lookahead: this step syncs (t % k == 0)
};

/** Per-step values in device memory (so that a captured graph reads fresh ones). */
struct LarsStepParams {
    double lr, mu, phi;
    int first;
    int skip;         // set by the scalars phase when a gradient is not finite; reset by each step's values
    int useCarriedW;  // carried weight norms: partW already holds ||w||^2 partials of these weights
    int lookahead;    // LA_* bits of this step (stages/lookahead.cuh)
    float clip;       // the global clip factor, written after the gradient pass (1 without the clip)
};

/** Device tables built once at plan time, plus per-step scratch. */
struct LarsTables {
    Tiles tiles;
    const int* normMode;        // [segments] NORM_*
    const double* segLam;       // [segments] weightDecay or 0
    float* partW;               // [tiles] tile partials
    float* partG;
    float* partU;
    double* normW;              // [segments] diagnostics: ||w||, ||g||, trust ratio
    double* normG;
    double* trust;
    double* sumG;               // [segments] float64 sum(g^2) of the gradient pass (the global clip's norm)
    int segments;
    float* lamF;                // [segments] float32 scalars of the update
    float* scaleF;
    float* state;               // momentum buffers, flat, at segOffset
    float* slow;                // Lookahead's slow weights, flat, at segOffset (null without Lookahead)
    CentringTables gc;          // gradient centralization (rows 0: off); every load of g reads g - mean
};

inline namespace LARS4J_KERNEL_BUILD {

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
            return NEED_W | NEED_U;   // u reads g again; partG stays the gradient pass's (of g before the clip)
        default:
            if (mode == NORM_G) return NEED_G;
            if (mode == NORM_WG) return carriedW ? NEED_G : NEED_G | NEED_W;   // ||w||^2 carried: g only
            return NEED_G | NEED_W | NEED_U;
    }
}

/** The element math of the norm pass: up to three sums of squares from one read of w and g. */
template <int NEEDS, typename P, typename G>
struct LarsNormsOp {
    static constexpr bool needG = (NEEDS & NEED_G) != 0;
    static constexpr bool needW = (NEEDS & NEED_W) != 0;
    static constexpr bool needU = (NEEDS & NEED_U) != 0;
    const P* __restrict__ w;
    const G* __restrict__ g;
    float lam;
    SquareLanes aw, ag, au;
    TileCentring gc;

    __device__ __forceinline__ void vec4(int e) {
        float4 g4{}, w4{};
        if constexpr (needG || needU) g4 = gc.centre4(load4(reinterpret_cast<const float*>(g) + e), e);
        if constexpr (needG) ag.add4(g4);
        if constexpr (needW) {
            w4 = load4(reinterpret_cast<const float*>(w) + e);
            aw.add4(w4);
        }
        if constexpr (needU) {
            float4 u4;
            u4.x = __fmaf_rn(lam, w4.x, g4.x);   // u = g + lam w
            u4.y = __fmaf_rn(lam, w4.y, g4.y);
            u4.z = __fmaf_rn(lam, w4.z, g4.z);
            u4.w = __fmaf_rn(lam, w4.w, g4.w);
            au.add4(u4);
        }
    }

    __device__ __forceinline__ void one(int e, int q) {
        float gv = 0.f, wv = 0.f;
        if constexpr (needG || needU) gv = gc.centre(to_f32(g[e]), e);
        if constexpr (needG) ag.add(q, gv);
        if constexpr (needW) {
            wv = to_f32(w[e]);
            aw.add(q, wv);
        }
        if constexpr (needU) au.add(q, __fmaf_rn(lam, wv, gv));   // u = g + lam w
    }
};

/**
 * The partials {@code NEEDS} of tile {@code k}, by the whole block. {@code firstRead}: no earlier
 * pass of the step read this tile's g (every pass but the one after the gradient-only pass).
 */
template <int NEEDS, typename P, typename G>
__device__ __forceinline__ void tile_norms_of(int k, const TileDesc& d, const LarsTables& t, const TensorRefs<P, G>& refs,
                                              int vectorLoads, bool firstRead, float clip) {
    using Op = LarsNormsOp<NEEDS, P, G>;
    __shared__ float warpSums[THREADS / 32];
    const int n = tile_len(d);
    P* wp;
    const G* gp;
    tile_ptrs(d, refs, t.tiles.segOffset, wp, gp);
    Op op{wp, gp, Op::needU ? __double2float_rn(t.segLam[d.seg]) : 0.f, {}, {}, {},
          tile_centring(d, t.gc, t.tiles.segOffset, gp, Op::needG && firstRead, clip)};
    bool vec = false;
    if constexpr (std::is_same<P, float>::value && std::is_same<G, float>::value) {
        // Only the arrays this pass reads need to be aligned.
        vec = vectorLoads && n == TILE
              && aligned16(Op::needW ? static_cast<const void*>(wp) : gp, Op::needG || Op::needU ? static_cast<const void*>(gp) : wp, wp);
    }
    tile_lanes(n, vec, op);
    if constexpr (Op::needG) {
        const float s = op.ag.tile_total(warpSums);
        if (threadIdx.x == 0) t.partG[k] = s;
    }
    if constexpr (Op::needW) {
        const float s = op.aw.tile_total(warpSums);
        if (threadIdx.x == 0) t.partW[k] = s;
    }
    if constexpr (Op::needU) {
        const float s = op.au.tile_total(warpSums);
        if (threadIdx.x == 0) t.partU[k] = s;
    }
}

/**
 * The norm pass {@code phase} of tile {@code k}, by the whole block; {@code clip} divides what it
 * reads of g (1 except after the global clip's gradient pass: the u of NORM_WGU is of g / clip).
 */
template <typename P, typename G>
__device__ __forceinline__ void tile_norms(int k, const LarsTables& t, const TensorRefs<P, G>& refs, int vectorLoads, int phase,
                                           bool carriedW, float clip) {
    const TileDesc d = t.tiles.desc[k];
    const bool firstRead = phase != NORMS_AFTER_GRAD;
    switch (norm_needs(tile_mode(d), phase, carriedW)) {   // uniform across the block
        case NEED_G: tile_norms_of<NEED_G>(k, d, t, refs, vectorLoads, firstRead, clip); break;
        case NEED_W: tile_norms_of<NEED_W>(k, d, t, refs, vectorLoads, firstRead, clip); break;
        case NEED_G | NEED_W: tile_norms_of<NEED_G | NEED_W>(k, d, t, refs, vectorLoads, firstRead, clip); break;
        case NEED_W | NEED_U: tile_norms_of<NEED_W | NEED_U>(k, d, t, refs, vectorLoads, firstRead, clip); break;
        case NEED_G | NEED_W | NEED_U: tile_norms_of<NEED_G | NEED_W | NEED_U>(k, d, t, refs, vectorLoads, firstRead, clip); break;
        default: break;
    }
}

/** The norm pass of work item {@code i}: its tiles in order. */
template <typename P, typename G>
__device__ __forceinline__ void item_norms(int i, const LarsTables& t, const WalkTables& wk, const TensorRefs<P, G>& refs,
                                           int vectorLoads, int phase, bool carriedW, float clip = 1.f) {
    item_tiles(i, wk, [&](int k) { tile_norms(k, t, refs, vectorLoads, phase, carriedW, clip); });
}

/**
 * Kernel 1 of the three-launch step: the norms. One block per work item. With the global clip,
 * launched twice: the gradient pass (GRAD_ONLY), then after the clip factor (AFTER_GRAD).
 */
template <typename P, typename G>
__global__ void lars_tile_norms(LarsTables t, WalkTables wk, TensorRefs<P, G> refs, int vectorLoads, const LarsStepParams* params,
                                int phase) {
    // A step the gradient pass skipped still computes the weights' partials here (carried weight norms).
    item_norms(blockIdx.x, t, wk, refs, vectorLoads, phase, params->useCarriedW != 0,
               phase == NORMS_AFTER_GRAD ? params->clip : 1.f);
}

// ---- scalars -------------------------------------------------------------------------------

/** ||g|| of segment {@code seg} and the skip flag: the gradient pass (SKIP_STEP's, the global clip's), before any group. */
__device__ __forceinline__ void segment_grad_norm(int seg, const LarsTables& t, const LarsConsts& c, LarsStepParams* params) {
    __shared__ double warpSums[THREADS / 32];
    if (t.normMode[seg] == NORM_NONE) return;            // uniform across the block
    const double sg = segment_total(t.partG, t.tiles.segFirstTile[seg], t.tiles.segTiles[seg], warpSums);
    if (threadIdx.x != 0) return;
    if (!LARS4J_ISFINITE(sg) && c.skipNonFinite) params->skip = 1;   // benign race: every writer stores 1
    t.normG[seg] = __dsqrt_rn(sg);
    t.sumG[seg] = sg;
}

/** The gradient pass's segment norms, one block per segment item (the three-launch step with the global clip). */
__global__ void lars_grad_norms(LarsTables t, WalkTables wk, LarsConsts c, LarsStepParams* params) {
    item_segments(blockIdx.x, wk, [&](int s) { segment_grad_norm(s, t, c, params); });
}

/** The global clip of the step, by one whole block after the segments' gradient norms: the factor, the skip flag. */
__device__ __forceinline__ void global_clip(const LarsTables& t, const LarsConsts& c, LarsStepParams* params, int segments) {
    const double global = global_norm(t.sumG, nullptr, segments);
    if (threadIdx.x != 0) return;
    if (!LARS4J_ISFINITE(global) && c.skipNonFinite) params->skip = 1;
    params->clip = clip_factor(global, c.maxGradNorm);
}

/** {@link global_clip} as a launch of one block (the three-launch step). */
__global__ void lars_global_clip(LarsTables t, LarsConsts c, LarsStepParams* params, int segments) {
    global_clip(t, c, params, segments);
}

/** Kernel 2's body: norms and scalars of segment {@code seg} (docs/CANONICAL_ORDER.md section 4). */
__device__ __forceinline__ void segment_scalars(int seg, const LarsTables& t, const LarsConsts& c, LarsStepParams* params) {
    __shared__ double warpSums[THREADS / 32];
    const int mode = t.normMode[seg];
    const int first = t.tiles.segFirstTile[seg];
    const int count = t.tiles.segTiles[seg];
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
        // ||g'|| of the clip stage: the gradient pass's norm divided in float64 by the float factor.
        if (c.clipOn && params->clip != 1.f) gNorm = __ddiv_rn(gNorm, static_cast<double>(params->clip));
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
__global__ void lars_segment_scalars(LarsTables t, WalkTables wk, LarsConsts c, LarsStepParams* params) {
    item_segments(blockIdx.x, wk, [&](int s) { segment_scalars(s, t, c, params); });
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
    float clip;   // the global clip factor g is divided by as it is read (1: none)
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
__device__ __forceinline__ int update_form(const LarsConsts& c, const LarsStepParams& p) {
    return (c.lrInside ? UPD_INSIDE : (p.first ? UPD_FIRST : 0)) | (c.nesterov ? UPD_NESTEROV : 0);
}

/** The per-step part of the update's scalars. */
__device__ __forceinline__ UpdateScalars step_scalars(const LarsConsts& c, const LarsStepParams& p) {
    UpdateScalars s;
    s.lam = 0.f;
    s.scale = 0.f;
    s.mu = __double2float_rn(p.mu);                                            // momentum (MLPerf-corrected on the host)
    s.damp1 = __double2float_rn(__dsub_rn(1.0, c.dampening));
    s.negLr = -__double2float_rn(p.lr);
    s.clip = c.clipOn ? p.clip : 1.f;
    return s;
}

/**
 * The element math of the fused update. Both paths give thread j the elements 4j + q + 1024 r:
 * the canonical lanes, so that carried weight norms accumulate the new weights' squares in the
 * canonical order. {@code LA}: what the step does to Lookahead's slow weights (0 without it);
 * the carried partials are those of the weights as stored, after a sync.
 */
template <int FORM, int LA, typename P, typename G>
struct LarsUpdateOp {
    static constexpr bool readV = (FORM & UPD_FIRST) == 0;   // the first step's buffer starts as d
    using Slow = LookaheadStep<LA>;
    P* __restrict__ w;                                       // the caller's w and g never alias lars4j's v
    const G* __restrict__ g;
    float* __restrict__ v;
    float* __restrict__ slow;                                // the tile's slow weights (null without Lookahead)
    float alpha;
    UpdateScalars s;
    bool carry;
    SquareLanes aw;
    TileCentring gc;

    __device__ __forceinline__ void vec4(int e) {
        // 16-byte loads and stores; element-wise, so the same bits.
        float4 w4 = load4(reinterpret_cast<const float*>(w) + e);
        const float4 g4 = gc.centre4(load4(reinterpret_cast<const float*>(g) + e), e);
        float4 v4{};
        if constexpr (readV) v4 = load4(v + e);
        float4 s4 = Slow::before4(w4, slow, e);
        update_one<FORM>(w4.x, g4.x, v4.x, s);
        update_one<FORM>(w4.y, g4.y, v4.y, s);
        update_one<FORM>(w4.z, g4.z, v4.z, s);
        update_one<FORM>(w4.w, g4.w, v4.w, s);
        Slow::after4(w4, s4, alpha);
        store4(reinterpret_cast<float*>(w) + e, w4);
        store4(v + e, v4);
        if constexpr (Slow::writes) store4(slow + e, s4);
        if (carry) aw.add4(w4);
    }

    __device__ __forceinline__ void one(int e, int q) {
        float wv = to_f32(w[e]);
        float vv = readV ? v[e] : 0.f;
        float sv = Slow::before(wv, slow, e);
        update_one<FORM>(wv, gc.centre(to_f32(g[e]), e), vv, s);
        Slow::after(wv, sv, alpha);
        v[e] = vv;
        w[e] = from_f32<P>(wv);
        if constexpr (Slow::writes) slow[e] = sv;
        aw.add(q, to_f32(w[e]));                             // the weight as stored
    }
};

/** The fused update of tile {@code k} (docs/CANONICAL_ORDER.md section 5), by the whole block. */
template <int FORM, int LA, typename P, typename G>
__device__ __forceinline__ void update_tile(int k, const LarsTables& t, const LarsConsts& c, const TensorRefs<P, G>& refs,
                                            UpdateScalars s) {
    const TileDesc d = t.tiles.desc[k];
    const int n = tile_len(d);
    P* wp;
    const G* gp;
    tile_ptrs(d, refs, t.tiles.segOffset, wp, gp);
    s.lam = t.lamF[d.seg];                               // (float) effective weight decay
    s.scale = t.scaleF[d.seg];                           // (float)(lr*tr) INSIDE, (float) tr OUTSIDE
    const bool carry = c.carryW && tile_mode(d) == NORM_WG;   // uniform across the block
    // A segment whose norm pass reads nothing (NORM_NONE) has its g read first here.
    LarsUpdateOp<FORM, LA, P, G> op{wp, gp, t.state + d.at, LA != 0 ? t.slow + d.at : nullptr, c.lookaheadAlpha, s, carry, {},
                                    tile_centring(d, t.gc, t.tiles.segOffset, gp, tile_mode(d) == NORM_NONE, s.clip)};
    bool vec = false;
    if constexpr (std::is_same<P, float>::value && std::is_same<G, float>::value) {
        vec = c.vectorLoads && n == TILE && aligned16(op.w, op.g, op.v) && (LA == 0 || aligned16(op.slow, op.slow, op.slow));
    }
    tile_lanes(n, vec, op);
    if (carry) {
        __shared__ float warpSums[THREADS / 32];
        const float sw = op.aw.tile_total(warpSums);
        if (threadIdx.x == 0) t.partW[k] = sw;
    }
}

template <int FORM, int LA, typename P, typename G>
__device__ __forceinline__ void update_tiles(int i, const WalkTables& wk, const LarsTables& t, const LarsConsts& c,
                                             const TensorRefs<P, G>& refs, const UpdateScalars& s) {
    item_tiles(i, wk, [&](int k) { update_tile<FORM, LA>(k, t, c, refs, s); });
}

/** {@link update_tiles} with the step's Lookahead bits as a template parameter. */
template <int FORM, typename P, typename G>
__device__ __forceinline__ void update_tiles(int i, const WalkTables& wk, const LarsTables& t, const LarsConsts& c,
                                             const TensorRefs<P, G>& refs, const UpdateScalars& s, int lookahead) {
    switch (lookahead) {
        case 0: update_tiles<FORM, 0>(i, wk, t, c, refs, s); break;
        case LA_COPY: update_tiles<FORM, LA_COPY>(i, wk, t, c, refs, s); break;
        case LA_SYNC: update_tiles<FORM, LA_SYNC>(i, wk, t, c, refs, s); break;
        default: update_tiles<FORM, LA_COPY | LA_SYNC>(i, wk, t, c, refs, s); break;
    }
}

/**
 * The update of work item {@code i}: its tiles in order, with the form chosen once for all of
 * them. Nothing is written when the step is skipped (a non-finite gradient).
 */
template <typename P, typename G>
__device__ __forceinline__ void item_update(int i, const LarsTables& t, const WalkTables& wk, const LarsConsts& c,
                                            const TensorRefs<P, G>& refs, const LarsStepParams* params) {
    const LarsStepParams p = *params;
    if (p.skip) return;                                  // uniform: read after the scalars phase ended
    const UpdateScalars s = step_scalars(c, p);
    switch (update_form(c, p)) {
        case 0: update_tiles<0>(i, wk, t, c, refs, s, p.lookahead); break;
        case UPD_INSIDE: update_tiles<UPD_INSIDE>(i, wk, t, c, refs, s, p.lookahead); break;
        case UPD_NESTEROV: update_tiles<UPD_NESTEROV>(i, wk, t, c, refs, s, p.lookahead); break;
        case UPD_INSIDE | UPD_NESTEROV: update_tiles<UPD_INSIDE | UPD_NESTEROV>(i, wk, t, c, refs, s, p.lookahead); break;
        case UPD_FIRST: update_tiles<UPD_FIRST>(i, wk, t, c, refs, s, p.lookahead); break;
        default: update_tiles<UPD_FIRST | UPD_NESTEROV>(i, wk, t, c, refs, s, p.lookahead); break;
    }
}

/** Kernel 3 of the three-launch step: the fused update. One block per work item. */
template <typename P, typename G>
__global__ void lars_update(LarsTables t, WalkTables wk, LarsConsts c, TensorRefs<P, G> refs, const LarsStepParams* params) {
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
__global__ void lars_step_grouped(LarsTables t, WalkTables wk, LarsConsts c, TensorRefs<P, G> refs, LarsStepParams* params) {
    const bool carriedW = params->useCarriedW != 0;
    const bool gradPass = c.clipOn || (c.skipNonFinite && wk.groups > 1);
    if (gradPass) {
        for (int i = blockIdx.x; i < wk.items; i += gridDim.x) item_norms(i, t, wk, refs, c.vectorLoads, NORMS_GRAD_ONLY, carriedW);
        grid_sync();
        for (int i = blockIdx.x; i < wk.segItems; i += gridDim.x) {
            item_segments(i, wk, [&](int s) { segment_grad_norm(s, t, c, params); });
        }
        grid_sync();
        if (c.clipOn) {
            if (blockIdx.x == 0) global_clip(t, c, params, t.segments);
            grid_sync();
        }
        if (params->skip) {
            if (c.carryW && !carriedW) {
                for (int i = blockIdx.x; i < wk.items; i += gridDim.x) item_norms(i, t, wk, refs, c.vectorLoads, NORMS_W_ONLY, carriedW);
            }
            return;
        }
    }
    const int phase = gradPass ? NORMS_AFTER_GRAD : NORMS_FULL;
    const float clip = c.clipOn ? params->clip : 1.f;
    for (int grp = 0; grp < wk.groups; grp++) {
        const int i0 = wk.groupFirstItem[grp];
        const int i1 = wk.groupFirstItem[grp + 1];
        for (int i = i0 + static_cast<int>(blockIdx.x); i < i1; i += gridDim.x) {
            item_norms(i, t, wk, refs, c.vectorLoads, phase, carriedW, clip);
        }
        grid_sync();
        for (int i = wk.groupFirstSegItem[grp] + static_cast<int>(blockIdx.x); i < wk.groupFirstSegItem[grp + 1]; i += gridDim.x) {
            item_segments(i, wk, [&](int s) { segment_scalars(s, t, c, params); });
        }
        grid_sync();
        for (int i = i1 - 1 - static_cast<int>(blockIdx.x); i >= i0; i -= gridDim.x) item_update(i, t, wk, c, refs, params);
    }
}

// ---- the rule on the host ------------------------------------------------------------------

/**
 * LARS for the host plan: one state buffer (momentum), two with Lookahead (then the slow weights); its launch sequence is the grouped step
 * where a cooperative grid was planned, else the three launches. A cooperative grid the device
 * refuses later (MPS, or a device smaller than the one planned for) falls back to three launches
 * for good, noted once.
 */
class LarsRule final : public NativeRule {
public:
    void setConstants(const void* constants) override { c_ = *static_cast<const LarsConsts*>(constants); }

    int stateBuffers() const override { return c_.lookahead ? 2 : 1; }

    long long groupElements(Backend& backend) override {
        if (c_.groupElements >= 0) return c_.groupElements;
        // w and g (8 bytes per element) of a group fill about half the L2: the rest holds what
        // the update streams through (v, the written w) without evicting them.
        const long long l2 = backend.l2CacheBytes();
        return l2 > 0 ? std::max<long long>(TILE, l2 / 16) : 0;
    }

    bool plan(PlanContext& ctx) override {
        t_.tiles = ctx.tileTable;
        walk_ = ctx.walk;
        t_.normW = ctx.normW;
        t_.normG = ctx.normG;
        t_.trust = ctx.trust;
        t_.state = ctx.state;
        t_.slow = c_.lookahead ? ctx.state + ctx.total : nullptr;
        t_.gc = ctx.centring;
        t_.segments = ctx.segments;
        c_.cooperative = 0;
        if (c_.grouped) {
            // One cooperative launch of as many blocks as fit now (never more than items).
            const int limit = ctx.backend->cooperativeLimit(kernel_ref(lars_step_grouped<float, float>));
            if (limit > 0) c_.cooperative = std::max(1, std::min(limit, ctx.walk.items));
            else ctx.note = "cooperative launch not supported by this device; using three launches over the whole model";
        }
        const int* normMode = nullptr;
        const double* segLam = nullptr;
        if (!ctx.upload(&normMode, ctx.modes, ctx.segments) || !ctx.upload(&segLam, ctx.segLam, ctx.segments)
            || !ctx.make(&t_.partW, ctx.tiles) || !ctx.make(&t_.partG, ctx.tiles) || !ctx.make(&t_.partU, ctx.tiles)
            || !ctx.make(&t_.sumG, ctx.segments) || !ctx.make(&t_.lamF, ctx.segments) || !ctx.make(&t_.scaleF, ctx.segments) || !ctx.make(&params_, 1)) {
            return false;
        }
        t_.normMode = normMode;
        t_.segLam = segLam;
        return true;
    }

    int writeParams(PlanContext& ctx, const void* values, void* stream) override {
        const LarsStepValues& v = *static_cast<const LarsStepValues*>(values);
        // partW holds the weights' partials after any step (computed by the norm pass or carried
        // by the update), valid while the caller says the weights are as left.
        const int useCarried = c_.carryW && carryReady_ && v.weightsAsLeft;
        const LarsStepParams p{v.lr, v.mu, v.phi, v.first, 0, useCarried, lookahead_bits(v.lookaheadCopy, v.lookaheadSync), 1.f};
        const int e = ctx.backend->copy(params_, &p, sizeof p, kHostToDevice, stream);
        if (e == 0) carryReady_ = c_.carryW != 0;
        return e;
    }

    int launch(PlanContext& ctx, const TensorRefs<float, float>& refs, void* stream) override {
        int e = launchSequence(*ctx.backend, refs, stream);
        if (e == cudaErrorCooperativeLaunchTooLarge && c_.cooperative > 0) {
            ctx.note = "the device refused a cooperative launch of " + std::to_string(c_.cooperative)
                       + " blocks (cudaErrorCooperativeLaunchTooLarge: MPS, or another device); using three launches"
                         " over the whole model from now on";
            c_.cooperative = 0;
            e = launchSequence(*ctx.backend, refs, stream);
        }
        return e;
    }

    void stepFailed() override { carryReady_ = false; }

    const int* skipFlag() const override { return &params_->skip; }

    int cooperativeBlocks() const override { return c_.cooperative; }

private:
    /** One cooperative launch of the grouped step, or the three launches over the whole model. */
    int launchSequence(Backend& b, const TensorRefs<float, float>& refs, void* s) {
        const WalkTables& wk = walk_;
        // Gradient centralization: the means of rows that straddle tiles first, a launch of their own
        // (the grouped step stays one launch after it); the passes sum the others in their tiles.
        const int gm = launch_row_means(b, t_.gc, t_.tiles.segOffset, refs.gTable, refs.gBase, s);
        if (gm != 0) return gm;
        if (c_.cooperative > 0) return launch_cooperative(b, c_.cooperative, s, lars_step_grouped<float, float>, t_, wk, c_, refs, params_);
        int e = 0;
        if (c_.clipOn) {
            // The global clip: the gradient pass, its segment norms, the factor; then the norms of g / clip.
            e = kernels::launch(b, wk.items, s, lars_tile_norms<float, float>, t_, wk, refs, c_.vectorLoads, params_, NORMS_GRAD_ONLY);
            if (e == 0) e = kernels::launch(b, wk.segItems, s, lars_grad_norms, t_, wk, c_, params_);
            if (e == 0) e = kernels::launch(b, 1, s, lars_global_clip, t_, c_, params_, t_.segments);
            if (e == 0) e = kernels::launch(b, wk.items, s, lars_tile_norms<float, float>, t_, wk, refs, c_.vectorLoads, params_, NORMS_AFTER_GRAD);
        } else {
            e = kernels::launch(b, wk.items, s, lars_tile_norms<float, float>, t_, wk, refs, c_.vectorLoads, params_, NORMS_FULL);
        }
        if (e == 0) e = kernels::launch(b, wk.segItems, s, lars_segment_scalars, t_, wk, c_, params_);
        if (e == 0) e = kernels::launch(b, wk.items, s, lars_update<float, float>, t_, wk, c_, refs, params_);
        return e;
    }

    LarsConsts c_{};
    LarsTables t_{};
    WalkTables walk_{};
    LarsStepParams* params_ = nullptr;
    bool carryReady_ = false;
};

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

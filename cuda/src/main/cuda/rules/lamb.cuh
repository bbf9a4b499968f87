// LAMB, layer-wise adaptive moments (docs/MATH.md section 4): every kernel of its step, its
// constants, step values and tables, and its launch sequence, in the canonical order of
// docs/CANONICAL_ORDER.md (LAMB section), bitwise equal to the Java engine. Six launches per step
// whatever the number of segments (three without a global clip and without the non-finite check):
//
//   1. sum_squares_tiles     tile partials of g^2            [gradient-norm pass: the segmented
//   2. sum_squares_segments  per segment: float64 ||g||^2     sum of squares primitive]
//   3. lamb_global           one block: ||g|| per segment, the global norm over all segments, the
//                            clip factor, the skip flag; on the device, no host round trip
//   4. lamb_moments          per tile: m, v written; r computed; partials of r^2, w^2
//   5. lamb_segment_scalars  per segment: ||w||, ||r||, trust ratio, -(lr tr)
//   6. lamb_apply            per tile: r recomputed from m', v', w; w updated
//
// Blocks walk work items and segment items (primitives/tile_walk.cuh: several small tiles or
// segments per block). Full, 16-byte aligned fp32 tiles use float4 loads and stores:
// element-wise, and the moments pass keeps the canonical lanes, so the same bits. The decay mode
// (AdamW or L2) is a template parameter chosen once per block. With Lookahead around the rule
// (stages/lookahead.cuh), the apply pass also copies or syncs the slow weights, per element, on
// the steps that do.
//
// Rectified LAMB (docs/MATH.md section 4.4) changes only r: its rectification term is folded into
// m's divisor on the host side of the step values, and its momentum-only phase (a per-step flag,
// uniform across a launch) drops the v term.
//
// Recomputing r in the apply pass costs the same traffic as writing it to scratch and reading it
// back (docs/BYTES.md), and needs no scratch memory. Every operation is an explicit correctly
// rounded intrinsic.
#pragma once

#include <type_traits>
#include <vector>

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

/**
 * LAMB constants, filled by Java at plan time (org.lars4j.engine.cuda.NativeLars.LambConsts) and
 * passed to the kernels by value; the float ones rounded once from float64 by Java.
 */
struct LambConsts {
    float b1, b3, b2, omb2, eps;     // b3 = 1 - b1 or 1; omb2 = 1 - b2
    double gammaLower, gammaUpper, maxGradNorm;
    int adamW, phiClamp, trustClip, skipNonFinite, clipOn;
    int vectorLoads;    // float4 loads and stores on full, 16-byte aligned fp32 tiles (same bits)
    int gradNormPass;   // the gradient-norm pass runs (a global clip, or the non-finite check)
    int lookahead;      // Lookahead around the rule: a third state buffer, the slow weights
    float lookaheadAlpha;   // (float) alpha
};

/** LAMB step values, filled by Java each step (host memory). */
struct LambStepValues {
    double lr, bc1, bc2;   // bias corrections 1 - beta^t
    int lookaheadCopy;     // Lookahead: this step copies w into the slow weights (step 1 of the state)
    int lookaheadSync;     // Lookahead: this step syncs (t % k == 0)
    double rect;           // rectified LAMB's rectification term; 1 without rectification and while momentum only
    int momentumOnly;      // rectified LAMB while rho_t <= 5: r = m' / bc1
};

/** LAMB per-step values in device memory; clip and skip are written by lamb_global. */
struct LambStepParams {
    double lr, bc1, bc2, rect;
    int momentumOnly;
    float clip;
    int skip;
    int lookahead;   // LA_* bits of this step (stages/lookahead.cuh)
};

/** LAMB device tables and scratch. */
struct LambTables {
    Tiles tiles;
    const int* adapt;           // [segments] 1: trust ratio applies
    const float* lamF;          // [segments] (float) weight decay or 0
    float* partG;               // [tiles] sum g^2 (gradient-norm pass)
    float* partR;               // [tiles] sum r^2
    float* partW;               // [tiles] sum w^2
    double* sumG;               // [segments] float64 totals of g^2
    double* normW;              // [segments] diagnostics
    double* normG;
    double* trust;
    float* negScale;            // [segments] -(float)(lr * tr)
    float* m;                   // exp_avg, flat at segOffset
    float* v;                   // exp_avg_sq, flat at segOffset
    float* slow;                // Lookahead's slow weights, flat at segOffset (null without Lookahead)
    CentringTables gc;          // gradient centralization (rows 0: off); every load of g reads g - mean
};

inline namespace LARS4J_KERNEL_BUILD {

/** Kernel 3: one block. ||g|| per segment and the global norm sum_j (strided over segments) + tree; clip factor; skip flag. */
__global__ void lamb_global(LambTables t, LambConsts c, LambStepParams* params, int segments) {
    const double global = global_norm(t.sumG, t.normG, segments);   // the clip stage's norm (stages/global_clip.cuh)
    if (threadIdx.x != 0) return;
    if (!LARS4J_ISFINITE(global) && c.skipNonFinite) params->skip = 1;
    params->clip = c.clipOn ? clip_factor(global, c.maxGradNorm) : 1.f;
}

/** The per-step scalars of the moments and apply passes. */
struct LambScalars {
    float lam, clip;
    float bc1;          // m's divisor: (float) ((1 - beta1^t) / rect), rect = 1 unless rectified
    float bc2;
    int momentumOnly;   // uniform across the launch
};

/** r from the new moments (shared by the moments and apply passes: same operations, same bits). */
template <bool ADAMW>
__device__ __forceinline__ float lamb_r(float mn, float vn, float wv, const LambConsts& c, const LambScalars& s) {
    float r = __fdiv_rn(mn, s.bc1);                                                    // mh (rectified: rect * mh)
    if (!s.momentumOnly) r = __fdiv_rn(r, __fadd_rn(__fsqrt_rn(__fdiv_rn(vn, s.bc2)), c.eps));
    if constexpr (ADAMW) r = __fmaf_rn(s.lam, wv, r);        // decoupled weight decay
    return r;
}

/** The moments of one element: m, v updated in place; returns r. */
template <bool ADAMW>
__device__ __forceinline__ float lamb_moment(float wv, float gv, float& m, float& v, const LambConsts& c, const LambScalars& s) {
    float gs = __fdiv_rn(gv, s.clip);                                           // global clip (1 when off: exact)
    if constexpr (!ADAMW) gs = __fmaf_rn(s.lam, wv, gs);                        // L2 mode
    const float mn = __fmaf_rn(c.b1, m, __fmul_rn(c.b3, gs));                   // m' = b1 m + b3 g
    const float vn = __fmaf_rn(c.b2, v, __fmul_rn(c.omb2, __fmul_rn(gs, gs)));  // v' = b2 v + (1-b2) g^2
    m = mn;
    v = vn;
    return lamb_r<ADAMW>(mn, vn, wv, c, s);
}

/** The element math of the moments pass; lane i = 4*thread + q accumulates r^2 and w^2 over rounds r = 0..3 in order. */
template <bool ADAMW, typename P, typename G>
struct LambMomentsOp {
    const P* __restrict__ w;
    const G* __restrict__ g;
    float* __restrict__ m;
    float* __restrict__ v;
    const LambConsts& c;
    LambScalars s;
    SquareLanes ar, aw;
    TileCentring gc;

    __device__ __forceinline__ void vec4(int e) {
        // 16-byte loads and stores; components x..w are lanes q = 0..3 of the scalar loop.
        const float4 w4 = load4(reinterpret_cast<const float*>(w) + e);
        const float4 g4 = gc.centre4(load4(reinterpret_cast<const float*>(g) + e), e);
        float4 m4 = load4(m + e);
        float4 v4 = load4(v + e);
        float4 r4;
        r4.x = lamb_moment<ADAMW>(w4.x, g4.x, m4.x, v4.x, c, s);
        r4.y = lamb_moment<ADAMW>(w4.y, g4.y, m4.y, v4.y, c, s);
        r4.z = lamb_moment<ADAMW>(w4.z, g4.z, m4.z, v4.z, c, s);
        r4.w = lamb_moment<ADAMW>(w4.w, g4.w, m4.w, v4.w, c, s);
        store4(m + e, m4);
        store4(v + e, v4);
        ar.add4(r4);
        aw.add4(w4);
    }

    __device__ __forceinline__ void one(int e, int q) {
        const float wv = to_f32(w[e]);
        float mv = m[e];
        float vv = v[e];
        const float rv = lamb_moment<ADAMW>(wv, gc.centre(to_f32(g[e]), e), mv, vv, c, s);
        m[e] = mv;
        v[e] = vv;
        ar.add(q, rv);
        aw.add(q, wv);
    }
};

/** Kernel 4's body for tile {@code k}. */
template <bool ADAMW, typename P, typename G>
__device__ __forceinline__ void lamb_moments_tile(int k, const LambTables& t, const LambConsts& c, const TensorRefs<P, G>& refs,
                                                  LambScalars s) {
    __shared__ float warpSums[THREADS / 32];
    const TileDesc d = t.tiles.desc[k];
    const int n = tile_len(d);
    P* wp;
    const G* gp;
    tile_ptrs(d, refs, t.tiles.segOffset, wp, gp);
    s.lam = t.lamF[d.seg];
    const bool adapt = t.adapt[d.seg] != 0;
    // Without the gradient-norm pass, this is the step's first read of the tile's g.
    LambMomentsOp<ADAMW, P, G> op{wp, gp, t.m + d.at, t.v + d.at, c, s, {}, {},
                                  tile_centring(d, t.gc, t.tiles.segOffset, gp, c.gradNormPass == 0)};
    bool vec = false;
    if constexpr (std::is_same<P, float>::value && std::is_same<G, float>::value) {
        vec = c.vectorLoads && n == TILE && aligned16(op.w, op.g, op.m) && aligned16(op.v, op.v, op.v);
    }
    tile_lanes(n, vec, op);
    if (!adapt) return;                                                          // uniform across the block
    const float sr = op.ar.tile_total(warpSums);
    const float sw = op.aw.tile_total(warpSums);
    if (threadIdx.x == 0) {
        t.partR[k] = sr;
        t.partW[k] = sw;
    }
}

__device__ __forceinline__ LambScalars lamb_scalars(const LambStepParams& p) {
    LambScalars s;
    s.lam = 0.f;
    s.clip = p.clip;
    s.bc1 = __double2float_rn(__ddiv_rn(p.bc1, p.rect));     // the rectification folded into m's divisor; exact for rect = 1
    s.bc2 = __double2float_rn(p.bc2);
    s.momentumOnly = p.momentumOnly;
    return s;
}

/** Kernel 4: moments. One block per work item. */
template <typename P, typename G>
__global__ void lamb_moments(LambTables t, WalkTables wk, LambConsts c, TensorRefs<P, G> refs, const LambStepParams* params) {
    const LambStepParams p = *params;
    if (p.skip) return;
    const LambScalars s = lamb_scalars(p);
    item_tiles(blockIdx.x, wk, [&](int k) {
        if (c.adamW) lamb_moments_tile<true>(k, t, c, refs, s);
        else lamb_moments_tile<false>(k, t, c, refs, s);
    });
}

/** Kernel 5: per-segment ||w||, ||r||, trust ratio, -(float)(lr tr). One block per segment item. */
__global__ void lamb_segment_scalars(LambTables t, WalkTables wk, LambConsts c, const LambStepParams* params) {
    __shared__ double warpSums[THREADS / 32];
    if (params->skip) return;
    item_segments(blockIdx.x, wk, [&](int seg) {
        const bool adapt = t.adapt[seg] != 0;
        double sw = 0.0, sr = 0.0;
        if (adapt) {
            sw = segment_total(t.partW, t.tiles.segFirstTile[seg], t.tiles.segTiles[seg], warpSums);
            sr = segment_total(t.partR, t.tiles.segFirstTile[seg], t.tiles.segTiles[seg], warpSums);
        }
        if (threadIdx.x != 0) return;
        double tr = 1.0;
        double wNorm = LARS4J_QNAN();
        if (adapt) {
            wNorm = __dsqrt_rn(sw);
            const double rNorm = __dsqrt_rn(sr);
            if (wNorm > 0.0 && rNorm > 0.0) {
                double phi = wNorm;
                if (c.phiClamp) phi = phi < c.gammaLower ? c.gammaLower : (phi > c.gammaUpper ? c.gammaUpper : phi);
                tr = __ddiv_rn(phi, rNorm);
                if (c.trustClip && tr > 1.0) tr = 1.0;
            }
        }
        t.normW[seg] = wNorm;
        t.trust[seg] = tr;
        t.negScale[seg] = -__double2float_rn(__dmul_rn(params->lr, tr));
    });
}

/**
 * The element math of the apply pass: w' = fma(-(float)(lr tr), r, w), r recomputed from the
 * stored m', v'. {@code LA}: what the step does to Lookahead's slow weights (0 without it).
 */
template <bool ADAMW, int LA, typename P>
struct LambApplyOp {
    using Slow = LookaheadStep<LA>;
    P* __restrict__ w;
    const float* __restrict__ m;
    const float* __restrict__ v;
    float* __restrict__ slow;   // the tile's slow weights (null without Lookahead)
    const LambConsts& c;
    LambScalars s;
    float negScale;

    __device__ __forceinline__ void vec4(int e) {
        float4 w4 = load4(reinterpret_cast<const float*>(w) + e);
        const float4 m4 = load4(m + e);
        const float4 v4 = load4(v + e);
        float4 s4 = Slow::before4(w4, slow, e);
        w4.x = __fmaf_rn(negScale, lamb_r<ADAMW>(m4.x, v4.x, w4.x, c, s), w4.x);
        w4.y = __fmaf_rn(negScale, lamb_r<ADAMW>(m4.y, v4.y, w4.y, c, s), w4.y);
        w4.z = __fmaf_rn(negScale, lamb_r<ADAMW>(m4.z, v4.z, w4.z, c, s), w4.z);
        w4.w = __fmaf_rn(negScale, lamb_r<ADAMW>(m4.w, v4.w, w4.w, c, s), w4.w);
        Slow::after4(w4, s4, c.lookaheadAlpha);
        store4(reinterpret_cast<float*>(w) + e, w4);
        if constexpr (Slow::writes) store4(slow + e, s4);
    }

    __device__ __forceinline__ void one(int e) {
        const float wv = to_f32(w[e]);
        float sv = Slow::before(wv, slow, e);
        const float rv = lamb_r<ADAMW>(m[e], v[e], wv, c, s);
        float wn = __fmaf_rn(negScale, rv, wv);
        Slow::after(wn, sv, c.lookaheadAlpha);
        w[e] = from_f32<P>(wn);
        if constexpr (Slow::writes) slow[e] = sv;
    }
};

/** Kernel 6's body for tile {@code k}. */
template <bool ADAMW, int LA, typename P, typename G>
__device__ __forceinline__ void lamb_apply_tile(int k, const LambTables& t, const LambConsts& c, const TensorRefs<P, G>& refs,
                                                LambScalars s) {
    const TileDesc d = t.tiles.desc[k];
    const int n = tile_len(d);
    s.lam = t.lamF[d.seg];
    LambApplyOp<ADAMW, LA, P> op{tile_ptr(d, refs.wTable, refs.wBase, t.tiles.segOffset), t.m + d.at, t.v + d.at,
                                 LA != 0 ? t.slow + d.at : nullptr, c, s, t.negScale[d.seg]};
    bool vec = false;
    if constexpr (std::is_same<P, float>::value) {
        vec = c.vectorLoads && n == TILE && aligned16(op.w, op.m, op.v) && (LA == 0 || aligned16(op.slow, op.slow, op.slow));
    }
    tile_strided(n, vec, op);
}

/** {@link lamb_apply_tile} with the step's Lookahead bits as a template parameter. */
template <bool ADAMW, typename P, typename G>
__device__ __forceinline__ void lamb_apply_tile(int k, const LambTables& t, const LambConsts& c, const TensorRefs<P, G>& refs,
                                                const LambScalars& s, int lookahead) {
    switch (lookahead) {
        case 0: lamb_apply_tile<ADAMW, 0>(k, t, c, refs, s); break;
        case LA_COPY: lamb_apply_tile<ADAMW, LA_COPY>(k, t, c, refs, s); break;
        case LA_SYNC: lamb_apply_tile<ADAMW, LA_SYNC>(k, t, c, refs, s); break;
        default: lamb_apply_tile<ADAMW, LA_COPY | LA_SYNC>(k, t, c, refs, s); break;
    }
}

/** Kernel 6: the apply pass. One block per work item. */
template <typename P, typename G>
__global__ void lamb_apply(LambTables t, WalkTables wk, LambConsts c, TensorRefs<P, G> refs, const LambStepParams* params) {
    const LambStepParams p = *params;
    if (p.skip) return;
    const LambScalars s = lamb_scalars(p);
    item_tiles(blockIdx.x, wk, [&](int k) {
        if (c.adamW) lamb_apply_tile<true>(k, t, c, refs, s, p.lookahead);
        else lamb_apply_tile<false>(k, t, c, refs, s, p.lookahead);
    });
}

// ---- the rule on the host ------------------------------------------------------------------

/**
 * LAMB for the host plan: two state buffers (exp_avg, exp_avg_sq), three with Lookahead (then
 * the slow weights); three or six launches.
 */
class LambRule final : public NativeRule {
public:
    void setConstants(const void* constants) override { c_ = *static_cast<const LambConsts*>(constants); }

    int stateBuffers() const override { return c_.lookahead ? 3 : 2; }

    bool plan(PlanContext& ctx) override {
        t_.tiles = ctx.tileTable;
        walk_ = ctx.walk;
        segments_ = ctx.segments;
        t_.normW = ctx.normW;
        t_.normG = ctx.normG;
        t_.trust = ctx.trust;
        t_.m = ctx.state;
        t_.v = ctx.state + ctx.total;
        t_.slow = c_.lookahead ? ctx.state + 2 * ctx.total : nullptr;
        t_.gc = ctx.centring;
        std::vector<float> lamF(ctx.segments);
        for (int s = 0; s < ctx.segments; s++) lamF[s] = static_cast<float>(ctx.segLam[s]);
        const int* adapt = nullptr;
        const float* lam = nullptr;
        if (!ctx.upload(&adapt, ctx.modes, ctx.segments) || !ctx.upload(&lam, lamF.data(), ctx.segments)
            || !ctx.make(&t_.partG, ctx.tiles) || !ctx.make(&t_.partR, ctx.tiles) || !ctx.make(&t_.partW, ctx.tiles)
            || !ctx.make(&t_.sumG, ctx.segments) || !ctx.make(&t_.negScale, ctx.segments) || !ctx.make(&params_, 1)) {
            return false;
        }
        t_.adapt = adapt;
        t_.lamF = lam;
        return true;
    }

    int writeParams(PlanContext& ctx, const void* values, void* stream) override {
        const LambStepValues& v = *static_cast<const LambStepValues*>(values);
        const LambStepParams p{v.lr, v.bc1, v.bc2, v.rect, v.momentumOnly, 1.0f, 0, lookahead_bits(v.lookaheadCopy, v.lookaheadSync)};
        return ctx.backend->copy(params_, &p, sizeof p, kHostToDevice, stream);
    }

    int launch(PlanContext& ctx, const TensorRefs<float, float>& refs, void* s) override {
        Backend& b = *ctx.backend;
        const WalkTables& wk = walk_;
        // Gradient centralization: the means of rows that straddle tiles before anything reads g
        // (the first pass over a tile sums the rows inside it).
        int e = launch_row_means(b, t_.gc, t_.tiles.segOffset, refs.gTable, refs.gBase, s);
        if (e == 0 && c_.gradNormPass) {
            const SumSquaresInput<float> g{refs.gTable, refs.gBase, t_.gc};
            e = segmented_sum_squares(b, t_.tiles, wk, g, c_.vectorLoads, t_.partG, t_.sumG, s);
            if (e == 0) e = kernels::launch(b, 1, s, lamb_global, t_, c_, params_, segments_);
        }
        if (e == 0) e = kernels::launch(b, wk.items, s, lamb_moments<float, float>, t_, wk, c_, refs, params_);
        if (e == 0) e = kernels::launch(b, wk.segItems, s, lamb_segment_scalars, t_, wk, c_, params_);
        if (e == 0) e = kernels::launch(b, wk.items, s, lamb_apply<float, float>, t_, wk, c_, refs, params_);
        return e;
    }

    const int* skipFlag() const override { return &params_->skip; }

private:
    LambConsts c_{};
    LambTables t_{};
    WalkTables walk_{};
    int segments_ = 0;
    LambStepParams* params_ = nullptr;
};

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

// The kernels of a LAMB step (docs/MATH.md section 4), in the canonical order of
// docs/CANONICAL_ORDER.md (LAMB section), bitwise equal to the Java engine. Six launches per step
// whatever the number of segments (three without a global clip and without the non-finite check):
//
//   1. lars_tile_norms (NORM_G)  tile partials of g^2                      [gradient-norm pass]
//   2. lamb_segment_gsum         per segment: float64 ||g||^2               [gradient-norm pass]
//   3. lamb_global               one block: the global norm over all segments, the clip factor,
//                                the skip flag — on the device, no host round trip
//   4. lamb_moments              per tile: m, v written; r computed; partials of r^2, w^2
//   5. lamb_segment_scalars      per segment: ||w||, ||r||, trust ratio, -(lr tr)
//   6. lamb_apply                per tile: r recomputed from m', v', w; w updated
//
// Blocks walk the work items and segment items of lars_kernels.cuh (several small tiles or
// segments per block). Full, 16-byte aligned fp32 tiles use float4 loads and stores, as LARS
// does: element-wise, and the moments pass keeps the canonical lanes, so the same bits. The
// decay mode (AdamW or L2) is a template parameter chosen once per block.
//
// Bytes per parameter (float32): pass 1 reads g (4); moments reads w, g, m, v and writes m, v
// (24); apply reads w, m, v and writes w (16): 44 against the 28-byte floor of section 4
// (40 without the gradient-norm pass). Recomputing r in the apply pass costs the same as
// writing it to scratch and reading it back (4 + 4 bytes vs re-reading m and v), and needs no
// scratch memory. Every operation is an explicit correctly rounded intrinsic.
#pragma once

#include "lars_kernels.cuh"

namespace lars4j {
namespace kernels {
inline namespace LARS4J_KERNEL_BUILD {

/** Kernel 2: float64 totals of the g^2 partials of a segment item's segments. */
__global__ void lamb_segment_gsum(LambTables t, WalkTables wk) {
    __shared__ double warpSums[THREADS / 32];
    const int end = wk.segItemFirstSeg[blockIdx.x + 1];
    for (int seg = wk.segItemFirstSeg[blockIdx.x]; seg < end; seg++) {
        const double s = segment_total(t.partG, t.segFirstTile[seg], t.segTiles[seg], warpSums);
        if (threadIdx.x == 0) {
            t.sumG[seg] = s;
            t.normG[seg] = __dsqrt_rn(s);
        }
    }
}

/** Kernel 3: one block. Global norm sum_j (strided over segments) + tree; clip factor; skip flag. */
__global__ void lamb_global(LambTables t, LambConsts c, LambStepParams* params, int segments) {
    __shared__ double warpSums[THREADS / 32];
    double acc = 0.0;
    for (int k = threadIdx.x; k < segments; k += THREADS) acc = __dadd_rn(acc, t.sumG[k]);
    const double total = block_tree(acc, warpSums);
    if (threadIdx.x != 0) return;
    const double global = __dsqrt_rn(total);
    if (!LARS4J_ISFINITE(global) && c.skipNonFinite) params->skip = 1;
    double clip = 1.0;
    if (c.clipOn) {
        const double x = __ddiv_rn(global, c.maxGradNorm);
        clip = x > 1.0 ? x : 1.0;
    }
    params->clip = __double2float_rn(clip);
}

/** r from the new moments (shared by the moments and apply passes: same operations, same bits). */
template <bool ADAMW>
__device__ __forceinline__ float lamb_r(float mn, float vn, float wv, float lam, const LambConsts& c, float bc1, float bc2) {
    float r = __fdiv_rn(__fdiv_rn(mn, bc1), __fadd_rn(__fsqrt_rn(__fdiv_rn(vn, bc2)), c.eps));
    if constexpr (ADAMW) r = __fmaf_rn(lam, wv, r);          // decoupled weight decay
    return r;
}

/** The per-step scalars of the moments and apply passes. */
struct LambScalars {
    float lam, clip, bc1, bc2;
};

/** The moments of one element: m, v updated in place; returns r. */
template <bool ADAMW>
__device__ __forceinline__ float lamb_moment(float wv, float gv, float& m, float& v, const LambConsts& c, const LambScalars& s) {
    float gs = __fdiv_rn(gv, s.clip);                                           // global clip (1 when off: exact)
    if constexpr (!ADAMW) gs = __fmaf_rn(s.lam, wv, gs);                        // L2 mode
    const float mn = __fmaf_rn(c.b1, m, __fmul_rn(c.b3, gs));                   // m' = b1 m + b3 g
    const float vn = __fmaf_rn(c.b2, v, __fmul_rn(c.omb2, __fmul_rn(gs, gs)));  // v' = b2 v + (1-b2) g^2
    m = mn;
    v = vn;
    return lamb_r<ADAMW>(mn, vn, wv, s.lam, c, s.bc1, s.bc2);
}

/** Kernel 4's body for tile {@code k}. Lane i = 4*thread + q accumulates r^2 and w^2 over rounds r = 0..3 in order. */
template <bool ADAMW, typename P, typename G>
__device__ __forceinline__ void lamb_moments_tile(int k, const LambTables& t, const LambConsts& c, const TensorRefs<P, G>& refs,
                                                  LambScalars s) {
    __shared__ float warpSums[THREADS / 32];
    const TileDesc d = t.tile[k];
    const int n = tile_len(d);
    P* wp;
    const G* gp;
    tile_ptrs(d, refs, t.segOffset, wp, gp);
    const P* __restrict__ w = wp;
    const G* __restrict__ g = gp;
    float* __restrict__ m = t.m + d.at;
    float* __restrict__ v = t.v + d.at;
    s.lam = t.lamF[d.seg];
    const bool adapt = t.adapt[d.seg] != 0;
    float ar[4] = {0.f, 0.f, 0.f, 0.f};
    float aw[4] = {0.f, 0.f, 0.f, 0.f};
    bool vec = false;
    if constexpr (std::is_same<P, float>::value && std::is_same<G, float>::value) {
        vec = c.vectorLoads && n == TILE && aligned16(w, g, m) && aligned16(v, v, v);
    }
    if (vec) {
        // 16-byte loads and stores; components x..w are lanes q = 0..3 of the scalar loop.
        for (int r = 0; r < 4; r++) {
            const int e = 4 * threadIdx.x + LANES * r;
            const float4 w4 = load4(reinterpret_cast<const float*>(w) + e);
            const float4 g4 = load4(reinterpret_cast<const float*>(g) + e);
            float4 m4 = load4(m + e);
            float4 v4 = load4(v + e);
            float4 r4;
            r4.x = lamb_moment<ADAMW>(w4.x, g4.x, m4.x, v4.x, c, s);
            r4.y = lamb_moment<ADAMW>(w4.y, g4.y, m4.y, v4.y, c, s);
            r4.z = lamb_moment<ADAMW>(w4.z, g4.z, m4.z, v4.z, c, s);
            r4.w = lamb_moment<ADAMW>(w4.w, g4.w, m4.w, v4.w, c, s);
            store4(m + e, m4);
            store4(v + e, v4);
            lanes4(ar, r4);
            lanes4(aw, w4);
        }
    } else {
        for (int r = 0; r < 4; r++) {
            for (int q = 0; q < 4; q++) {
                const int e = 4 * threadIdx.x + q + LANES * r;
                if (e < n) {
                    const float wv = to_f32(w[e]);
                    float mv = m[e];
                    float vv = v[e];
                    const float rv = lamb_moment<ADAMW>(wv, to_f32(g[e]), mv, vv, c, s);
                    m[e] = mv;
                    v[e] = vv;
                    ar[q] = __fmaf_rn(rv, rv, ar[q]);
                    aw[q] = __fmaf_rn(wv, wv, aw[q]);
                }
            }
        }
    }
    if (!adapt) return;                                                          // uniform across the block
    const float sr = lanes_tree(ar, warpSums);
    const float sw = lanes_tree(aw, warpSums);
    if (threadIdx.x == 0) {
        t.partR[k] = sr;
        t.partW[k] = sw;
    }
}

__device__ __forceinline__ LambScalars lamb_scalars(const LambStepParams& p) {
    LambScalars s;
    s.lam = 0.f;
    s.clip = p.clip;
    s.bc1 = __double2float_rn(p.bc1);
    s.bc2 = __double2float_rn(p.bc2);
    return s;
}

/** Kernel 4: moments. One block per work item. */
template <typename P, typename G>
__global__ void lamb_moments(LambTables t, WalkTables wk, LambConsts c, TensorRefs<P, G> refs, const LambStepParams* params) {
    const LambStepParams p = *params;
    if (p.skip) return;
    const LambScalars s = lamb_scalars(p);
    const int end = wk.itemFirstTile[blockIdx.x + 1];
    for (int k = wk.itemFirstTile[blockIdx.x]; k < end; k++) {
        if (c.adamW) lamb_moments_tile<true>(k, t, c, refs, s);
        else lamb_moments_tile<false>(k, t, c, refs, s);
    }
}

/** Kernel 5: per-segment ||w||, ||r||, trust ratio, -(float)(lr tr). One block per segment item. */
__global__ void lamb_segment_scalars(LambTables t, WalkTables wk, LambConsts c, const LambStepParams* params) {
    __shared__ double warpSums[THREADS / 32];
    if (params->skip) return;
    const int end = wk.segItemFirstSeg[blockIdx.x + 1];
    for (int seg = wk.segItemFirstSeg[blockIdx.x]; seg < end; seg++) {
        const bool adapt = t.adapt[seg] != 0;
        double sw = 0.0, sr = 0.0;
        if (adapt) {
            sw = segment_total(t.partW, t.segFirstTile[seg], t.segTiles[seg], warpSums);
            sr = segment_total(t.partR, t.segFirstTile[seg], t.segTiles[seg], warpSums);
        }
        if (threadIdx.x != 0) continue;
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
    }
}

/** Kernel 6's body for tile {@code k}: w' = fma(-(float)(lr tr), r, w), r recomputed from the stored m', v'. */
template <bool ADAMW, typename P, typename G>
__device__ __forceinline__ void lamb_apply_tile(int k, const LambTables& t, const LambConsts& c, const TensorRefs<P, G>& refs,
                                                LambScalars s) {
    const TileDesc d = t.tile[k];
    const int n = tile_len(d);
    P* wp;
    const G* gp;
    tile_ptrs(d, refs, t.segOffset, wp, gp);
    P* __restrict__ w = wp;
    const float* __restrict__ m = t.m + d.at;
    const float* __restrict__ v = t.v + d.at;
    s.lam = t.lamF[d.seg];
    const float negScale = t.negScale[d.seg];
    bool vec = false;
    if constexpr (std::is_same<P, float>::value) {
        vec = c.vectorLoads && n == TILE && aligned16(w, m, v);
    }
    if (vec) {
        for (int r = 0; r < 4; r++) {
            const int e = 4 * threadIdx.x + LANES * r;
            float4 w4 = load4(reinterpret_cast<const float*>(w) + e);
            const float4 m4 = load4(m + e);
            const float4 v4 = load4(v + e);
            w4.x = __fmaf_rn(negScale, lamb_r<ADAMW>(m4.x, v4.x, w4.x, s.lam, c, s.bc1, s.bc2), w4.x);
            w4.y = __fmaf_rn(negScale, lamb_r<ADAMW>(m4.y, v4.y, w4.y, s.lam, c, s.bc1, s.bc2), w4.y);
            w4.z = __fmaf_rn(negScale, lamb_r<ADAMW>(m4.z, v4.z, w4.z, s.lam, c, s.bc1, s.bc2), w4.z);
            w4.w = __fmaf_rn(negScale, lamb_r<ADAMW>(m4.w, v4.w, w4.w, s.lam, c, s.bc1, s.bc2), w4.w);
            store4(reinterpret_cast<float*>(w) + e, w4);
        }
    } else {
        for (int e = threadIdx.x; e < n; e += THREADS) {
            const float wv = to_f32(w[e]);
            const float rv = lamb_r<ADAMW>(m[e], v[e], wv, s.lam, c, s.bc1, s.bc2);
            w[e] = from_f32<P>(__fmaf_rn(negScale, rv, wv));
        }
    }
}

/** Kernel 6: the apply pass. One block per work item. */
template <typename P, typename G>
__global__ void lamb_apply(LambTables t, WalkTables wk, LambConsts c, TensorRefs<P, G> refs, const LambStepParams* params) {
    const LambStepParams p = *params;
    if (p.skip) return;
    const LambScalars s = lamb_scalars(p);
    const int end = wk.itemFirstTile[blockIdx.x + 1];
    for (int k = wk.itemFirstTile[blockIdx.x]; k < end; k++) {
        if (c.adamW) lamb_apply_tile<true>(k, t, c, refs, s);
        else lamb_apply_tile<false>(k, t, c, refs, s);
    }
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

// The kernels of a LAMB step (docs/MATH.md section 4), in the canonical order of
// docs/CANONICAL_ORDER.md (LAMB section), bitwise equal to the Java engine. Six launches per step
// whatever the number of segments (three without a global clip and without the non-finite check):
//
//   1. lars_tile_norms (NORM_G)  tile partials of g^2                      [gradient-norm pass]
//   2. lamb_segment_gsum         one block per segment: float64 ||g||^2     [gradient-norm pass]
//   3. lamb_global               one block: the global norm over all segments, the clip factor,
//                                the skip flag — on the device, no host round trip
//   4. lamb_moments              one block per tile: m, v written; r computed; partials of r^2, w^2
//   5. lamb_segment_scalars      one block per segment: ||w||, ||r||, trust ratio, -(lr tr)
//   6. lamb_apply                one block per tile: r recomputed from m', v', w; w updated
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

/** Kernel 2: float64 total of a segment's g^2 partials. */
__global__ void lamb_segment_gsum(LambTables t) {
    __shared__ double warpSums[THREADS / 32];
    const int seg = blockIdx.x;
    const double s = segment_total(t.partG, t.segFirstTile[seg], t.segTiles[seg], warpSums);
    if (threadIdx.x == 0) {
        t.sumG[seg] = s;
        t.normG[seg] = __dsqrt_rn(s);
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
__device__ __forceinline__ float lamb_r(float mn, float vn, float wv, float lam, const LambConsts& c, const LambStepParams& p,
                                        float bc1, float bc2) {
    float r = __fdiv_rn(__fdiv_rn(mn, bc1), __fadd_rn(__fsqrt_rn(__fdiv_rn(vn, bc2)), c.eps));
    if (c.adamW) r = __fmaf_rn(lam, wv, r);                  // decoupled weight decay
    return r;
}

/** Kernel 4: moments. Lane i = 4*thread + q accumulates r^2 and w^2 over rounds r = 0..3 in order. */
template <typename P, typename G>
__global__ void lamb_moments(LambTables t, LambConsts c, TensorRefs<P, G> refs, const LambStepParams* params) {
    __shared__ float warpSums[THREADS / 32];
    if (params->skip) return;
    const int k = blockIdx.x;
    const int seg = t.tileSeg[k];
    const int start = t.tileStart[k];
    const int rest = t.segLen[seg] - start;
    const int n = rest < TILE ? rest : TILE;
    const P* w = seg_w(refs, t.segOffset, seg) + start;
    const G* g = seg_g(refs, t.segOffset, seg) + start;
    float* m = t.m + t.segOffset[seg] + start;
    float* v = t.v + t.segOffset[seg] + start;
    const float lam = t.lamF[seg];
    const LambStepParams p = *params;
    const float bc1 = __double2float_rn(p.bc1);
    const float bc2 = __double2float_rn(p.bc2);
    const bool adapt = t.adapt[seg] != 0;
    float ar[4] = {0.f, 0.f, 0.f, 0.f};
    float aw[4] = {0.f, 0.f, 0.f, 0.f};
    for (int r = 0; r < 4; r++) {
        for (int q = 0; q < 4; q++) {
            const int e = 4 * threadIdx.x + q + LANES * r;
            if (e < n) {
                const float wv = to_f32(w[e]);
                float gs = to_f32(g[e]);
                gs = __fdiv_rn(gs, p.clip);                                      // global clip (1 when off: exact)
                if (!c.adamW) gs = __fmaf_rn(lam, wv, gs);                       // L2 mode
                const float mn = __fmaf_rn(c.b1, m[e], __fmul_rn(c.b3, gs));     // m' = b1 m + b3 g
                const float vn = __fmaf_rn(c.b2, v[e], __fmul_rn(c.omb2, __fmul_rn(gs, gs)));  // v' = b2 v + (1-b2) g^2
                m[e] = mn;
                v[e] = vn;
                const float rv = lamb_r(mn, vn, wv, lam, c, p, bc1, bc2);
                ar[q] = __fmaf_rn(rv, rv, ar[q]);
                aw[q] = __fmaf_rn(wv, wv, aw[q]);
            }
        }
    }
    if (!adapt) return;                                                          // uniform across the block
    const float sr = block_tree(__fadd_rn(__fadd_rn(ar[0], ar[1]), __fadd_rn(ar[2], ar[3])), warpSums);
    const float sw = block_tree(__fadd_rn(__fadd_rn(aw[0], aw[1]), __fadd_rn(aw[2], aw[3])), warpSums);
    if (threadIdx.x == 0) {
        t.partR[k] = sr;
        t.partW[k] = sw;
    }
}

/** Kernel 5: per-segment ||w||, ||r||, trust ratio, -(float)(lr tr). */
__global__ void lamb_segment_scalars(LambTables t, LambConsts c, const LambStepParams* params) {
    __shared__ double warpSums[THREADS / 32];
    if (params->skip) return;
    const int seg = blockIdx.x;
    const bool adapt = t.adapt[seg] != 0;
    double sw = 0.0, sr = 0.0;
    if (adapt) {
        sw = segment_total(t.partW, t.segFirstTile[seg], t.segTiles[seg], warpSums);
        sr = segment_total(t.partR, t.segFirstTile[seg], t.segTiles[seg], warpSums);
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
}

/** Kernel 6: w' = fma(-(float)(lr tr), r, w), r recomputed from the stored m', v'. */
template <typename P, typename G>
__global__ void lamb_apply(LambTables t, LambConsts c, TensorRefs<P, G> refs, const LambStepParams* params) {
    if (params->skip) return;
    const int k = blockIdx.x;
    const int seg = t.tileSeg[k];
    const int start = t.tileStart[k];
    const int rest = t.segLen[seg] - start;
    const int n = rest < TILE ? rest : TILE;
    P* w = seg_w(refs, t.segOffset, seg) + start;
    const float* m = t.m + t.segOffset[seg] + start;
    const float* v = t.v + t.segOffset[seg] + start;
    const float lam = t.lamF[seg];
    const float negScale = t.negScale[seg];
    const LambStepParams p = *params;
    const float bc1 = __double2float_rn(p.bc1);
    const float bc2 = __double2float_rn(p.bc2);
    for (int e = threadIdx.x; e < n; e += THREADS) {
        const float wv = to_f32(w[e]);
        const float rv = lamb_r(m[e], v[e], wv, lam, c, p, bc1, bc2);
        w[e] = from_f32<P>(__fmaf_rn(negScale, rv, wv));
    }
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

// The global gradient clip (docs/MATH.md section 14, docs/CANONICAL_ORDER.md "Global gradient
// clip"), a gradient stage of every rule: g' = g / c, c = max(1, ||g||_global / maxNorm), with
// ||g||_global the float64 norm over every segment's sum(g^2) (of the centred gradient under
// gradient centralization), rounded to float once. The parts every rule's kernels share:
//
//   global_norm    one block: the sum of the segments' float64 totals (strided over the threads,
//                  then the block tree) and its square root, on thread 0;
//   clip_factor    max(1, global / maxNorm) rounded to float (NaN gives 1, +inf gives +inf);
//   TileCentring   (primitives/gradient_centralization.cuh) divides each g it loads by the factor
//                  where a rule's kernels read g through it (LAMB divides in its moments pass).
//
// The same operations in the same order as the Java engine (SegmentedSumOfSquares.sumOfTotals,
// GlobalGradientClip.factor), so the same bits.
#pragma once

#include "kernel_abi.h"
#include "launch.cuh"
#include "primitives/segmented_sum_squares.cuh"
#include "simt.cuh"

namespace lars4j {
namespace kernels {
inline namespace LARS4J_KERNEL_BUILD {

/**
 * The global norm sqrt(sum_k sumG[k]) by one whole block, valid on thread 0; {@code normG}
 * (null: not written) gets each segment's sqrt(sumG[k]).
 */
__device__ __forceinline__ double global_norm(const double* sumG, double* normG, int segments) {
    __shared__ double warpSums[THREADS / 32];
    double acc = 0.0;
    for (int k = threadIdx.x; k < segments; k += THREADS) {
        acc = __dadd_rn(acc, sumG[k]);
        if (normG) normG[k] = __dsqrt_rn(sumG[k]);
    }
    const double total = block_tree(acc, warpSums);
    return __dsqrt_rn(total);
}

/** The clip factor max(1, global / maxNorm), rounded to float once. */
__device__ __forceinline__ float clip_factor(double global, double maxNorm) {
    const double x = __ddiv_rn(global, maxNorm);
    return __double2float_rn(x > 1.0 ? x : 1.0);
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

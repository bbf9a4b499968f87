// Lookahead (docs/MATH.md and docs/CANONICAL_ORDER.md, "Lookahead"), a weight stage around
// any rule: slow weights phi, one float per parameter in the plan's state memory after the rule's
// own buffers. It has no pass of its own: the rule's weight-writing pass (LARS's update, LAMB's
// apply) runs it per element, with what a step does to phi as template bits chosen once per
// work item, like the update's form:
//
//   LA_COPY   step 1 of the state: phi = w, read before the rule's update of the element;
//   LA_SYNC   every k-th applied step: after the update, phi' = fma(alpha_f, w' - phi, phi) and
//             w' = phi' (alpha_f = (float) alpha, rounded once by Java);
//
// both on a step 1 with k = 1, neither on every other step (then phi is not touched, so such a
// step moves the rule's bytes only). The same operations as the Java engine's
// LookaheadSlowWeights, so the same bits.
#pragma once

#include "simt.cuh"

namespace lars4j {
namespace kernels {

constexpr int LA_COPY = 1;
constexpr int LA_SYNC = 2;

/** The LA_* bits of a step from the rule's step values (host side, in the rule's writeParams). */
inline int lookahead_bits(int copy, int sync) { return (copy ? LA_COPY : 0) | (sync ? LA_SYNC : 0); }

inline namespace LARS4J_KERNEL_BUILD {

/** What a weight-writing pass does with the slow weights of a step {@code LA}. */
template <int LA>
struct LookaheadStep {
    static constexpr bool copies = (LA & LA_COPY) != 0;
    static constexpr bool syncs = (LA & LA_SYNC) != 0;
    static constexpr bool reads = syncs && !copies;   // a copy step starts from w, not from the stored phi
    static constexpr bool writes = LA != 0;

    /** Before the rule's update of an element: the slow weight as the sync will see it. */
    static __device__ __forceinline__ float before(float w, const float* slow, int e) {
        if constexpr (copies) return w;
        else if constexpr (reads) return slow[e];
        else return 0.f;
    }

    /** After the rule's update: the sync of one element (w is the rule's w', phi the slow weight). */
    static __device__ __forceinline__ void after(float& w, float& phi, float alpha) {
        if constexpr (syncs) {
            phi = __fmaf_rn(alpha, __fsub_rn(w, phi), phi);
            w = phi;
        }
    }

    /** {@link #before} for four elements at once (16-byte loads). */
    static __device__ __forceinline__ float4 before4(const float4& w, const float* slow, int e) {
        if constexpr (copies) return w;
        else if constexpr (reads) return load4(slow + e);
        else return float4{};
    }

    /** {@link #after} for four elements. */
    static __device__ __forceinline__ void after4(float4& w, float4& phi, float alpha) {
        after(w.x, phi.x, alpha);
        after(w.y, phi.y, alpha);
        after(w.z, phi.z, alpha);
        after(w.w, phi.w, alpha);
    }
};

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j

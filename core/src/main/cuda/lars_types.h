// Types shared by the kernels (nvcc or the SIMT emulator) and the host plan (g++): the kernel
// ABI. Plain structs of scalars and pointers, passed to kernels by value.
#pragma once

namespace lars4j {
namespace kernels {

constexpr int TILE = 4096;     // elements per tile
constexpr int THREADS = 256;   // threads per block, every kernel
constexpr int LANES = 1024;    // 4 accumulators per thread
constexpr unsigned FULL = 0xffffffffu;

// What the norm pass computes for a segment (same values as the Java engine's plan).
constexpr int NORM_NONE = 0;   // nothing (not adapted, non-finite check off)
constexpr int NORM_G = 1;      // g only (non-finite check)
constexpr int NORM_WG = 2;     // w and g
constexpr int NORM_WGU = 3;    // w, g and u = fma(lam, w, g)

/** Rule constants, fixed when the optimizer is planned. */
struct LarsConsts {
    double eta, eps, normClamp, dampening;
    int sumOfNorms, lrInside, clip, zeroNormSkipsDecay, nesterov, skipNonFinite;
    int vectorLoads;   // float4 loads/stores on full, 16-byte aligned fp32 tiles (same bits)
    int carryW;        // carried weight norms: the update also writes the new weights' ||w||^2 partials
    int cooperative;   // 0 = three launches over the whole model, else the grid of the one grouped launch
};

/**
 * A tile, packed in 16 bytes so that a block finds everything about it in one load: where its
 * first element is in the flat form (and in the state buffers), its segment, and its length
 * (1..TILE) with the segment's norm mode in the bits above 16.
 */
struct TileDesc {
    long long at;   // segOffset[seg] + the tile's start within its segment
    int seg;
    int info;       // length | normMode << 16
};
constexpr int TILE_LEN_MASK = 0xffff;
constexpr int TILE_MODE_SHIFT = 16;

/**
 * How blocks walk the model. Work items are runs of consecutive tiles (one full tile, or small
 * tiles up to TILE elements together) that one block handles in the canonical tile order;
 * segment items are runs of consecutive segments (up to THREADS tiles and SEG_ITEM_MAX segments
 * together) whose scalars one block computes. Groups are runs of whole segments whose w and g
 * fit in about half the L2 (a longer segment is a group by itself); items never straddle one.
 */
struct WalkTables {
    const int* itemFirstTile;      // [items + 1]
    const int* segItemFirstSeg;    // [segItems + 1]
    const int* groupFirstItem;     // [groups + 1]
    const int* groupFirstSegItem;  // [groups + 1]
    int items, segItems, groups;
};
constexpr int SEG_ITEM_MAX = 32;

/** Per-step values in device memory (so that a captured graph reads fresh ones). */
struct StepParams {
    double lr, mu, phi;
    int first;        // first step of the momentum buffers (PyTorch's buffer-initialisation rule)
    int skip;         // set by lars_segment_scalars when a gradient is not finite; host resets it
    int useCarriedW;  // carried weight norms: partW already holds ||w||^2 partials of these weights
};

/** Device tables built once at plan time, plus per-step scratch. */
struct LarsTables {
    const TileDesc* tile;       // [tiles]
    const long long* segOffset; // [segments] offset in the flat form (and in the state buffer)
    const int* segFirstTile;    // [segments]
    const int* segTiles;        // [segments]
    const int* normMode;        // [segments] NORM_*
    const double* segLam;       // [segments] weightDecay or 0
    float* partW;               // [tiles] tile partials
    float* partG;
    float* partU;
    double* normW;              // [segments] diagnostics: ||w||, ||g||, trust ratio
    double* normG;
    double* trust;
    float* lamF;                // [segments] float32 scalars of the update
    float* scaleF;
    float* state;               // momentum buffers, flat, at segOffset
};

/** Where the step's tensors are: pointer tables (list form) or base + segOffset (flat form). */
template <typename P, typename G>
struct TensorRefs {
    P* const* wTable;           // null: use wBase + segOffset[seg]
    const G* const* gTable;
    P* wBase;
    const G* gBase;
};

}  // namespace kernels
}  // namespace lars4j

namespace lars4j {
namespace kernels {

/** LAMB rule constants (float ones already rounded once from float64 on the host). */
struct LambConsts {
    float b1, b3, b2, omb2, eps;     // b3 = 1 - b1 or 1; omb2 = 1 - b2
    double gammaLower, gammaUpper, maxGradNorm;
    int adamW, phiClamp, trustClip, skipNonFinite, clipOn;
    int vectorLoads;   // float4 loads and stores on full, 16-byte aligned fp32 tiles (same bits)
};

/** LAMB per-step values in device memory; clip and skip are written by lamb_global. */
struct LambStepParams {
    double lr, bc1, bc2;
    float clip;
    int skip;
};

/** LAMB device tables and scratch. */
struct LambTables {
    const TileDesc* tile;
    const long long* segOffset;
    const int* segFirstTile;
    const int* segTiles;
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
};

}  // namespace kernels
}  // namespace lars4j

// The kernel ABI every rule shares with the host plan: how the model is cut into tiles, how blocks
// walk it, where a step's tensors are. Compiled by nvcc (the GPU kernels), by g++ for the SIMT
// emulator, and by g++ for the host plan. Plain structs of scalars and pointers, passed to
// kernels by value. A rule's own constants, step values and tables are in its file (rules/).
#pragma once

namespace lars4j {
namespace kernels {

constexpr int TILE = 4096;     // elements per tile: the unit of the canonical order (docs/CANONICAL_ORDER.md)
constexpr int THREADS = 256;   // threads per block, every kernel
constexpr int LANES = 1024;    // 4 accumulators per thread
constexpr unsigned FULL = 0xffffffffu;

/**
 * A tile, packed in 16 bytes so that a block finds everything about it in one load: where its
 * first element is in the flat form (and in the state buffers), its segment, and its length
 * (1..TILE) with the rule's mode of the segment (LARS: its norm mode) in the bits above 16.
 */
struct TileDesc {
    long long at;   // segOffset[seg] + the tile's start within its segment
    int seg;
    int info;       // length | mode << 16
};
constexpr int TILE_LEN_MASK = 0xffff;
constexpr int TILE_MODE_SHIFT = 16;

/** The tile table of a plan (device memory, built once at plan time). */
struct Tiles {
    const TileDesc* desc;        // [tiles] in the canonical order
    const long long* segOffset;  // [segments] offset in the flat form (and in the state buffers)
    const int* segFirstTile;     // [segments]
    const int* segTiles;         // [segments]
};

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

/**
 * Gradient centralization's tables (device memory, built once at plan time by the host plan;
 * primitives/gradient_centralization.cuh uses them). A segment of {@code segRows[s] > 0} rows is
 * centred: element p of it (memory order) is in row (p / segInner[s]) % segRows[s], whose mean is
 * rowMean[segRowBase[s] + row]. {@code rows == 0}: no segment is centred, every pointer null.
 */
struct CentringTables {
    const int* segRows;      // [segments] rows along the output axis, 0 where not centred
    const int* segInner;     // [segments] elements between consecutive indices of the output axis
    const int* segCount;     // [segments] elements per row (the segment's length / its rows)
    const int* segRowBase;   // [segments] the segment's first row in rowMean
    const int* rowSeg;       // [rows] the segment of each row
    float* rowMean;          // [rows] this step's row means, written by gc_row_means or by the first pass reading the row's tile
    int rows;                // rows of all centred segments
    const int* prePassRow;   // [prePassRows] the rows gc_row_means sums: they straddle tiles or interleave
    int prePassRows;         // 0: every centred row lies inside one tile, and no gc_row_means launch
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

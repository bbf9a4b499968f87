package org.lars4j.engine.cpu;

import static org.lars4j.engine.cpu.CanonicalOrder.TILE;

/**
 * The Java engine's tile table: every segment cut into {@value CanonicalOrder#TILE}-element
 * tiles (docs/CANONICAL_ORDER.md section 1), numbered over the whole model in segment order.
 * Segment {@code s} owns tiles {@code [firstTile[s], firstTile[s] + tileCount[s])}; tile
 * {@code k} covers elements {@code [tileStart[k], tileStart[k] + length(k))} of segment
 * {@code tileSegment[k]}. A segment of 0 elements owns no tile. The CUDA plan builds the same
 * table; the tile is the unit of the canonical order, so both engines agree on it.
 */
final class TileTable {
    final int segments;
    final int[] segmentLength;
    final int[] firstTile;
    final int[] tileCount;
    final int[] tileSegment;
    final int[] tileStart;

    TileTable(int[] lengths) {
        segments = lengths.length;
        segmentLength = lengths.clone();
        firstTile = new int[segments];
        tileCount = new int[segments];
        int tiles = 0;
        for (int s = 0; s < segments; s++) {
            if (segmentLength[s] < 0) throw new IllegalArgumentException("segment " + s + " has a negative length");
            firstTile[s] = tiles;
            tileCount[s] = (segmentLength[s] + TILE - 1) / TILE;
            tiles += tileCount[s];
        }
        tileSegment = new int[tiles];
        tileStart = new int[tiles];
        for (int s = 0; s < segments; s++) {
            for (int k = 0; k < tileCount[s]; k++) {
                tileSegment[firstTile[s] + k] = s;
                tileStart[firstTile[s] + k] = k * TILE;
            }
        }
    }

    /** The table of a flat tensor cut at {@code offsets} (segment s is {@code [offsets[s], offsets[s+1])}). */
    static TileTable ofOffsets(int[] offsets) {
        int[] lengths = new int[Math.max(0, offsets.length - 1)];
        for (int s = 0; s < lengths.length; s++) lengths[s] = offsets[s + 1] - offsets[s];
        return new TileTable(lengths);
    }

    int tiles() { return tileSegment.length; }

    /** Elements in tile k: {@value CanonicalOrder#TILE}, or fewer for a segment's last tile. */
    int length(int k) { return Math.min(TILE, segmentLength[tileSegment[k]] - tileStart[k]); }
}

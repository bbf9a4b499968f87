package org.lars4j.engine.cpu;

import java.util.Arrays;

/**
 * The canonical reduction order of docs/CANONICAL_ORDER.md, in plain Java. Every engine (this
 * one, the CUDA kernels, the CUDA kernels on the emulator) reproduces exactly these operations,
 * which is what makes their results bitwise identical.
 *
 * <ol>
 * <li>A segment is cut into tiles of {@value #TILE} elements. A tile is reduced as by 256
 *     threads: lane {@code i} (0..1023; thread {@code j = i / 4}, {@code q = i % 4}) accumulates
 *     {@code a = fma(x, x, a)} over elements {@code i + 1024 r}, r = 0..3 in order, starting at
 *     +0.0f. Elements past the segment's end contribute nothing (the same as +0.0).</li>
 * <li>{@code s_j = (a_4j + a_4j+1) + (a_4j+2 + a_4j+3)}, then a tree inside each warp of 32
 *     ({@code s_i += s_i+off} for off = 16, 8, 4, 2, 1), then over the 8 warp sums (off = 4, 2, 1).
 *     The result is the tile partial P_k (float).</li>
 * <li>Segment total: accumulator {@code j} (0..255) sums {@code (double) P_k} for k = j, j+256, ...
 *     in increasing k, starting at 0.0; then the same two-level tree in double.</li>
 * </ol>
 */
public final class CanonicalOrder {
    /** Elements per tile. */
    public static final int TILE = 4096;
    /** Lanes (4 per thread, 256 threads) accumulating one tile. */
    public static final int LANES = 1024;
    /** Threads of the reducing block. */
    public static final int THREADS = 256;

    private CanonicalOrder() {}

    /** Step 1 for one array: lanes accumulate {@code x[off .. off+n)}, n <= TILE (lanes start at +0: the caller zeroes them). */
    static void accumulate(float[] lane, float[] x, int off, int n) {
        for (int base = 0; base < n; base += LANES) {
            int lim = Math.min(LANES, n - base);
            int o = off + base;
            for (int i = 0; i < lim; i++) {
                float v = x[o + i];
                lane[i] = Math.fma(v, v, lane[i]);
            }
        }
    }

    /**
     * Step 2: folds 1024 lanes into the tile partial, leaving the lanes as they are. The tree is
     * evaluated depth first, each warp's 32 sums of four lanes combined as soon as both operands
     * exist: the same additions on the same operands as step 2 level by level (so the same bits),
     * but every intermediate stays in a register (no scratch array, ~35% faster than the level
     * by level loops, which stored and reloaded each level).
     */
    static float foldLanes(float[] lane) {
        float w0 = warpSum(lane, 0);
        float w1 = warpSum(lane, 128);
        float w2 = warpSum(lane, 256);
        float w3 = warpSum(lane, 384);
        float w4 = warpSum(lane, 512);
        float w5 = warpSum(lane, 640);
        float w6 = warpSum(lane, 768);
        float w7 = warpSum(lane, 896);
        // The 8 warp sums (off = 4, 2, 1).
        w0 += w4;
        w1 += w5;
        w2 += w6;
        w3 += w7;
        w0 += w2;
        w1 += w3;
        return w0 + w1;
    }

    /**
     * One warp's tree over s_i = (a_4i + a_4i+1) + (a_4i+2 + a_4i+3), i = 0..31 (lanes b..b+127):
     * off 16, 8 and 4 give z_i = ((s_i + s_i+16) + (s_i+8 + s_i+24)) + ((s_i+4 + s_i+20) + (s_i+12 + s_i+28)),
     * off 2 and 1 give (z_0 + z_2) + (z_1 + z_3).
     */
    private static float warpSum(float[] lane, int b) {
        float z0 = quad(lane, b);
        float z1 = quad(lane, b + 4);
        float z2 = quad(lane, b + 8);
        float z3 = quad(lane, b + 12);
        return (z0 + z2) + (z1 + z3);
    }

    /** z_i of the warp tree; {@code p} is the first lane of s_i (s_i+k starts 4k lanes later). */
    private static float quad(float[] lane, int p) {
        return ((threadSum(lane, p) + threadSum(lane, p + 64)) + (threadSum(lane, p + 32) + threadSum(lane, p + 96)))
                + ((threadSum(lane, p + 16) + threadSum(lane, p + 80)) + (threadSum(lane, p + 48) + threadSum(lane, p + 112)));
    }

    /** s_j: thread j's four lanes, starting at lane {@code p = 4j}. */
    private static float threadSum(float[] lane, int p) {
        return (lane[p] + lane[p + 1]) + (lane[p + 2] + lane[p + 3]);
    }

    /** Step 3: the double total of {@code count} tile partials {@code p[first ..]}; acc is 256 doubles. */
    static double segmentSum(float[] p, int first, int count, double[] acc) {
        if (count == 1) return p[first]; // 0.0 + P, then additions of +0.0: exactly P
        Arrays.fill(acc, 0.0);
        for (int k = 0; k < count; k++) acc[k & (THREADS - 1)] += p[first + k];
        return tree(acc);
    }

    /**
     * The same order over doubles: accumulator j sums x[j], x[j+256], ... in increasing index,
     * then the two-level tree. LAMB's global gradient norm sums the segments' totals this way.
     */
    static double sumDoubles(double[] x, int count, double[] acc) {
        Arrays.fill(acc, 0.0);
        for (int k = 0; k < count; k++) acc[k & (THREADS - 1)] += x[k];
        return tree(acc);
    }

    /** Warp trees (off = 16..1 within each 32), then over the 8 warp sums (off = 4, 2, 1). */
    private static double tree(double[] acc) {
        for (int w = 0; w < THREADS; w += 32) {
            for (int off = 16; off > 0; off >>= 1) {
                for (int i = 0; i < off; i++) acc[w + i] += acc[w + i + off];
            }
        }
        for (int off = 4; off > 0; off >>= 1) {
            for (int i = 0; i < off; i++) acc[32 * i] += acc[32 * (i + off)];
        }
        return acc[0];
    }
}

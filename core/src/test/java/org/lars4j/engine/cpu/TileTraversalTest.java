package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.lars4j.engine.HostTensors;
import org.lars4j.engine.cpu.TileTraversal.Tile;
import org.lars4j.engine.cpu.TileTraversal.TileOp;
import org.lars4j.layout.ParamLayout;

/**
 * The tile traversal on its own, with ops written here: every tile is visited exactly once, with
 * its own segment, start and length, whatever the thread count, block size and direction; the
 * views show each tile's own w and g for every kind of host memory (arrays, heap and direct float
 * buffers, byte buffers in either byte order, read in place or staged); weights viewed for an
 * update reach the caller's memory and weights viewed for reading are never written.
 */
class TileTraversalTest {
    /** Segment lengths around the tile boundary, one-element segments, and a block-sized one. */
    private static final int[] LENGTHS = {4095, 1, 4096, 4097, 3, 8192 + 5, 1, 70_000};

    private static ParamLayout layout() {
        ParamLayout.Builder b = ParamLayout.builder();
        for (int i = 0; i < LENGTHS.length; i++) b.add("t" + i, LENGTHS[i]);
        return b.build();
    }

    private static int total() {
        int n = 0;
        for (int len : LENGTHS) n += len;
        return n;
    }

    private static int[] offsets() {
        int[] o = new int[LENGTHS.length + 1];
        for (int i = 0; i < LENGTHS.length; i++) o[i + 1] = o[i] + LENGTHS[i];
        return o;
    }

    private static float[] values(int seed) {
        float[] x = new float[total()];
        for (int i = 0; i < x.length; i++) x[i] = seed * 1000f + i;   // every element tells where it came from
        return x;
    }

    private static float read(float[] a, ByteBuffer b, int i) {
        return a != null ? a[i] : b.getFloat(4 * i);
    }

    /** The same flat values bound as the memory kind named, one tensor per segment. */
    private static HostTensors bind(String kind, float[] flat, ParamLayout layout, List<Object> keep) {
        int[] o = offsets();
        HostTensors h = new HostTensors(layout);
        List<float[]> arrays = new ArrayList<>();
        List<FloatBuffer> floats = new ArrayList<>();
        List<ByteBuffer> bytes = new ArrayList<>();
        for (int s = 0; s < LENGTHS.length; s++) {
            float[] part = java.util.Arrays.copyOfRange(flat, o[s], o[s + 1]);
            switch (kind) {
                case "arrays": arrays.add(part); break;
                case "heap-float-buffers": floats.add(FloatBuffer.wrap(part)); break;
                case "direct-float-buffers": {
                    FloatBuffer b = ByteBuffer.allocateDirect(4 * part.length).order(ByteOrder.nativeOrder()).asFloatBuffer();
                    b.put(part).clear();
                    floats.add(b);
                    break;
                }
                default: {
                    ByteOrder order = kind.equals("native-byte-buffers") ? ByteOrder.nativeOrder()
                            : ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN;
                    ByteBuffer b = ByteBuffer.allocateDirect(4 * part.length).order(order);
                    for (float v : part) b.putFloat(v);
                    b.clear();
                    bytes.add(b);
                }
            }
        }
        if (!arrays.isEmpty()) { h.bindArrays(arrays); keep.addAll(arrays); }
        if (!floats.isEmpty()) { h.bindBuffers(floats); keep.addAll(floats); }
        if (!bytes.isEmpty()) { h.bindByteBuffers(bytes); keep.addAll(bytes); }
        return h;
    }

    /** The flat values the caller's memory holds now. */
    private static float[] flatten(List<Object> keep) {
        float[] x = new float[total()];
        int at = 0;
        for (Object t : keep) {
            if (t instanceof float[]) {
                float[] a = (float[]) t;
                System.arraycopy(a, 0, x, at, a.length);
                at += a.length;
            } else if (t instanceof FloatBuffer) {
                FloatBuffer b = (FloatBuffer) t;
                for (int i = 0; i < b.capacity(); i++) x[at++] = b.get(i);
            } else {
                ByteBuffer b = (ByteBuffer) t;
                for (int i = 0; i < b.capacity() / 4; i++) x[at++] = b.getFloat(4 * i);
            }
        }
        return x;
    }

    private static final String[] KINDS = {"arrays", "heap-float-buffers", "direct-float-buffers", "native-byte-buffers", "swapped-byte-buffers"};

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void everyTileIsVisitedOnceWithItsOwnPlaceWhateverTheThreadsBlocksAndDirection(int threads) {
        TileTable table = new TileTable(LENGTHS);
        for (int blockElements : new int[] {0, 1, 5000, 40_000}) {
            try (TileTraversal traversal = new TileTraversal(table, threads, blockElements)) {
                AtomicIntegerArray visits = new AtomicIntegerArray(table.tiles());
                TileOp record = t -> {
                    visits.incrementAndGet(t.index);
                    assertEquals(table.tileSegment[t.index], t.segment);
                    assertEquals(table.tileStart[t.index], t.start);
                    assertEquals(Math.min(4096, LENGTHS[t.segment] - t.start), t.length);
                };
                traversal.forEachTile(record);
                for (int k = 0; k < table.tiles(); k++) assertEquals(1, visits.get(k), "whole model, tile " + k);
                for (boolean backwards : new boolean[] {false, true}) {
                    AtomicIntegerArray before = new AtomicIntegerArray(table.tiles());
                    for (int k = 0; k < table.tiles(); k++) before.set(k, visits.get(k));
                    int seen = 0;
                    for (int b = 0; b < traversal.blocks(); b++) {
                        assertEquals(seen, traversal.blockStart(b), "blocks are consecutive runs of whole segments");
                        seen = traversal.blockEnd(b);
                        traversal.forEachTileOfBlock(b, backwards, record);
                        int first = table.firstTile[traversal.blockStart(b)];
                        int end = seen == LENGTHS.length ? table.tiles() : table.firstTile[seen];
                        for (int k = 0; k < table.tiles(); k++) {
                            int extra = k >= first && k < end ? 1 : 0;
                            assertEquals(before.get(k) + extra, visits.get(k),
                                    "blockElements=" + blockElements + " block " + b + " tile " + k + (backwards ? " backwards" : ""));
                            before.set(k, visits.get(k));
                        }
                    }
                    assertEquals(LENGTHS.length, seen, "the blocks cover every segment");
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void viewsShowEachTilesOwnValuesInEveryKindOfMemory(boolean kernelsReadByteBuffers) {
        ParamLayout layout = layout();
        TileTable table = new TileTable(LENGTHS);
        int[] o = offsets();
        float[] w = values(1);
        float[] g = values(2);
        for (String kind : KINDS) {
            List<Object> keepW = new ArrayList<>();
            List<Object> keepG = new ArrayList<>();
            HostTensors hw = bind(kind, w, layout, keepW);
            HostTensors hg = bind(kind, g, layout, keepG);
            float[] seenW = new float[total()];
            float[] seenG = new float[total()];
            boolean inPlace = kind.equals("native-byte-buffers") && kernelsReadByteBuffers;
            try (TileTraversal traversal = new TileTraversal(table, 3, 20_000)) {
                traversal.bind(hw, hg);
                traversal.forEachTile(t -> {
                    t.viewW(kernelsReadByteBuffers);
                    t.viewG(kernelsReadByteBuffers);
                    if (inPlace) {
                        assertNull(t.wa, kind);
                        assertNotNull(t.wb, kind);
                    } else {
                        assertNotNull(t.wa, kind + ": arrays in place, everything else staged into an array");
                    }
                    int at = o[t.segment] + t.start;
                    for (int i = 0; i < t.length; i++) {
                        seenW[at + i] = read(t.wa, t.wb, t.wo + i);
                        seenG[at + i] = read(t.ga, t.gb, t.go + i);
                    }
                    // A staged read view that is written to must not reach the caller (nothing is stored back).
                    boolean staged = !kind.equals("arrays") && !kind.equals("heap-float-buffers") && !inPlace;
                    if (staged) t.wa[t.wo] = -1f;
                });
                traversal.unbind();
            }
            assertArrayEquals(w, seenW, kind + " w");
            assertArrayEquals(g, seenG, kind + " g");
            assertArrayEquals(w, flatten(keepW), kind + ": weights viewed for reading are not written back");
            assertArrayEquals(g, flatten(keepG), kind + ": gradients untouched");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void weightsViewedForAnUpdateReachTheCallersMemory(boolean kernelsReadByteBuffers) {
        ParamLayout layout = layout();
        TileTable table = new TileTable(LENGTHS);
        float[] w = values(1);
        float[] g = values(2);
        float[] want = new float[total()];
        for (int i = 0; i < want.length; i++) want[i] = Math.fma(0.5f, w[i], g[i]);
        /** w' = fma(0.5, w, g), element by element through whatever view the traversal gives. */
        class HalfWPlusG implements TileOp {
            @Override
            public void apply(Tile t) {
                t.viewWForUpdate(kernelsReadByteBuffers);
                t.viewG(kernelsReadByteBuffers);
                for (int i = 0; i < t.length; i++) {
                    float v = Math.fma(0.5f, read(t.wa, t.wb, t.wo + i), read(t.ga, t.gb, t.go + i));
                    if (t.wa != null) t.wa[t.wo + i] = v;
                    else t.wb.putFloat(4 * (t.wo + i), v);
                }
            }
        }
        TileOp op = new HalfWPlusG();
        for (String kind : KINDS) {
            for (int threads : new int[] {1, 4}) {
                List<Object> keepW = new ArrayList<>();
                HostTensors hw = bind(kind, w, layout, keepW);
                HostTensors hg = bind(kind, g, layout, new ArrayList<>());
                try (TileTraversal traversal = new TileTraversal(table, threads, 10_000)) {
                    traversal.bind(hw, hg);
                    for (int b = traversal.blocks() - 1; b >= 0; b--) traversal.forEachTileOfBlock(b, true, op);
                    traversal.unbind();
                }
                assertArrayEquals(want, flatten(keepW), kind + " threads=" + threads);
            }
        }
    }
}

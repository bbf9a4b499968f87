package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.lars4j.Lars;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;

/**
 * The tile table exists once per language: the Java engine's {@code engine.cpu.TileTable} and the
 * table the native plan builds and its kernels read. They must be mirrors (the same tiles in the
 * same order), or the canonical sums of the two engines would not be the same bits. Here the
 * native table is read back from the device and compared tile by tile.
 */
class TileTableMirrorTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void theNativeTileTableIsTheJavaEnginesTileByTile(int seed) throws Exception {
        SplittableRandom r = new SplittableRandom(seed);
        ParamLayout.Builder b = ParamLayout.builder();
        int n = 1 + r.nextInt(12);
        int[] lengths = new int[n];
        int[] edges = {1, 3, 4095, 4096, 4097, 8192, 12289, 1 << 16};
        for (int i = 0; i < n; i++) {
            lengths[i] = r.nextBoolean() ? edges[r.nextInt(edges.length)] : 1 + r.nextInt(30000);
            b.add("s" + i, lengths[i]);
        }
        ParamLayout layout = b.build();
        try (NativeEnginePlan plan = NativeEnginePlan.create("cuda-emulator", NativeEnginePlan.KIND_EMULATOR,
                Lars.builder(LarsPreset.PAPER).learningRate(0.1).config(), layout)) {
            long[][] nat = plan.tileTable();
            Class<?> tableClass = Class.forName("org.lars4j.engine.cpu.TileTable");
            Constructor<?> make = tableClass.getDeclaredConstructor(int[].class);
            make.setAccessible(true);
            Object java = make.newInstance((Object) lengths);
            Method tiles = tableClass.getDeclaredMethod("tiles");
            Method length = tableClass.getDeclaredMethod("length", int.class);
            tiles.setAccessible(true);
            length.setAccessible(true);
            int count = (int) tiles.invoke(java);
            int[] tileSegment = (int[]) field(tableClass, java, "tileSegment");
            int[] tileStart = (int[]) field(tableClass, java, "tileStart");
            assertEquals(count, nat[0].length, "tiles");
            long[] at = new long[count];
            long[] seg = new long[count];
            long[] len = new long[count];
            for (int k = 0; k < count; k++) {
                at[k] = layout.offset(tileSegment[k]) + tileStart[k];
                seg[k] = tileSegment[k];
                len[k] = (int) length.invoke(java, k);
            }
            assertArrayEquals(at, nat[0], "first element of each tile");
            assertArrayEquals(seg, nat[1], "segment of each tile");
            assertArrayEquals(len, nat[2], "length of each tile");
        }
    }

    private static Object field(Class<?> c, Object o, String name) throws Exception {
        java.lang.reflect.Field f = c.getDeclaredField(name);
        f.setAccessible(true);
        return f.get(o);
    }
}

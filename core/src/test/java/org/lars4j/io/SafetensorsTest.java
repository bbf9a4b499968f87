package org.lars4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The safetensors reader trusts nothing; the writer is atomic. */
class SafetensorsTest {
    @TempDir
    Path dir;

    /** A file with {@code header} as its JSON and {@code data} as its data section. */
    Path raw(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    void rejects(Path file, String mention) {
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> SafetensorsFile.open(file).close());
        assertTrue(e.getMessage().contains(mention), "'" + e.getMessage() + "' should mention '" + mention + "'");
        assertTrue(e.getMessage().startsWith(file.toString()), "message names the file");
    }

    @Test
    void roundTripAllFloatTypes() throws IOException {
        float[] a = {1.5f, -2.25f, 3e-3f, Float.MIN_NORMAL, -0f, 7f};
        Path p = dir.resolve("a.safetensors");
        new SafetensorsWriter().addF32("x", new int[] {2, 3}, a).addF32("s", new int[0], new float[] {4f})
                .metadata("k", "v").write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals("x", f.tensors().get(0).name());
            assertArrayEquals(new long[] {2, 3}, f.tensor("x").shape());
            assertArrayEquals(new long[0], f.tensor("s").shape());
            assertArrayEquals(a, f.readFloats("x"));
            assertEquals(Map.of("k", "v"), f.metadata());
            ByteBuffer head = ByteBuffer.wrap(Files.readAllBytes(p), 0, 8).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0, head.getLong() % 8, "header padded to a multiple of 8 bytes");
        }
        // F16, BF16, F64 widen or round to float exactly as IEEE says.
        ByteBuffer d = ByteBuffer.allocate(2 * 3 + 2 * 2 + 8 * 2).order(ByteOrder.LITTLE_ENDIAN);
        d.putShort((short) 0x3c00).putShort((short) 0xc000).putShort((short) 0x0001);   // f16: 1, -2, 2^-24
        d.putShort((short) 0x3f80).putShort((short) 0x4049);                             // bf16: 1, 3.140625
        d.putDouble(0.1).putDouble(-1e300);                                               // f64
        Path q = raw("types.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[6,10]},"
                + "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[10,26]}}", d.array());
        try (SafetensorsFile f = SafetensorsFile.open(q)) {
            assertArrayEquals(new float[] {1f, -2f, 0x1p-24f}, f.readFloats("h"));
            assertArrayEquals(new float[] {1f, 3.140625f}, f.readFloats("b"));
            assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, f.readFloats("d"));
        }
    }

    @Test
    void malformedFilesAreRejectedByName() throws IOException {
        byte[] eight = new byte[8];
        String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        Path good = raw("good", ok, eight);
        SafetensorsFile.open(good).close();

        Path tiny = dir.resolve("tiny");
        Files.write(tiny, new byte[5]);
        rejects(tiny, "shorter than the 8-byte header length");
        // Truncated: data section shorter than the tensors claim; header running past the end.
        byte[] full = Files.readAllBytes(good);
        Path truncated = dir.resolve("truncated");
        Files.write(truncated, java.util.Arrays.copyOf(full, full.length - 3));
        rejects(truncated, "truncated");
        Path cutHeader = dir.resolve("cut-header");
        Files.write(cutHeader, java.util.Arrays.copyOf(full, 20));
        rejects(cutHeader, "runs past the end");
        // Huge header length.
        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE).putLong(0);
        Path hugeFile = dir.resolve("huge");
        Files.write(hugeFile, huge.array());
        rejects(hugeFile, "header length");
        rejects(raw("json", "{\"a\": [1, 2", eight), "not valid JSON");
        rejects(raw("notobject", "[1, 2, 3]", eight), "not a JSON object");
        rejects(raw("dup", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight),
                "not valid JSON: Duplicate field 'a'");
        rejects(raw("overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight),
                "overlaps");
        rejects(raw("gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight), "belong to no tensor");
        rejects(raw("out-of-range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", eight), "tensor data ends at byte 16");
        rejects(raw("uncovered", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", eight), "cover only 4");
        rejects(raw("bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight), "has 8 bytes but shape [3] of F32 needs 12");
        rejects(raw("reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", eight), "end before begin");
        rejects(raw("negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight), "bad dimension");
        rejects(raw("dtype", "{\"a\":{\"dtype\":\"F8\",\"shape\":[8],\"data_offsets\":[0,8]}}", eight), "unknown dtype 'F8'");
        rejects(raw("nodtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "no dtype");
        rejects(raw("metadata", "{\"__metadata__\":{\"k\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "is not a string");
        rejects(raw("overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", eight), "overflows");
    }

    /** Offsets past 2 GB (a sparse file: the big tensor's bytes are never written). */
    @Test
    void filesOverTwoGigabytes() throws IOException {
        long big = (1L << 31) + 64;
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0," + big + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + big + "," + (big + 8) + "]}}";
        Path p = raw("big.safetensors", header, new byte[0]);
        long dataStart = 8 + header.getBytes(StandardCharsets.UTF_8).length;
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(dataStart + big + 8);
            f.seek(dataStart + big);
            ByteBuffer tail = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(2.5f).putFloat(-1f);
            f.write(tail.array());
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(big, f.tensor("tail").begin());
            assertArrayEquals(new float[] {2.5f, -1f}, f.readFloats("tail"));
        }
    }

    /** A write that fails midway leaves the previous file untouched and no temporary file behind. */
    @Test
    void atomicWrite() throws IOException {
        Path p = dir.resolve("state.safetensors");
        new SafetensorsWriter().addF32("x", new int[] {2}, new float[] {1, 2}).write(p);
        byte[] before = Files.readAllBytes(p);
        SafetensorsWriter failing = new SafetensorsWriter().addF32("x", new int[] {2}, new float[] {3, 4})
                .add("y", DType.F32, new long[] {1 << 20}, (from, dst) -> {
                    if (from > 0) throw new IOException("disk on fire");
                    while (dst.hasRemaining()) dst.put((byte) 0);
                });
        IOException e = assertThrows(IOException.class, () -> failing.write(p));
        assertEquals("cannot write " + p + ": disk on fire", e.getMessage(), "names the user's path, not the hidden temp");
        assertArrayEquals(before, Files.readAllBytes(p));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file is left behind");
        }
        new SafetensorsWriter().addF32("x", new int[] {2}, new float[] {3, 4}).write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(new float[] {3, 4}, f.readFloats("x"));
        }
    }
}

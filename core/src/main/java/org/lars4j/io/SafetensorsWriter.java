package org.lars4j.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a safetensors file atomically: the whole file goes to a temporary file in the target's
 * directory, is flushed and fsync'd, then renamed over the target (and the directory fsync'd).
 * A crash or an exception at any point leaves the previous file intact. Tensors are written in
 * the order they were added; the header is padded with spaces to a multiple of 8 bytes.
 */
public final class SafetensorsWriter {
    /** Supplies a tensor's little-endian bytes in order, chunk by chunk. */
    @FunctionalInterface
    public interface ByteSource {
        /** Puts up to {@code dst.remaining()} bytes starting at byte {@code from} of the tensor. */
        void fill(long from, ByteBuffer dst) throws IOException;
    }

    private static final class Entry {
        final String name; final DType dtype; final long[] shape; final long bytes; final ByteSource source;
        Entry(String name, DType dtype, long[] shape, long bytes, ByteSource source) {
            this.name = name; this.dtype = dtype; this.shape = shape; this.bytes = bytes; this.source = source;
        }
    }

    private final List<Entry> entries = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds a float32 tensor of {@code shape} (product must equal data.length). */
    public SafetensorsWriter addF32(String name, int[] shape, float[] data) {
        long[] s = new long[shape.length];
        long n = 1;
        for (int i = 0; i < shape.length; i++) {
            s[i] = shape[i];
            n *= shape[i];
        }
        if (n != data.length) throw new IllegalArgumentException("tensor '" + name + "': shape has " + n + " elements, data " + data.length);
        return add(name, DType.F32, s, (from, dst) -> {
            int first = (int) (from / 4);
            int count = dst.remaining() / 4;
            dst.asFloatBuffer().put(data, first, count);
            dst.position(dst.position() + 4 * count);
        });
    }

    /** Adds a tensor whose bytes come from {@code source}. */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, ByteSource source) {
        if (name == null || name.isEmpty() || name.equals("__metadata__")) throw new IllegalArgumentException("bad tensor name '" + name + "'");
        if (!names.add(name)) throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        entries.add(new Entry(name, dtype, shape.clone(), Math.multiplyExact(n, dtype.size()), source));
        return this;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public SafetensorsWriter metadata(Map<String, String> all) {
        metadata.putAll(all);
        return this;
    }

    /** Writes the file atomically to {@code target}. */
    public void write(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] header = header();
                ByteBuffer head = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
                head.putLong(header.length).put(header).flip();
                writeFully(ch, head);
                ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (Entry e : entries) {
                    int unit = Math.max(e.dtype.size(), 1);
                    for (long at = 0; at < e.bytes; ) {
                        buf.clear();
                        long chunk = Math.min((buf.capacity() / unit) * (long) unit, e.bytes - at);
                        buf.limit((int) chunk);
                        e.source.fill(at, buf);
                        if (buf.position() != chunk) {
                            throw new IOException("tensor '" + e.name + "': source supplied " + buf.position() + " of " + chunk + " bytes");
                        }
                        buf.flip();
                        writeFully(ch, buf);
                        at += chunk;
                    }
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot rename atomically onto " + target + ": " + e.getMessage(), e);
            }
            done = true;
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            } catch (IOException ignored) {
                // Some file systems cannot fsync a directory; the rename itself is already atomic.
            }
        } finally {
            if (!done) Files.deleteIfExists(tmp);
        }
    }

    private byte[] header() throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = root.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long at = 0;
        for (Entry e : entries) {
            ObjectNode t = root.putObject(e.name);
            t.put("dtype", e.dtype.name());
            ArrayNode s = t.putArray("shape");
            for (long d : e.shape) s.add(d);
            t.putArray("data_offsets").add(at).add(at + e.bytes);
            at += e.bytes;
        }
        byte[] raw = json.writeValueAsBytes(root);
        int padded = (raw.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(raw, 0, out, 0, raw.length);
        for (int i = raw.length; i < padded; i++) out[i] = ' ';
        return out;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

}

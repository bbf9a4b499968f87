package org.lars4j.io;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file opened for reading. The format: an 8-byte little-endian header length N, N
 * bytes of JSON ({@code {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...,
 * "__metadata__": {"k": "v"}}}), then the data section; offsets are relative to its start.
 *
 * <p>Nothing is trusted: {@link #open} checks the header length against a bound and the file
 * size, that the JSON is well-formed with no duplicate names, every dtype, shape and offset pair,
 * that byte counts equal shape x dtype size, and that the tensors cover the data section exactly,
 * without gaps or overlaps. Any violation is a {@link SafetensorsFormatException} naming the file
 * and the problem. Offsets are longs: files over 2 GB work.
 */
public final class SafetensorsFile implements Closeable {
    /** Largest header accepted (the reference implementation's bound). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> byName;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, List<TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = Collections.unmodifiableList(tensors);
        this.byName = new LinkedHashMap<>();
        for (TensorInfo t : tensors) byName.put(t.name(), t);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** Opens and validates {@code path}. */
    public static SafetensorsFile open(Path path) throws IOException {
        if (path == null) throw new IOException("path is null");
        // Path.of("") is the working directory: say what was given rather than "is a directory".
        if (path.toString().isEmpty()) throw new IOException("the path is empty");
        // Checked before opening: the OS's bare "Is a directory" names nothing, and opening a
        // FIFO for reading would block until a writer appears.
        if (Files.isDirectory(path)) throw new IOException(path + " is a directory, not a safetensors file");
        if (Files.exists(path) && !Files.isRegularFile(path)) {
            throw new IOException(path + " is not a regular file (a device, FIFO or socket), not a safetensors file");
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            return parse(path, ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) throw bad(path, "file is " + size + " bytes, shorter than the 8-byte header length");
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, len, 0);
        long n = len.flip().getLong();
        if (n < 2 || n > MAX_HEADER_BYTES) throw bad(path, "header length " + Long.toUnsignedString(n) + " is outside 2.." + MAX_HEADER_BYTES);
        if (n > size - 8) throw bad(path, "header length " + n + " runs past the end of the " + size + "-byte file (truncated?)");
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        readFully(ch, hb, 8);
        String text = new String(hb.array(), StandardCharsets.UTF_8);
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw bad(path, "header is not valid JSON: " + plain(e.getOriginalMessage()) + where(e));
        }
        if (root == null || !root.isObject()) throw bad(path, "header is not a JSON object");
        long dataStart = 8 + n;
        long dataLength = size - dataStart;
        List<TensorInfo> tensors = new ArrayList<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) throw bad(path, "__metadata__ is not an object");
                for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    if (!kv.getValue().isTextual()) throw bad(path, "__metadata__ value of '" + kv.getKey() + "' is not a string");
                    metadata.put(kv.getKey(), kv.getValue().asText());
                }
                continue;
            }
            tensors.add(tensor(path, name, v));
        }
        tensors.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long at = 0;
        for (TensorInfo t : tensors) {
            if (t.begin() < at) throw bad(path, "tensor '" + t.name() + "' [" + t.begin() + ", " + t.end() + ") overlaps the previous tensor, which ends at " + at);
            if (t.begin() > at) throw bad(path, "bytes [" + at + ", " + t.begin() + ") of the data section belong to no tensor (before '" + t.name() + "')");
            at = t.end();
        }
        if (at != dataLength) {
            throw bad(path, at > dataLength
                    ? "tensor data ends at byte " + at + " but the data section has " + dataLength + " bytes (truncated?)"
                    : "the data section has " + dataLength + " bytes but the tensors cover only " + at);
        }
        return new SafetensorsFile(path, ch, dataStart, tensors, metadata);
    }

    private static TensorInfo tensor(Path path, String name, JsonNode v) throws SafetensorsFormatException {
        if (name.isEmpty()) throw bad(path, "a tensor has an empty name");
        if (!v.isObject()) throw bad(path, "entry '" + name + "' is not an object");
        JsonNode dt = v.get("dtype");
        JsonNode sh = v.get("shape");
        JsonNode off = v.get("data_offsets");
        if (dt == null || !dt.isTextual()) throw bad(path, "tensor '" + name + "' has no dtype string");
        DType dtype = DType.parse(dt.asText());
        if (dtype == null) throw bad(path, "tensor '" + name + "' has unknown dtype '" + dt.asText() + "'");
        if (sh == null || !sh.isArray()) throw bad(path, "tensor '" + name + "' has no shape array");
        long[] shape = new long[sh.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw bad(path, "tensor '" + name + "' has a bad dimension " + d + " in its shape");
            }
            shape[i] = d.asLong();
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException ex) {
                throw bad(path, "tensor '" + name + "' shape " + sh + " overflows");
            }
        }
        if (off == null || !off.isArray() || off.size() != 2) throw bad(path, "tensor '" + name + "' needs data_offsets [begin, end]");
        for (JsonNode o : off) {
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.asLong() < 0) {
                throw bad(path, "tensor '" + name + "' has a bad data offset " + o);
            }
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (end < begin) throw bad(path, "tensor '" + name + "' has data_offsets [" + begin + ", " + end + "] with end before begin");
        long expected;
        try {
            expected = Math.multiplyExact(elements, (long) dtype.size());
        } catch (ArithmeticException ex) {
            throw bad(path, "tensor '" + name + "' byte size overflows");
        }
        if (end - begin != expected) {
            throw bad(path, "tensor '" + name + "' has " + (end - begin) + " bytes but shape " + sh + " of " + dtype + " needs " + expected);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** " (line L, column C)" of a JSON error, or nothing where Jackson knows no location. */
    private static String where(JsonProcessingException e) {
        JsonLocation l = e.getLocation();
        return l == null || l.getLineNr() < 1 ? "" : " (line " + l.getLineNr() + ", column " + l.getColumnNr() + ")";
    }

    /**
     * Jackson's message without its parser internals: some messages embed a location of their
     * own ("(start marker at [Source: REDACTED (`StreamReadFeature...` disabled); line: 1...])"),
     * which says nothing to a user; the part before it does.
     */
    static String plain(String message) {
        if (message == null) return "malformed";
        String m = message;
        for (String cut : new String[] {" (start marker at", "\n at [Source", " at [Source", "[Source:"}) {
            int i = m.indexOf(cut);
            if (i >= 0) m = m.substring(0, i);
        }
        m = m.replace('\n', ' ').strip();
        return m.isEmpty() ? "malformed" : m;
    }

    private static SafetensorsFormatException bad(Path path, String what) {
        return new SafetensorsFormatException(path + ": " + what);
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long at = position;
        while (b.hasRemaining()) {
            int r = ch.read(b, at);
            if (r < 0) throw new SafetensorsFormatException("unexpected end of file at byte " + at);
            at += r;
        }
    }

    public Path path() { return path; }

    /** Tensors in data order. */
    public List<TensorInfo> tensors() { return tensors; }

    /** The named tensor, or null. */
    public TensorInfo tensor(String name) { return byName.get(name); }

    /** The {@code __metadata__} map (empty if absent). */
    public Map<String, String> metadata() { return metadata; }

    /** The tensor's elements as float32 (F32 as is; F64 rounded; F16/BF16 widened exactly). */
    public float[] readFloats(String name) throws IOException {
        TensorInfo t = byName.get(name);
        if (t == null) throw new SafetensorsFormatException(path + ": no tensor '" + name + "'");
        if (!t.dtype().isFloat()) throw new SafetensorsFormatException(path + ": tensor '" + name + "' is " + t.dtype() + ", not a float type");
        long n = t.elements();
        if (n > Integer.MAX_VALUE - 8) throw new SafetensorsFormatException(path + ": tensor '" + name + "' has too many elements for one array");
        float[] out = new float[(int) n];
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        int size = t.dtype().size();
        long pos = dataStart + t.begin();
        int done = 0;
        while (done < out.length) {
            buf.clear();
            int want = (int) Math.min(buf.capacity() / size, out.length - done) * size;
            buf.limit(want);
            readFully(channel, buf, pos);
            buf.flip();
            pos += want;
            int count = want / size;
            switch (t.dtype()) {
                case F32: buf.asFloatBuffer().get(out, done, count); break;
                case F64: for (int i = 0; i < count; i++) out[done + i] = (float) buf.getDouble(); break;
                case F16: for (int i = 0; i < count; i++) out[done + i] = halfToFloat(buf.getShort()); break;
                case BF16: for (int i = 0; i < count; i++) out[done + i] = Float.intBitsToFloat((buf.getShort() & 0xffff) << 16); break;
                default: throw new AssertionError(t.dtype());
            }
            done += count;
        }
        return out;
    }

    /** IEEE binary16 to float32, exactly (Float.float16ToFloat arrived only in Java 20). */
    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));   // Inf, NaN
        if (exp == 0) {                                                                     // zero, subnormal
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    @Override
    public void close() throws IOException { channel.close(); }
}

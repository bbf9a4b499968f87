package org.lars4j.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
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
import java.util.concurrent.ConcurrentHashMap;

/**
 * Writes a safetensors file atomically: the whole file goes to a temporary file in the target's
 * directory ({@code .<name>.lars4j-<pid>-<random>.tmp}), is flushed and fsync'd, then renamed
 * over the target (and the directory fsync'd). A crash or an exception at any point leaves the
 * previous file intact; a temp left by a killed writer is removed by the next write of the same
 * target. Only regular files are replaced (a symbolic link is written through), and a replaced
 * file keeps its mode. Tensors are written in
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

    /**
     * Writes the file atomically to {@code target}: {@link #prepare} then {@link Pending#commit}.
     *
     * @throws IOException naming {@code target} (never the hidden temporary file) when the target
     *     is a directory, device, FIFO or socket, its directory is missing or not writable, or a
     *     write or the rename fails; the previous file, if any, is then left as it was
     */
    public void write(Path target) throws IOException {
        try (Pending p = prepare(target)) {
            p.commit();
        }
    }

    /**
     * First half of an atomic write: checks {@code target} ({@link #checkTarget}), removes temps
     * that an earlier, killed writer of the same target left behind, writes the whole file to a
     * new temp next to it (mode: that of the file being replaced, or 0666 less the umask for a new
     * one), flushes and fsyncs it. Nothing is visible at {@code target} until {@link
     * Pending#commit()}; closing an uncommitted {@code Pending} deletes the temp, and so does a
     * normal JVM exit (SIGTERM, SIGINT, System.exit) before the commit.
     */
    public Pending prepare(Path target) throws IOException {
        Path real = checkTarget(target);
        removeStaleTemps(real);
        Path tmp = real.resolveSibling(tempPrefix(real) + ProcessHandle.current().pid() + "-"
                + Long.toUnsignedString(RANDOM.nextLong(), 36) + TEMP_SUFFIX);
        Pending pending = new Pending(target, real, tmp);
        boolean ok = false;
        try {
            // CREATE_NEW without attributes: the umask decides the mode of a new file. The temp is
            // created and registered for the exit hook in one step under its lock, so that a
            // SIGTERM at any moment finds it registered or not yet created.
            FileChannel opened;
            synchronized (COMMIT_LOCK) {
                if (exiting) throw new IOException("the JVM is exiting");
                opened = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                LIVE_TEMPS.add(tmp);
            }
            try (FileChannel ch = opened) {
                if (Files.exists(real)) copyMode(real, tmp);
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
            ok = true;
            return pending;
        } catch (IOException e) {
            throw new IOException("cannot write " + target + ": " + reason(e), e);
        } finally {
            if (!ok) pending.close();
        }
    }

    /**
     * The regular file a write to {@code target} replaces or creates, with symbolic links
     * resolved: a link is written through (its target file is replaced atomically, the link
     * stays). Refuses, naming {@code target}: a directory, a device, FIFO or socket (never
     * replaced), a link to a missing file, and a missing or unwritable directory.
     */
    public static Path checkTarget(Path target) throws IOException {
        if (target == null) throw new IOException("output path is null");
        Path abs = target.toAbsolutePath();
        if (Files.exists(abs)) {
            Path real = abs.toRealPath();
            if (Files.isDirectory(real)) throw new IOException(target + " is a directory; refusing to replace it");
            if (!Files.isRegularFile(real)) {
                throw new IOException(target + " is not a regular file (a device, FIFO or socket); refusing to replace it");
            }
            if (!Files.isWritable(real.getParent())) throw new IOException("cannot write " + target + ": directory " + real.getParent() + " is not writable");
            return real;
        }
        if (Files.isSymbolicLink(abs)) throw new IOException(target + " is a symbolic link to a missing file; refusing to write through it");
        Path parent = abs.getParent();
        if (parent == null || !Files.isDirectory(parent)) throw new IOException("cannot write " + target + ": directory " + parent + " does not exist");
        if (!Files.isWritable(parent)) throw new IOException("cannot write " + target + ": directory " + parent + " is not writable");
        return parent.toRealPath().resolve(abs.getFileName());
    }

    /**
     * Deletes the temps of {@code target} left by writers that no longer run (killed with
     * SIGKILL, power loss): their names carry the writer's process id, and a temp of a process
     * that is still alive (another writer right now) is left alone. Returns how many were removed.
     */
    public static int removeStaleTemps(Path target) throws IOException {
        Path real = target.toAbsolutePath();
        Path dir = real.getParent();
        String prefix = tempPrefix(real);
        int removed = 0;
        if (dir == null || !Files.isDirectory(dir)) return 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> {
            String n = p.getFileName().toString();
            return n.startsWith(prefix) && n.endsWith(TEMP_SUFFIX);
        })) {
            for (Path p : ds) {
                String middle = p.getFileName().toString().substring(prefix.length());
                int dash = middle.indexOf('-');
                long pid;
                try {
                    pid = Long.parseLong(dash < 0 ? middle : middle.substring(0, dash));
                } catch (NumberFormatException e) {
                    continue;   // not one of ours
                }
                boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                if (!alive && Files.deleteIfExists(p)) removed++;
            }
        }
        return removed;
    }

    /** Whether {@code file} is a temp this writer makes (for tests and clean-up checks). */
    public static boolean isTemp(Path file) {
        String n = file.getFileName().toString();
        return n.startsWith(".") && n.contains(TEMP_MARK) && n.endsWith(TEMP_SUFFIX);
    }

    /** A file written to a temp next to its target, not yet renamed over it. */
    public static final class Pending implements Closeable {
        private final Path target;
        private final Path real;
        private final Path temp;
        private boolean committed;
        private boolean kept;

        private Pending(Path target, Path real, Path temp) {
            this.target = target;
            this.real = real;
            this.temp = temp;
        }

        /** The path the caller asked for. */
        public Path target() { return target; }

        /** The regular file that {@link #commit()} replaces (links resolved). */
        public Path resolvedTarget() { return real; }

        /** The hidden temp holding the complete file. */
        public Path temp() { return temp; }

        /**
         * Keeps the temp on a JVM exit and on {@link #close()} before the commit: for callers that
         * record it in a journal of their own (a pair of files committed together) and finish the
         * rename after a crash.
         */
        public void keepOnExit() {
            kept = true;
            LIVE_TEMPS.remove(temp);
        }

        /** Renames the temp over the target atomically and fsyncs the directory. */
        public void commit() throws IOException {
            if (committed) return;
            synchronized (COMMIT_LOCK) {
                try {
                    Files.move(temp, real, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    throw new IOException("cannot rename atomically onto " + target + ": " + e.getReason(), e);
                } catch (IOException e) {
                    throw new IOException("cannot replace " + target + ": " + reason(e), e);
                }
                committed = true;
                LIVE_TEMPS.remove(temp);
            }
            syncDirectory(real.getParent());
        }

        /** Deletes the temp unless committed or kept for a journal. */
        @Override
        public void close() throws IOException {
            if (!committed && !kept) {
                LIVE_TEMPS.remove(temp);
                Files.deleteIfExists(temp);
            }
        }
    }

    /** Fsyncs a directory so that a rename in it is durable; some file systems cannot. */
    public static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException ignored) {
            // Some file systems cannot fsync a directory; the rename itself is already atomic.
        }
    }

    /**
     * Held while a commit renames files: the shutdown hook waits for it, so that SIGTERM during
     * a commit lets the commit finish instead of stopping between two renames.
     */
    public static final Object COMMIT_LOCK = new Object();

    private static final String TEMP_MARK = ".lars4j-";
    private static final String TEMP_SUFFIX = ".tmp";
    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();
    private static final Set<Path> LIVE_TEMPS = ConcurrentHashMap.newKeySet();
    private static boolean exiting;   // guarded by COMMIT_LOCK

    static {
        // Temps of writes in progress are deleted on a normal exit (SIGTERM, SIGINT,
        // System.exit); only SIGKILL or a power loss leave one, and the next write removes it.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (COMMIT_LOCK) {
                exiting = true;
                for (Path p : LIVE_TEMPS) {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException ignored) {
                        // best effort while the JVM exits
                    }
                }
            }
        }, "lars4j-temp-cleanup"));
    }

    private static String tempPrefix(Path real) {
        return "." + real.getFileName() + TEMP_MARK;
    }

    private static void copyMode(Path from, Path to) {
        try {
            Files.setPosixFilePermissions(to, Files.getPosixFilePermissions(from));
        } catch (UnsupportedOperationException | IOException ignored) {
            // not a POSIX file system: the platform default applies
        }
    }

    /** The OS's reason without the temp's path (FileSystemException prefixes its file names). */
    public static String reason(IOException e) {
        if (e instanceof java.nio.file.FileSystemException) {
            String r = ((java.nio.file.FileSystemException) e).getReason();
            if (r != null) return r;
            return e.getClass().getSimpleName();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
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

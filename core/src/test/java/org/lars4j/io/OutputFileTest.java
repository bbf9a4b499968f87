package org.lars4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the safetensors writer guarantees about the files it replaces and the temps it makes. */
class OutputFileTest {
    @TempDir
    Path dir;

    static SafetensorsWriter small(float v) {
        return new SafetensorsWriter().addF32("x", new int[] {2}, new float[] {v, v});
    }

    static float first(Path p) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            return f.readFloats("x")[0];
        }
    }

    List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    static void sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertEquals(0, p.waitFor(), String.join(" ", cmd));
    }

    @Test
    void aDirectoryAFifoOrADeviceAtTheTargetIsRefusedAndLeftAsItWas() throws Exception {
        Path sub = Files.createDirectory(dir.resolve("sub"));
        IOException d = assertThrows(IOException.class, () -> small(1).write(sub));
        assertEquals(sub + " is a directory; refusing to replace it", d.getMessage());
        assertTrue(Files.isDirectory(sub));

        Path fifo = dir.resolve("fifo");
        sh("mkfifo", fifo.toString());
        IOException f = assertThrows(IOException.class, () -> small(1).write(fifo));
        assertEquals(fifo + " is not a regular file (a device, FIFO or socket); refusing to replace it", f.getMessage());
        assertEquals(0010000, ((Integer) Files.getAttribute(fifo, "unix:mode")) & 0170000, "still a FIFO");

        // /dev/null is a character device everywhere; as root, the old writer replaced such a node.
        Path dev = Path.of("/dev/null");
        IOException e = assertThrows(IOException.class, () -> small(1).write(dev));
        assertTrue(e.getMessage().startsWith("/dev/null is not a regular file"), e.getMessage());
        assertEquals(0020000, ((Integer) Files.getAttribute(dev, "unix:mode")) & 0170000, "still a character device");
        assertEquals(List.of("fifo", "sub"), names(), "no temp anywhere");
    }

    @Test
    void aSymbolicLinkIsWrittenThroughAndStaysALink() throws Exception {
        Path real = dir.resolve("real.safetensors");
        small(1).write(real);
        Path link = Files.createSymbolicLink(dir.resolve("link.safetensors"), real.getFileName());
        small(2).write(link);
        assertTrue(Files.isSymbolicLink(link), "the link is kept");
        assertEquals(2f, first(real), "its target holds the new file");
        assertEquals(List.of("link.safetensors", "real.safetensors"), names());

        Path dangling = Files.createSymbolicLink(dir.resolve("dangling"), dir.resolve("missing"));
        IOException e = assertThrows(IOException.class, () -> small(3).write(dangling));
        assertEquals(dangling + " is a symbolic link to a missing file; refusing to write through it", e.getMessage());
        assertFalse(Files.exists(dir.resolve("missing")));
    }

    @Test
    void aMissingDirectoryIsNamedInTheError() {
        Path p = dir.resolve("no/such/dir/x.safetensors");
        IOException e = assertThrows(IOException.class, () -> small(1).write(p));
        assertEquals("cannot write " + p + ": directory " + dir.resolve("no/such/dir") + " does not exist", e.getMessage());
    }

    @Test
    void aReplacedFileKeepsItsModeAndANewFileFollowsTheUmask() throws Exception {
        Path p = dir.resolve("p.safetensors");
        small(1).write(p);
        Process um = new ProcessBuilder("sh", "-c", "umask").start();
        int umask = Integer.parseInt(new String(um.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip(), 8);
        um.waitFor();
        int mode = ((Integer) Files.getAttribute(p, "unix:mode")) & 0777;
        assertEquals(0666 & ~umask, mode, "new file: 0666 less the umask " + Integer.toOctalString(umask));
        for (String perms : new String[] {"rw-r--r--", "rw-------", "rw-rw-r--"}) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
            small(2).write(p);
            assertEquals(perms, PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), "replaced in place");
        }
    }

    @Test
    void aTempLeftByAKilledWriterIsRemovedByTheNextWriteOfTheSameTarget() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long dead = gone.pid();
        long alive = ProcessHandle.current().pid();
        Path stale = dir.resolve(".p.safetensors.lars4j-" + dead + "-abc.tmp");
        Path busy = dir.resolve(".p.safetensors.lars4j-" + alive + "-def.tmp");
        Path other = dir.resolve(".q.safetensors.lars4j-" + dead + "-ghi.tmp");
        for (Path t : new Path[] {stale, busy, other}) Files.write(t, new byte[1000]);
        small(1).write(dir.resolve("p.safetensors"));
        assertFalse(Files.exists(stale), "the dead writer's temp is removed");
        assertTrue(Files.exists(busy), "a live writer's temp is left alone");
        assertTrue(Files.exists(other), "another target's temp is left alone");
    }

    @Test
    void aRenameThatFailsNamesTheUsersPathAndLeavesNoTemp() throws Exception {
        Path p = dir.resolve("p.safetensors");
        try (SafetensorsWriter.Pending pending = small(1).prepare(p)) {
            // The target becomes a non-empty directory between the write and the rename.
            Files.createDirectories(p.resolve("inside"));
            IOException e = assertThrows(IOException.class, pending::commit);
            assertTrue(e.getMessage().startsWith("cannot replace " + p + ": "), e.getMessage());
            assertFalse(e.getMessage().contains(".tmp"), "the hidden temp is not named: " + e.getMessage());
        }
        assertEquals(List.of("p.safetensors"), names(), "closing the uncommitted write removed its temp");
    }

    /** Child for {@link #sigtermRemovesTheTempOfAWriteInProgress}: writes slowly to args[0]. */
    public static void main(String[] args) throws IOException {
        new SafetensorsWriter().add("x", DType.F32, new long[] {1 << 22}, (from, dst) -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            while (dst.hasRemaining()) dst.put((byte) 0);
        }).write(Path.of(args[0]));
    }

    @Test
    void sigtermRemovesTheTempOfAWriteInProgress() throws Exception {
        Path target = dir.resolve("slow.safetensors");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), OutputFileTest.class.getName(), target.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (names().stream().noneMatch(n -> n.endsWith(".tmp"))) {
                assertTrue(System.nanoTime() < deadline, "the child never started writing");
                assertTrue(child.isAlive(), () -> "the child exited early: " + child.exitValue());
                Thread.sleep(5);
            }
            child.destroy();   // SIGTERM
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            assertEquals(143, child.exitValue(), "ended by SIGTERM");
        } finally {
            child.destroyForcibly();
        }
        assertEquals(List.of(), names(), "neither a temp nor a partial target");
    }

    @Test
    void aPendingWriteIsInvisibleUntilCommitted() throws Exception {
        Path p = dir.resolve("p.safetensors");
        small(1).write(p);
        byte[] before = Files.readAllBytes(p);
        try (SafetensorsWriter.Pending pending = small(2).prepare(p)) {
            assertArrayEquals(before, Files.readAllBytes(p));
            assertTrue(SafetensorsWriter.isTemp(pending.temp()));
            pending.commit();
        }
        assertEquals(2f, first(p));
        assertEquals(List.of("p.safetensors"), names());
    }
}

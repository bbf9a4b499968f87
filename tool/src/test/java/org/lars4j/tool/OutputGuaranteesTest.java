package org.lars4j.tool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.io.SafetensorsFile;
import org.lars4j.io.SafetensorsWriter;
import org.lars4j.rule.lars.LarsPreset;

/** What `./lars4j step` guarantees about its two output files (README, "Output files"). */
class OutputGuaranteesTest {
    @TempDir
    Path dir;

    Path write(String name, float[][] t) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        for (int i = 0; i < ToolTest.NAMES.length; i++) w.addF32(ToolTest.NAMES[i], ToolTest.SHAPES[i], t[i]);
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    Object[] step(String... extra) {
        List<String> args = new ArrayList<>(List.of("step", "--backend", "cpu", "--threads", "1"));
        args.addAll(Arrays.asList(extra));
        return ToolTest.run(args.toArray(new String[0]));
    }

    static String err(Object[] r) { return ((String) r[2]).strip(); }

    @Test
    void aDeviceAFifoOrADirectoryAtOutIsRefusedAndNothingIsWritten() throws Exception {
        Path p = write("p.safetensors", ToolTest.random(1, 1));
        Path g = write("g.safetensors", ToolTest.random(2, 0.01));
        Path fifo = dir.resolve("fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        Path sub = Files.createDirectory(dir.resolve("sub"));
        Path so = dir.resolve("so.safetensors");
        String[][] cases = {
            {"/dev/null", "/dev/null is not a regular file (a device, FIFO or socket); refusing to replace it"},
            {fifo.toString(), fifo + " is not a regular file (a device, FIFO or socket); refusing to replace it"},
            {sub.toString(), sub + " is a directory; refusing to replace it"},
        };
        for (String[] c : cases) {
            Object[] r = step("--params", p.toString(), "--grads", g.toString(), "--out", c[0], "--state-out", so.toString());
            assertEquals(1, r[0], c[0]);
            assertEquals("lars4j step: " + c[1], err(r));
            assertFalse(Files.exists(so), "nothing written for " + c[0]);
        }
        assertEquals(0020000, ((Integer) Files.getAttribute(Path.of("/dev/null"), "unix:mode")) & 0170000, "still a device");
        assertEquals(0010000, ((Integer) Files.getAttribute(fifo, "unix:mode")) & 0170000, "still a FIFO");
        assertEquals(List.of("fifo", "g.safetensors", "p.safetensors", "sub"), names());
    }

    @Test
    void aSymlinkAtOutIsWrittenThroughToItsTarget() throws Exception {
        Path p = write("p.safetensors", ToolTest.random(1, 1));
        Path g = write("g.safetensors", ToolTest.random(2, 0.01));
        Path target = write("target.safetensors", ToolTest.random(3, 1));
        Path link = Files.createSymbolicLink(dir.resolve("link.safetensors"), target.getFileName());
        Object[] r = step("--params", p.toString(), "--grads", g.toString(), "--out", link.toString(),
                "--state-out", dir.resolve("s.safetensors").toString());
        assertEquals(0, r[0], err(r));
        assertTrue(Files.isSymbolicLink(link));
        float[][] got = ToolTest.read(target);
        assertNotEquals(ToolTest.random(3, 1)[0][0], got[0][0], "the link's target holds the new parameters");
    }

    @Test
    void theSameFileTwiceIsAUsageErrorBeforeAnyWork() throws Exception {
        Path p = write("p.safetensors", ToolTest.random(1, 1));
        Path g = write("g.safetensors", ToolTest.random(2, 0.01));
        Path x = dir.resolve("x.safetensors");
        Object[] r = step("--params", p.toString(), "--grads", g.toString(), "--out", x.toString(), "--state-out", x.toString());
        assertEquals(2, r[0]);
        assertEquals("lars4j: --out and --state-out name the same file (" + x + "); the parameters would be lost (see --help)", err(r));
        // The same file through a link, and through "dir/../".
        Files.write(x, new byte[0]);
        Path alias = Files.createSymbolicLink(dir.resolve("alias"), x);
        for (String other : new String[] {alias.toString(), dir.resolve("sub/../x.safetensors").toString()}) {
            Files.createDirectories(dir.resolve("sub"));
            Object[] a = step("--params", p.toString(), "--grads", g.toString(), "--out", x.toString(), "--state-out", other);
            assertEquals(2, a[0], other);
        }
        assertEquals(0, Files.size(x), "untouched");
        Object[] gr = step("--params", p.toString(), "--grads", g.toString(), "--out", g.toString(), "--state-out", dir.resolve("s").toString());
        assertEquals(2, gr[0], "--out over --grads");
    }

    @Test
    void aStateOutInAMissingDirectoryWritesNeitherFileAndIsSaidBeforeAnyInputIsRead() throws Exception {
        Path p = write("p.safetensors", ToolTest.random(1, 1));
        Path g = dir.resolve("g.safetensors");   // missing: the destination is checked first
        Path out = dir.resolve("out.safetensors");
        Path so = dir.resolve("missing/s.safetensors");
        Object[] r = step("--params", p.toString(), "--grads", g.toString(), "--out", out.toString(), "--state-out", so.toString());
        assertEquals(1, r[0]);
        assertEquals("lars4j step: cannot write " + so + ": directory " + dir.resolve("missing") + " does not exist", err(r));
        assertEquals(List.of("p.safetensors"), names(), "--out was not written either");
    }

    @Test
    void aStateFromAnotherStepThanTheParametersIsDetectedOnLoad() throws Exception {
        Path p0 = write("p0.safetensors", ToolTest.random(1, 1));
        Path g = write("g.safetensors", ToolTest.random(2, 0.01));
        String[] common = {"--grads", g.toString(), "--weight-decay", "0.01"};
        Path p1 = dir.resolve("p1.safetensors");
        Path s1 = dir.resolve("s1.safetensors");
        Path p2 = dir.resolve("p2.safetensors");
        Path s2 = dir.resolve("s2.safetensors");
        assertEquals(0, step(cat(common, "--params", p0.toString(), "--out", p1.toString(), "--state-out", s1.toString()))[0]);
        assertEquals(0, step(cat(common, "--params", p1.toString(), "--state", s1.toString(), "--out", p2.toString(), "--state-out", s2.toString()))[0]);
        // New parameters next to the old state: what a kill between two renames used to leave.
        Object[] r = step(cat(common, "--params", p2.toString(), "--state", s1.toString(), "--out", dir.resolve("p3").toString(),
                "--state-out", dir.resolve("s3").toString()));
        assertEquals(1, r[0]);
        assertEquals("lars4j step: " + p2 + " (written at step 2) and " + s1 + " (step 1) were not written together by one step; "
                + "resuming from them would apply a step twice or lose one", err(r));
        assertFalse(Files.exists(dir.resolve("p3")));
        try (SafetensorsFile a = SafetensorsFile.open(p2); SafetensorsFile b = SafetensorsFile.open(s2)) {
            assertEquals(a.metadata().get("lars4j.pair"), b.metadata().get("lars4j.pair"));
            assertEquals("2", a.metadata().get("lars4j.step"));
        }
    }

    static String[] cat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void aKillBetweenTheTwoRenamesIsFinishedByTheNextRun() throws Exception {
        Path p = write("p.safetensors", ToolTest.random(1, 1));
        Path g = write("g.safetensors", ToolTest.random(2, 0.01));
        Path s = dir.resolve("s.safetensors");
        String[] inPlace = {"--params", p.toString(), "--grads", g.toString(), "--out", p.toString(), "--state-out", s.toString(), "--weight-decay", "0.01"};
        assertEquals(0, step(inPlace)[0]);
        byte[] p1 = Files.readAllBytes(p);
        // Step 2 written to temps and journaled, then only the state renamed: a kill at that point.
        Path p2 = dir.resolve("p2.safetensors");
        Path s2 = dir.resolve("s2.safetensors");
        assertEquals(0, step("--params", p.toString(), "--state", s.toString(), "--grads", g.toString(), "--out", p2.toString(),
                "--state-out", s2.toString(), "--weight-decay", "0.01")[0]);
        Path pTemp = dir.resolve(".p.safetensors.lars4j-999999999-x.tmp");
        Files.copy(p2, pTemp);
        Files.copy(s2, s, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(dir.resolve(".p.safetensors.lars4j-pair"), dir.resolve(".s.safetensors.lars4j-999999999-y.tmp") + "\t" + s.toRealPath()
                + "\n" + pTemp + "\t" + p.toRealPath() + "\n", StandardCharsets.UTF_8);
        assertArrayEquals(p1, Files.readAllBytes(p), "a mixed pair on disk");
        // The next run finishes the commit first, so it reads the new pair and steps to 3.
        Object[] r = step(cat(inPlace, "--state", s.toString()));
        assertEquals(0, r[0], err(r));
        assertTrue(((String) r[1]).startsWith("lars step 3 applied"), (String) r[1]);
        assertEquals(List.of("g.safetensors", "p.safetensors", "p2.safetensors", "s.safetensors", "s2.safetensors"), names(), "no temp, no journal");
    }

    @Test
    void aStaleTempOfOutIsRemovedByTheNextWrite() throws Exception {
        Path p = write("p.safetensors", ToolTest.random(1, 1));
        Path g = write("g.safetensors", ToolTest.random(2, 0.01));
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Path stale = dir.resolve(".out.safetensors.lars4j-" + gone.pid() + "-abc.tmp");
        Path staleState = dir.resolve(".s.safetensors.lars4j-" + gone.pid() + "-def.tmp");
        Files.write(stale, new byte[4096]);
        Files.write(staleState, new byte[4096]);
        assertEquals(0, step("--params", p.toString(), "--grads", g.toString(), "--out", dir.resolve("out.safetensors").toString(),
                "--state-out", dir.resolve("s.safetensors").toString())[0]);
        assertEquals(List.of("g.safetensors", "out.safetensors", "p.safetensors", "s.safetensors"), names());
    }

    @Test
    void outputsKeepTheModeOfTheFileTheyReplace() throws Exception {
        Path p = write("p.safetensors", ToolTest.random(1, 1));
        Path g = write("g.safetensors", ToolTest.random(2, 0.01));
        Path s = dir.resolve("s.safetensors");
        // Modes no umask yields, so that only copying the replaced file's mode can give them.
        for (String perms : new String[] {"rw-r-----", "rw-rw-rw-"}) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
            assertEquals(0, step("--params", p.toString(), "--grads", g.toString(), "--out", p.toString(), "--state-out", s.toString())[0]);
            assertEquals(perms, PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), "in place: the mode is kept");
            Files.delete(s);   // --state-out is a new file each time
        }
        assertEquals(0, step("--params", p.toString(), "--grads", g.toString(), "--out", p.toString(), "--state-out", s.toString())[0]);
        Process um = new ProcessBuilder("sh", "-c", "umask").start();
        int umask = Integer.parseInt(new String(um.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip(), 8);
        assertEquals(0666 & ~umask, ((Integer) Files.getAttribute(s, "unix:mode")) & 0777, "a new file follows the umask");
    }

    @Test
    void aStateAtTheStepLimitIsRefusedWithAClearError() throws Exception {
        Path p = write("p.safetensors", ToolTest.random(1, 1));
        Path g = write("g.safetensors", ToolTest.random(2, 0.01));
        Path s = dir.resolve("s.safetensors");
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM).learningRate(0.1).backend(Backend.CPU).build(ToolTest.layout().build())) {
            opt.setStepCount(Long.MAX_VALUE);
            OptimizerCheckpoint.save(opt, s);
        }
        Path out = dir.resolve("out");
        Path so = dir.resolve("so");
        Object[] r = step("--params", p.toString(), "--grads", g.toString(), "--state", s.toString(), "--out", out.toString(), "--state-out", so.toString());
        assertEquals(1, r[0]);
        assertEquals("lars4j step: the step counter is at its limit (9223372036854775807 steps); no further step can be counted", err(r));
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(so));
    }
}

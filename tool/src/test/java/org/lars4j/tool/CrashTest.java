package org.lars4j.tool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lars4j.io.SafetensorsFile;
import org.lars4j.io.SafetensorsWriter;

/**
 * A child JVM runs a large in-place step (--out = --params, --state-out = --state) and is killed
 * with SIGKILL at a random point, most trials while it writes its outputs. After each kill, what
 * the next run reads (it first finishes a journaled commit) must be the old pair or the new pair,
 * bit for bit, and after that next run no temp or journal may be left. Bounded by a time budget
 * (lars4j.crash.seconds, default 25) so that it fits the normal test run.
 */
class CrashTest {
    @TempDir
    Path dir;

    static final int N = 4 << 20;   // 16 MB of parameters and 16 MB of state per write

    static void writeTensor(Path p, long seed, double scale) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = new float[N];
        for (int i = 0; i < N; i++) w[i] = (float) ((r.nextDouble() - 0.5) * scale);
        new SafetensorsWriter().addF32("w", new int[] {N / 1024, 1024}, w).addF32("b", new int[] {4}, new float[] {1, 2, 3, 4}).write(p);
    }

    static String[] stepArgs(Path p, Path g, Path s, Path out, Path stateOut) {
        List<String> a = new ArrayList<>(List.of("step", "--params", p.toString(), "--grads", g.toString(), "--out", out.toString(),
                "--state-out", stateOut.toString(), "--weight-decay", "1e-4", "--backend", "cpu", "--threads", "1"));
        if (s != null) a.addAll(List.of("--state", s.toString()));
        return a.toArray(new String[0]);
    }

    /** (params "w", state step) of a pair, checking that both files were written together. */
    static Object[] readPair(Path p, Path s) throws IOException {
        try (SafetensorsFile pf = SafetensorsFile.open(p); SafetensorsFile sf = SafetensorsFile.open(s)) {
            assertEquals(pf.metadata().get(StepCommand.PAIR_KEY), sf.metadata().get(StepCommand.PAIR_KEY), "a pair written together");
            return new Object[] {pf.readFloats("w"), sf.metadata().get("step"), sf.readFloats("w.momentum_buffer")};
        }
    }

    List<String> names(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(x -> x.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    Process child(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    boolean anyTemp(Path d) throws IOException {
        return names(d).stream().anyMatch(n -> n.endsWith(".tmp"));
    }

    @Test
    void aKilledStepLeavesTheOldPairOrTheNewPairAndTheNextRunLeavesNoTemp() throws Exception {
        Path base = Files.createDirectory(dir.resolve("base"));
        Path g = base.resolve("g.safetensors");
        writeTensor(base.resolve("p0.safetensors"), 1, 1.0);
        writeTensor(g, 2, 0.01);
        // The old pair (after step 1) and the new pair (after step 2), made without any kill.
        Path p1 = base.resolve("p1.safetensors");
        Path s1 = base.resolve("s1.safetensors");
        Path p2 = base.resolve("p2.safetensors");
        Path s2 = base.resolve("s2.safetensors");
        assertEquals(0, ToolTest.run(stepArgs(base.resolve("p0.safetensors"), g, null, p1, s1))[0]);
        assertEquals(0, ToolTest.run(stepArgs(p1, g, s1, p2, s2))[0]);
        Object[] oldPair = readPair(p1, s1);
        Object[] newPair = readPair(p2, s2);

        Path work = Files.createDirectory(dir.resolve("work"));
        Path p = work.resolve("p.safetensors");
        Path s = work.resolve("s.safetensors");
        Path gw = work.resolve("g.safetensors");
        Files.copy(g, gw);
        String[] inPlace = stepArgs(p, gw, s, p, s);

        // Calibration: when the child starts writing, and when it is done.
        reset(p1, s1, p, s);
        long t0 = System.nanoTime();
        Process c = child(inPlace);
        long firstTemp = -1;
        while (c.isAlive()) {
            if (firstTemp < 0 && anyTemp(work)) firstTemp = System.nanoTime() - t0;
            Thread.sleep(1);
        }
        long total = System.nanoTime() - t0;
        assertEquals(0, c.exitValue(), "an undisturbed child steps");
        assertTrue(firstTemp > 0, "the child's temps were seen");
        long writing = Math.max(total - firstTemp, TimeUnit.MILLISECONDS.toNanos(20));

        long seed = Long.getLong("lars4j.crash.seed", System.nanoTime());
        long budget = TimeUnit.SECONDS.toNanos(Long.getLong("lars4j.crash.seconds", 25));
        SplittableRandom r = new SplittableRandom(seed);
        int trials = 0;
        int killedWhileWriting = 0;
        int oldPairs = 0;
        int newPairs = 0;
        int rolledForward = 0;
        long start = System.nanoTime();
        while ((System.nanoTime() - start < budget || trials < 8) && trials < 60) {
            trials++;
            reset(p1, s1, p, s);
            boolean duringWrite = r.nextInt(4) != 0;   // 3 in 4 aimed at the write, 1 in 4 anywhere
            Process k = child(inPlace);
            long began = System.nanoTime();
            if (duringWrite) {
                while (k.isAlive() && !anyTemp(work)) Thread.sleep(0, 200_000);
                TimeUnit.NANOSECONDS.sleep((long) (r.nextDouble() * 1.2 * writing));
            } else {
                TimeUnit.NANOSECONDS.sleep((long) (r.nextDouble() * total));
            }
            if (k.isAlive() && anyTemp(work)) killedWhileWriting++;
            k.destroyForcibly();   // SIGKILL
            assertTrue(k.waitFor(30, TimeUnit.SECONDS));
            // What the next run sees: a half-done commit is finished first.
            if (OutputFiles.recover(p)) rolledForward++;
            Object[] got;
            try {
                got = readPair(p, s);
            } catch (IOException | AssertionError e) {
                fail("trial " + trials + " (seed " + seed + ", killed after " + (System.nanoTime() - began) / 1_000_000 + " ms): " + e);
                return;
            }
            if (got[1].equals(oldPair[1])) {
                assertArrayEquals((float[]) oldPair[0], (float[]) got[0], "old parameters, trial " + trials);
                assertArrayEquals((float[]) oldPair[2], (float[]) got[2], "old state, trial " + trials);
                oldPairs++;
            } else {
                assertEquals(newPair[1], got[1], "trial " + trials + " step");
                assertArrayEquals((float[]) newPair[0], (float[]) got[0], "new parameters, trial " + trials);
                assertArrayEquals((float[]) newPair[2], (float[]) got[2], "new state, trial " + trials);
                newPairs++;
            }
            Object[] next = ToolTest.run(inPlace);
            assertEquals(0, next[0], "the next run, trial " + trials + ": " + next[2]);
            assertEquals(List.of("g.safetensors", "p.safetensors", "s.safetensors"), names(work), "after the next run, trial " + trials);
        }
        System.out.printf("crash test (seed %d): %d trials, %d killed while writing; old pair %d, new pair %d (%d finished from the "
                + "journal), mixed or unreadable 0; temps after the next run 0%n", seed, trials, killedWhileWriting, oldPairs, newPairs,
                rolledForward);
        assertEquals(trials, oldPairs + newPairs);
    }

    private static void reset(Path p1, Path s1, Path p, Path s) throws IOException {
        Files.copy(p1, p, StandardCopyOption.REPLACE_EXISTING);
        Files.copy(s1, s, StandardCopyOption.REPLACE_EXISTING);
    }
}

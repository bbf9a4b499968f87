package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.lars4j.GoldenSteps.Case;
import org.lars4j.GoldenSteps.StepRecord;

/**
 * Writes the golden file {@code cuda/src/test/resources/golden/steps.txt} that
 * {@link GoldenStepsTest} holds every engine to. Disabled unless asked for.
 *
 * <h2>When to regenerate</h2>
 * Only for a deliberate, documented change of the math (a new rule option whose default changes
 * old results, a corrected formula): never to make {@link GoldenStepsTest} pass after a
 * refactoring, an optimisation or a new engine, which must give the recorded bits. A
 * regeneration is its own commit, whose message says which configurations changed and why (the
 * diff of the file shows which lines did); the configurations that did not change must keep
 * their lines byte for byte. Adding configurations to {@link GoldenSteps#cases()} also needs a
 * regeneration: check in the diff that only lines were added.
 *
 * <h2>How</h2>
 * <pre>
 * mvn -B -q -pl core test -Dtest=GoldenStepsGenerator -Dlars4j.golden.regenerate=true
 * </pre>
 * (from the repository root; the file is written relative to {@code core/}, surefire's working
 * directory). The generator runs every case of {@link GoldenSteps#cases()} on the Java engine
 * and on the cuda-emulator engine, refuses to write anything unless both give the same bits and
 * every storage form of a configuration gives the same bits, and records the result once.
 *
 * <h2>History</h2>
 * The file in the repository was recorded at commit {@code de79524} ("before you start, record
 * the outputs"), the last commit before the architecture change touched the engines, by
 * copying {@code GoldenSteps.java} and this class into a worktree of that commit. The API there
 * had no byte-buffer steps, so this class, which must compile against that API, runs the
 * {@code FLAT_BYTES}/{@code LIST_BYTES} cases as their float[] twins: their recorded bits are
 * the flat and list float[] forms' bits, which is the contract of those forms.
 */
class GoldenStepsGenerator {

    static final String PROPERTY = "lars4j.golden.regenerate";
    static final Path FILE = Path.of("src/test/resources/golden/steps.txt");

    @Test
    @EnabledIfSystemProperty(named = PROPERTY, matches = "true")
    void writeTheGoldenFile() throws IOException {
        assertNull(Engines.unavailableReason(Backend.CUDA_EMULATOR), "the golden file is checked on the cuda-emulator engine too");
        Map<Case, List<StepRecord>> runs = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        Map<String, String> bitsOfConfig = new HashMap<>();
        for (Case c : GoldenSteps.cases()) {
            List<StepRecord> cpu = GoldenSteps.run(c, Backend.CPU, null);
            List<StepRecord> emu = GoldenSteps.run(c, Backend.CUDA_EMULATOR, null);
            String cpuText = text(cpu);
            if (!cpuText.equals(text(emu))) problems.add(c.name() + ": cpu and cuda-emulator differ");
            String first = bitsOfConfig.putIfAbsent(c.config, cpuText);
            if (first != null && !first.equals(cpuText)) problems.add(c.name() + ": differs from the configuration's first form");
            runs.put(c, cpu);
        }
        assertTrue(problems.isEmpty(), "not written:\n" + String.join("\n", problems));
        List<String> header = List.of(
                "lars4j golden steps (issue 16): bits of every configuration after every step. Written by GoldenStepsGenerator,",
                "checked by GoldenStepsTest on every engine. Do not edit; regenerate only for a deliberate change of the math",
                "(see GoldenStepsGenerator's javadoc).",
                "recorded at: " + commit() + ", Java " + System.getProperty("java.version") + ", " + System.getProperty("os.arch")
                        + "; cpu and cuda-emulator engines equal",
                "FLAT_BYTES and LIST_BYTES: recorded as the FLAT_ARRAY and LIST_ARRAYS runs (the contract of the byte forms)",
                "line: <configuration>/<form> <step> applied|skipped <stepCount> <skippedSteps> <sha256 of all tensors, first 96 bits>",
                "      <4 hex digits of crc32 of each tensor, in the order below>; float bits little-endian, NaNs canonical;",
                "      <case> = <case>: the same bits (the storage forms of one configuration)");
        String out = GoldenSteps.format(header, runs);
        Files.createDirectories(FILE.getParent());
        Files.write(FILE, out.getBytes(StandardCharsets.UTF_8));
        assertEquals(GoldenSteps.cases().size(), GoldenSteps.parse(Files.readAllLines(FILE)).size());
        System.out.println("wrote " + FILE.toAbsolutePath() + ": " + runs.size() + " cases");
    }

    private static String text(List<StepRecord> run) {
        StringBuilder sb = new StringBuilder();
        for (StepRecord r : run) {
            sb.append(r.step).append(r.applied).append(r.stepCount).append(r.skippedSteps).append(r.digest())
                    .append(String.join("", r.tensorTags())).append('\n');
        }
        return sb.toString();
    }

    private static String commit() {
        try {
            Process p = new ProcessBuilder("git", "log", "-1", "--format=%h %s").redirectErrorStream(true).start();
            String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.waitFor() == 0 && !s.isEmpty()) {
                boolean dirty = new ProcessBuilder("git", "diff", "--quiet", "HEAD", "--", "src/main").start().waitFor() != 0;
                return "commit " + (s.length() > 60 ? s.substring(0, 60) + "..." : s) + (dirty ? " (with uncommitted changes in src/main)" : "");
            }
        } catch (IOException | InterruptedException e) {
            // fall through
        }
        return "an unknown commit";
    }
}

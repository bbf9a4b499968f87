package org.lars4j.tool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.io.SafetensorsFile;
import org.lars4j.io.SafetensorsWriter;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lars.LarsPreset;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine;

/** The tool's flags, help, exit codes and messages. */
class CommandLineTest {
    @TempDir
    Path dir;

    Path write(String name, float[][] t) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        for (int i = 0; i < ToolTest.NAMES.length; i++) w.addF32(ToolTest.NAMES[i], ToolTest.SHAPES[i], t[i]);
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    static String err(Object[] r) { return ((String) r[2]).strip(); }

    Object[] step(String... extra) throws IOException {
        Path p = Files.exists(dir.resolve("p.safetensors")) ? dir.resolve("p.safetensors") : write("p.safetensors", ToolTest.random(1, 1));
        Path g = Files.exists(dir.resolve("g.safetensors")) ? dir.resolve("g.safetensors") : write("g.safetensors", ToolTest.random(2, 0.01));
        List<String> args = new ArrayList<>(List.of("step", "--params", p.toString(), "--grads", g.toString(),
                "--out", dir.resolve("out.safetensors").toString(), "--state-out", dir.resolve("so.safetensors").toString()));
        List<String> more = Arrays.asList(extra);
        if (!more.contains("--backend")) args.addAll(List.of("--backend", "cpu"));
        if (!more.contains("--threads")) args.addAll(List.of("--threads", "1"));
        args.addAll(more);
        return ToolTest.run(args.toArray(new String[0]));
    }

    @Test
    void lambTakesTheRangerLarsPresetAndRectify() throws IOException {
        OptimizerOptions o = new OptimizerOptions();
        o.optimizer = "lamb";
        o.preset = "ranger-lars";
        Rule rangerLars = LambOptions.builder(o, Backend.CPU).rule();
        assertEquals("ranger-lars", rangerLars.preset());
        assertEquals("true", rangerLars.hyperparameters().get("rectify"));
        assertEquals("6", rangerLars.hyperparameters().get("lookahead_k"));
        Object[] rectified = step("--optimizer", "lamb", "--preset", "paper", "--rectify");
        assertEquals(0, rectified[0], err(rectified));
        Object[] lars = step("--rectify");
        assertEquals(2, lars[0], err(lars));
        assertTrue(err(lars).contains("--rectify applies only to --optimizer lamb"), err(lars));
    }

    static List<float[]> tensors(Path p) throws IOException {
        List<float[]> out = new ArrayList<>();
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            for (var t : f.tensors()) out.add(f.readFloats(t.name()));
        }
        return out;
    }

    static boolean sameBits(List<float[]> a, List<float[]> b) {
        if (a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i).length != b.get(i).length) return false;
            for (int k = 0; k < a.get(i).length; k++) {
                if (Float.floatToRawIntBits(a.get(i)[k]) != Float.floatToRawIntBits(b.get(i)[k])) return false;
            }
        }
        return true;
    }

    @Test
    void maxGradNormIsTheGlobalClipOfEveryRule() throws IOException {
        Object[] plain = step("--preset", "paper");
        assertEquals(0, plain[0], err(plain));
        List<float[]> unclipped = tensors(dir.resolve("out.safetensors"));
        Object[] lars = step("--preset", "paper", "--max-grad-norm", "0.001");
        assertEquals(0, lars[0], err(lars));
        assertFalse(sameBits(unclipped, tensors(dir.resolve("out.safetensors"))), "lars is clipped");
        Object[] inactive = step("--preset", "paper", "--max-grad-norm", "1e6");
        assertEquals(0, inactive[0], err(inactive));
        assertTrue(sameBits(unclipped, tensors(dir.resolve("out.safetensors"))), "an inactive clip changes no bit");
        Object[] lamb = step("--optimizer", "lamb", "--preset", "apex", "--max-grad-norm", "0");
        assertEquals(0, lamb[0], err(lamb));
        Object[] negative = step("--max-grad-norm", "-1");
        assertEquals(2, negative[0], err(negative));
        assertTrue(err(negative).contains("gradient clip maxNorm"), err(negative));
    }

    @Test
    void unknownNamesAreUsageErrorsWithExitCode2() throws IOException {
        String[][] cases = {
            {"unknown LARS preset 'adam'", "--preset", "adam"},
            {"unknown backend 'tpu'", "--backend", "tpu"},
            {"unknown optimizer 'sgd'", "--optimizer", "sgd"},
            {"learning rate at step 1 is 1.0E300, which overflows float32", "--lr", "1e300"},
            {"--threads must be in 1..1024, got 10000", "--threads", "10000"},
        };
        for (String[] c : cases) {
            Object[] r = step(Arrays.copyOfRange(c, 1, c.length));
            assertEquals(2, r[0], c[0] + ": " + err(r));
            assertTrue(err(r).contains(c[0]), err(r));
            assertEquals(1, err(r).lines().count(), err(r));
            assertFalse(Files.exists(dir.resolve("out.safetensors")));
        }
        Object[] demo = ToolTest.run("demo", "--preset", "nope");
        assertEquals(2, demo[0], err(demo));
        Object[] bench = ToolTest.run("bench", "--model", "alexnet");
        assertEquals(2, bench[0], err(bench));
    }

    @Test
    void helpWorksForEveryCommandAndAsACommand() {
        for (String cmd : new String[] {"step", "bench", "verify", "info", "demo"}) {
            Object[] r = ToolTest.run(cmd, "--help");
            assertEquals(0, r[0], cmd + ": " + err(r));
            assertTrue(((String) r[1]).startsWith("Usage: lars4j " + cmd), (String) r[1]);
            Object[] h = ToolTest.run("help", cmd);
            assertEquals(0, h[0], "help " + cmd);
        }
        Object[] help = ToolTest.run("help");
        assertEquals(0, help[0], err(help));
        assertTrue(((String) help[1]).contains("Commands:"), (String) help[1]);
    }

    @Test
    void everyOptionHasADescriptionAndSaysItsDefault() {
        CommandLine cl = new CommandLine(new Main());
        List<String> missing = new ArrayList<>();
        for (CommandLine sub : cl.getSubcommands().values()) {
            CommandSpec spec = sub.getCommandSpec();
            for (OptionSpec o : spec.options()) {
                if (o.usageHelp() || o.versionHelp()) continue;
                String d = String.join(" ", o.description());
                if (d.isBlank() || !(o.required() ? d.contains("required") : d.contains("default"))) {
                    missing.add(spec.name() + " " + o.longestName() + ": '" + d + "'");
                }
            }
        }
        assertEquals(List.of(), missing);
    }

    @Test
    void aDirectoryAsInputIsNamedAsOne() throws IOException {
        Object[] r = ToolTest.run("step", "--params", dir.toString(), "--grads", dir.toString(),
                "--out", dir.resolve("o").toString(), "--state-out", dir.resolve("s").toString());
        assertEquals(1, r[0]);
        assertEquals("lars4j step: " + dir + " is a directory, not a safetensors file", err(r));
    }

    @Test
    void aBadJsonHeaderIsReportedWithoutParserInternals() throws IOException {
        byte[] h = "{\"a\": [1, 2".getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h);
        Path bad = dir.resolve("bad.safetensors");
        Files.write(bad, b.array());
        Object[] r = ToolTest.run("step", "--params", bad.toString(), "--grads", bad.toString(),
                "--out", dir.resolve("o").toString(), "--state-out", dir.resolve("s").toString());
        assertEquals(1, r[0]);
        assertEquals("lars4j step: " + bad + ": header is not valid JSON: Unexpected end-of-input: expected close marker for Array (line 1, column 12)",
                err(r));
    }

    @Test
    void theDefaultsThatAdaptNothingSaySo() throws IOException {
        Object[] r = step();
        assertEquals(0, r[0], err(r));
        assertTrue(((String) r[1]).contains("lars timm on the cpu engine, 3 tensors, 5424 parameters, no tensor adapted"), (String) r[1]);
        assertEquals("lars4j step: note: no tensor was adapted layer-wise under these settings (lars timm with --weight-decay 0.0); "
                + "the step was the plain base update. Set --weight-decay > 0 or choose another --preset to adapt.", err(r));
        Object[] adapted = step("--weight-decay", "1e-4");
        assertEquals(0, adapted[0], err(adapted));
        assertFalse(((String) adapted[1]).contains("no tensor adapted"), (String) adapted[1]);
        assertEquals("", err(adapted));
    }

    @Test
    void zeroElementTensorsAreCopiedThroughUnchanged() throws IOException {
        float[][] w = ToolTest.random(1, 1);
        float[][] g = ToolTest.random(2, 0.01);
        SafetensorsWriter pw = new SafetensorsWriter().addF32("empty", new int[] {0, 4}, new float[0]);
        SafetensorsWriter gw = new SafetensorsWriter().addF32("empty", new int[] {0, 4}, new float[0]);
        for (int i = 0; i < ToolTest.NAMES.length; i++) {
            pw.addF32(ToolTest.NAMES[i], ToolTest.SHAPES[i], w[i]);
            gw.addF32(ToolTest.NAMES[i], ToolTest.SHAPES[i], g[i]);
        }
        pw.write(dir.resolve("p.safetensors"));
        gw.write(dir.resolve("g.safetensors"));
        Object[] r = step("--weight-decay", "1e-4");
        assertEquals(0, r[0], err(r));
        float[][] expected = ToolTest.random(1, 1);
        ParamLayout layout = ToolTest.layout().build();
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM).learningRate(0.1).weightDecay(1e-4).backend(Backend.CPU)
                .build(ParamLayout.builder().add(ToolTest.NAMES[0], ToolTest.SHAPES[0]).add(ToolTest.NAMES[1], ToolTest.SHAPES[1])
                        .add(ToolTest.NAMES[2], ToolTest.SHAPES[2]).build())) {
            opt.step(Arrays.asList(expected), Arrays.asList(ToolTest.random(2, 0.01)));
        }
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("out.safetensors"))) {
            assertArrayEquals(new long[] {0, 4}, f.tensor("empty").shape());
            assertEquals(0, f.readFloats("empty").length);
            for (int i = 0; i < ToolTest.NAMES.length; i++) assertArrayEquals(expected[i], f.readFloats(ToolTest.NAMES[i]), ToolTest.NAMES[i]);
        }
        assertEquals(3, layout.size());
    }

    @Test
    void aStateOfAnotherPresetIsRefusedUnlessAllowed() throws IOException {
        Path s = dir.resolve("mlperf-state.safetensors");
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.MLPERF).learningRate(0.1).backend(Backend.CPU).build(ToolTest.layout().build())) {
            OptimizerCheckpoint.save(opt, s);
        }
        Object[] r = step("--state", s.toString());
        assertEquals(1, r[0]);
        assertEquals("lars4j step: " + s + ": state written by lars preset 'mlperf', this optimizer is lars preset 'timm' "
                + "(--allow-preset-change to continue from it anyway)", err(r));
        assertFalse(Files.exists(dir.resolve("out.safetensors")));
        Object[] ok = step("--state", s.toString(), "--allow-preset-change", "--weight-decay", "1e-4");
        assertEquals(0, ok[0], err(ok));
    }

    @Test
    void benchChecksThreadsAndItsJsonPathBeforeWorking() throws IOException {
        int procs = Runtime.getRuntime().availableProcessors();
        Object[] t = ToolTest.run("bench", "--model", "tiny-10k", "--threads", Integer.toString(procs + 1), "--backend", "cpu");
        assertEquals(2, t[0]);
        assertEquals("lars4j: --threads " + (procs + 1) + " is more than the " + procs + " processors here; the floor would be meaningless (see --help)", err(t));
        Path json = dir.resolve("nonexistent/x.json");
        Object[] j = ToolTest.run("bench", "--model", "tiny-10k", "--threads", "1", "--backend", "cpu", "--json", json.toString());
        assertEquals(1, j[0]);
        assertEquals("lars4j bench: cannot write " + json + ": directory " + dir.resolve("nonexistent") + " does not exist", err(j),
                "said at once: no progress line of a benchmark that ran");
    }
}

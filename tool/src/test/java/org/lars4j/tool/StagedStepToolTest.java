package org.lars4j.tool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.io.SafetensorsFile;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.stage.Lookahead;

/**
 * `./lars4j step` with the stages around a rule (Lookahead, gradient centralization), rectified
 * LAMB and the RangerLars preset: one process per step, the state file in between, gives the bits
 * of one optimizer stepping in this process, step by step, across Lookahead syncs and rectified
 * LAMB's change of phase; the slow weights travel in the state file; `bench` takes the flags; and
 * each misuse is a usage error naming its flag.
 */
class StagedStepToolTest {
    @TempDir
    Path dir;

    /** Learning rates and decay that move the weights visibly, so that a lost sync would show. */
    static final String LARS_LR = "0.5";
    static final String LAMB_LR = "0.01";

    static Arguments chain(String what, int steps, List<String> flags, Function<ParamLayout, LayerwiseOptimizer> inProcess) {
        return Arguments.of(what, steps, flags, inProcess);
    }

    static Lars.Builder lars(LarsPreset p) {
        return Lars.builder(p).learningRate(Double.parseDouble(LARS_LR)).weightDecay(0.01).backend(Backend.CPU).threads(2);
    }

    static Lamb.Builder lamb(LambPreset p) {
        return Lamb.builder(p).learningRate(Double.parseDouble(LAMB_LR)).weightDecay(0.01).backend(Backend.CPU).threads(2);
    }

    /**
     * Every case crosses the events that state must carry: two Lookahead syncs at least (k = 2
     * over 5 steps: the copy at step 1, syncs at 2 and 4, a step after), and for rectified LAMB
     * the momentum-only phase into the rectified one (rho_t > 5 from step 6 at beta2 = 0.999).
     * Alpha 0.3 is not a power of two, so an engine that rounded the sync differently would show.
     */
    static Stream<Arguments> chains() {
        return Stream.of(
                chain("lars larc-clip, lookahead k 2 alpha 0.3", 5,
                        List.of("--optimizer", "lars", "--preset", "larc-clip", "--lr", LARS_LR, "--lookahead-k", "2", "--lookahead-alpha", "0.3"),
                        l -> lars(LarsPreset.LARC_CLIP).lookahead(2, 0.3).build(l)),
                chain("lamb apex, lookahead k 2 alpha 0.3", 5,
                        List.of("--optimizer", "lamb", "--preset", "apex", "--lr", LAMB_LR, "--lookahead-k", "2", "--lookahead-alpha", "0.3"),
                        l -> lamb(LambPreset.APEX).lookahead(2, 0.3).build(l)),
                chain("lars mlperf, lookahead k 2 (default alpha)", 5,
                        List.of("--optimizer", "lars", "--preset", "mlperf", "--lr", LARS_LR, "--lookahead-k", "2"),
                        l -> lars(LarsPreset.MLPERF).lookahead(2, 0.5).build(l)),
                chain("lars mlperf, gradient centralization", 3,
                        List.of("--optimizer", "lars", "--preset", "mlperf", "--lr", LARS_LR, "--gradient-centralization"),
                        l -> lars(LarsPreset.MLPERF).gradientCentralization(false).build(l)),
                chain("lamb paper, gradient centralization conv only", 3,
                        List.of("--optimizer", "lamb", "--lr", LAMB_LR, "--gradient-centralization", "--gc-conv-only"),
                        l -> lamb(LambPreset.PAPER).gradientCentralization(true).build(l)),
                chain("lars timm, gradient centralization and lookahead k 2 alpha 0.3", 5,
                        List.of("--optimizer", "lars", "--preset", "timm", "--lr", LARS_LR, "--gradient-centralization",
                                "--lookahead-k", "2", "--lookahead-alpha", "0.3"),
                        l -> lars(LarsPreset.TIMM).gradientCentralization(false).lookahead(2, 0.3).build(l)),
                chain("lamb paper --rectify, across rho_t = 5", 8,
                        List.of("--optimizer", "lamb", "--preset", "paper", "--lr", LAMB_LR, "--rectify"),
                        l -> lamb(LambPreset.PAPER).rectify(true).build(l)),
                chain("lamb ranger-lars, its own lookahead (k 6): two syncs and the rectified phase", 13,
                        List.of("--optimizer", "lamb", "--preset", "ranger-lars", "--lr", LAMB_LR),
                        l -> lamb(LambPreset.RANGER_LARS).build(l)),
                chain("lamb ranger-lars, lookahead k 2 alpha 0.3 and gradient centralization", 7,
                        List.of("--optimizer", "lamb", "--preset", "ranger-lars", "--lr", LAMB_LR, "--lookahead-k", "2",
                                "--lookahead-alpha", "0.3", "--gradient-centralization"),
                        l -> lamb(LambPreset.RANGER_LARS).lookahead(2, 0.3).gradientCentralization(false).build(l)),
                chain("lamb ranger-lars, --lookahead-alpha alone changes the preset's alpha", 7,
                        List.of("--optimizer", "lamb", "--preset", "ranger-lars", "--lr", LAMB_LR, "--lookahead-alpha", "0.3"),
                        l -> lamb(LambPreset.RANGER_LARS).lookahead(6, 0.3).build(l)));
    }

    /**
     * One `step` process per step, chained through --state, against one optimizer stepping here:
     * parameters and every state buffer (the slow weights included) equal bit for bit after each
     * step, not only at the end, so that a sync applied one step late would be caught where it is.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("chains")
    void chainedStepCallsEqualOneProcessAfterEveryStep(String what, int steps, List<String> flags,
                                                       Function<ParamLayout, LayerwiseOptimizer> inProcess) throws IOException {
        ToolTest files = new ToolTest();
        files.dir = dir;
        Path p = files.write("p0.safetensors", ToolTest.random(1, 1.0));
        Path state = null;
        float[][] expected = ToolTest.random(1, 1.0);
        try (LayerwiseOptimizer opt = inProcess.apply(ToolTest.layout().build())) {
            boolean lookahead = opt.config().stages().lookahead() != null;
            assertEquals(lookahead, opt.stateNames().contains(Lookahead.STATE), "the slow weights are state exactly when Lookahead is on");
            for (int s = 0; s < steps; s++) {
                float[][] g = ToolTest.random(100 + s, 0.05);
                Path gp = files.write("g" + s + ".safetensors", g);
                Path out = dir.resolve("p" + (s + 1) + ".safetensors");
                Path stateOut = dir.resolve("s" + (s + 1) + ".safetensors");
                List<String> args = new ArrayList<>(List.of("step", "--params", p.toString(), "--grads", gp.toString(),
                        "--out", out.toString(), "--state-out", stateOut.toString(), "--weight-decay", "0.01",
                        "--exclude-from-weight-decay", "bias", "--backend", "cpu", "--threads", "2"));
                args.addAll(flags);
                if (state != null) args.addAll(List.of("--state", state.toString()));
                Object[] r = ToolTest.run(args.toArray(new String[0]));
                assertEquals(0, r[0], what + ", step " + (s + 1) + ": " + r[2]);
                assertTrue(((String) r[1]).contains("step " + (s + 1) + " applied"), (String) r[1]);
                assertTrue(opt.step(Arrays.asList(expected), Arrays.asList(g)), "the in-process step is applied");
                float[][] got = ToolTest.read(out);
                for (int i = 0; i < ToolTest.NAMES.length; i++) {
                    assertArrayEquals(expected[i], got[i], what + ", step " + (s + 1) + ": " + ToolTest.NAMES[i]);
                }
                try (SafetensorsFile f = SafetensorsFile.open(stateOut)) {
                    assertEquals(Integer.toString(s + 1), f.metadata().get("step"));
                    for (String buffer : opt.stateNames()) {
                        for (int i = 0; i < ToolTest.NAMES.length; i++) {
                            float[] v = new float[expected[i].length];
                            opt.readState(buffer, i, v);
                            String name = ToolTest.NAMES[i] + "." + buffer;
                            assertTrue(f.tensor(name) != null, what + ": the state file holds " + name);
                            assertArrayEquals(v, f.readFloats(name), what + ", step " + (s + 1) + ": " + name);
                        }
                    }
                    if (!lookahead) assertEquals(null, f.tensor(ToolTest.NAMES[0] + "." + Lookahead.STATE), "no slow weights without Lookahead");
                }
                p = out;
                state = stateOut;
            }
        }
    }

    /** The slow weights are the weights as the first step found them, until the first sync. */
    @Test
    void theStateFileCarriesTheSlowWeightsUnderTheParamsNames() throws IOException {
        ToolTest files = new ToolTest();
        files.dir = dir;
        float[][] w0 = ToolTest.random(1, 1.0);
        Path p = files.write("p.safetensors", w0);
        Path g = files.write("g.safetensors", ToolTest.random(2, 0.05));
        Path so = dir.resolve("s.safetensors");
        Object[] r = ToolTest.run("step", "--params", p.toString(), "--grads", g.toString(), "--out", dir.resolve("o.safetensors").toString(),
                "--state-out", so.toString(), "--backend", "cpu", "--lookahead-k", "3", "--lookahead-alpha", "0.3", "--weight-decay", "0.01");
        assertEquals(0, r[0], (String) r[2]);
        try (SafetensorsFile f = SafetensorsFile.open(so)) {
            for (int i = 0; i < ToolTest.NAMES.length; i++) {
                assertArrayEquals(w0[i], f.readFloats(ToolTest.NAMES[i] + ".lookahead_slow"), ToolTest.NAMES[i]);
            }
            String hyper = f.metadata().get("hyperparameters");
            assertTrue(hyper.contains("\"lookahead_k\":\"3\"") && hyper.contains("\"lookahead_alpha\":\"0.3\""), hyper);
        }
        assertFalse(Arrays.equals(w0[2], ToolTest.read(dir.resolve("o.safetensors"))[2]), "the fast weights moved");
    }

    /** A state with slow weights is refused by a step without Lookahead: the buffers do not match. */
    @Test
    void aStateWithSlowWeightsIsNotContinuedWithoutLookahead() throws IOException {
        ToolTest files = new ToolTest();
        files.dir = dir;
        Path p = files.write("p.safetensors", ToolTest.random(1, 1.0));
        Path g = files.write("g.safetensors", ToolTest.random(2, 0.05));
        Path o = dir.resolve("o.safetensors");
        Path so = dir.resolve("s.safetensors");
        Object[] first = ToolTest.run("step", "--params", p.toString(), "--grads", g.toString(), "--out", o.toString(),
                "--state-out", so.toString(), "--backend", "cpu", "--lookahead-k", "2", "--weight-decay", "0.01");
        assertEquals(0, first[0], (String) first[2]);
        Path o2 = dir.resolve("o2.safetensors");
        Path so2 = dir.resolve("s2.safetensors");
        Object[] plain = ToolTest.run("step", "--params", o.toString(), "--grads", g.toString(), "--state", so.toString(),
                "--out", o2.toString(), "--state-out", so2.toString(), "--backend", "cpu", "--weight-decay", "0.01");
        assertEquals(1, plain[0], (String) plain[1] + plain[2]);
        assertEquals(1, ((String) plain[2]).strip().lines().count(), (String) plain[2]);
        assertFalse(Files.exists(o2) || Files.exists(so2), "nothing written");
    }

    @Test
    void benchTakesTheStageFlagsAndReportsTheRulesBytes() throws IOException {
        Path shapes = dir.resolve("tiny.txt");
        Files.writeString(shapes, "a.weight 16x4x3x3\nb.weight 64x64\nb.bias 64\n");
        Object[][] cases = {
            {20, new String[] {"--optimizer", "lars", "--lookahead-k", "2", "--lookahead-alpha", "0.3"}},
            {20, new String[] {"--optimizer", "lars", "--gradient-centralization", "--gc-conv-only"}},
            {28, new String[] {"--optimizer", "lamb", "--rectify", "--gradient-centralization"}},
            {28, new String[] {"--optimizer", "lamb", "--preset", "ranger-lars"}},
        };
        for (Object[] c : cases) {
            Path json = dir.resolve("bench.json");
            List<String> args = new ArrayList<>(List.of("bench", "--shapes", shapes.toString(), "--backend", "cpu", "--threads", "1",
                    "--warmup", "1", "--steps", "3", "--json", json.toString()));
            args.addAll(List.of((String[]) c[1]));
            Object[] r = ToolTest.run(args.toArray(new String[0]));
            String flags = String.join(" ", (String[]) c[1]);
            assertEquals(0, r[0], flags + ": " + r[2]);
            JsonNode n = new ObjectMapper().readTree(json.toFile());
            // The stages add no pass of their own on a step without a sync: the rule's floor.
            assertEquals((int) c[0], n.get("bytes_per_param").asInt(), flags);
            assertTrue(((String) r[1]).contains("at " + c[0] + " bytes/param"), (String) r[1]);
            String stages = n.get("stages").asText();
            assertEquals(flags.contains("lookahead") || flags.contains("ranger-lars"), stages.contains("lookahead"), flags + ": " + stages);
            assertEquals(flags.contains("centralization"), stages.contains("gradient centralization"), flags + ": " + stages);
            assertTrue(((String) r[1]).contains("stages " + stages), (String) r[1]);
        }
    }

    /** Each misuse of the new flags: exit 2, one line naming the flag, no file written. */
    @TestFactory
    Stream<DynamicTest> misuseOfTheStageFlagsIsAUsageErrorNamingTheFlag() throws IOException {
        ToolTest files = new ToolTest();
        files.dir = dir;
        Path p = files.write("p.safetensors", ToolTest.random(1, 1.0));
        Path g = files.write("g.safetensors", ToolTest.random(2, 0.05));
        String[][] cases = {
            {"--lookahead-alpha needs --lookahead-k", "--lookahead-alpha", "0.5"},
            {"--gc-conv-only needs --gradient-centralization", "--gc-conv-only"},
            {"--rectify applies only to --optimizer lamb", "--rectify"},
            {"--rectify applies only to --optimizer lamb", "--rectify", "--preset", "mlperf", "--lookahead-k", "2"},
            {"--lookahead-k must be >= 1, got 0", "--lookahead-k", "0"},
            {"--lookahead-k must be >= 1, got -3", "--lookahead-k", "-3"},
            {"--lookahead-k must be >= 1, got 0", "--optimizer", "lamb", "--preset", "ranger-lars", "--lookahead-k", "0"},
            {"Invalid value for option '--lookahead-k': '2.5' is not an int", "--lookahead-k", "2.5"},
            {"--lookahead-alpha must be in (0, 1], got 0.0", "--lookahead-k", "2", "--lookahead-alpha", "0"},
            {"--lookahead-alpha must be in (0, 1], got 1.5", "--lookahead-k", "2", "--lookahead-alpha", "1.5"},
            {"--lookahead-alpha must be in (0, 1], got -0.5", "--lookahead-k", "2", "--lookahead-alpha", "-0.5"},
            {"--lookahead-alpha must be in (0, 1], got NaN", "--lookahead-k", "2", "--lookahead-alpha", "NaN"},
            {"--lookahead-alpha 1.0E-50 rounds to 0 as a float32", "--lookahead-k", "2", "--lookahead-alpha", "1e-50"},
            {"--lookahead-alpha must be in (0, 1], got NaN", "--optimizer", "lamb", "--preset", "ranger-lars", "--lookahead-alpha", "NaN"},
            {"Invalid value for option '--lookahead-alpha': 'half' is not a double", "--lookahead-k", "2", "--lookahead-alpha", "half"},
        };
        List<DynamicTest> tests = new ArrayList<>();
        for (String[] c : cases) {
            String[] flags = Arrays.copyOfRange(c, 1, c.length);
            tests.add(DynamicTest.dynamicTest(String.join(" ", flags), () -> {
                List<String> args = new ArrayList<>(List.of("--params", p.toString(), "--grads", g.toString()));
                args.addAll(List.of(flags));
                rejects(c[0], args);
            }));
        }
        for (String[] c : cases) {
            String[] flags = Arrays.copyOfRange(c, 1, c.length);
            tests.add(DynamicTest.dynamicTest("bench " + String.join(" ", flags), () -> {
                List<String> args = new ArrayList<>(List.of("bench", "--model", "tiny-10k", "--backend", "cpu", "--threads", "1"));
                args.addAll(List.of(flags));
                Object[] r = ToolTest.run(args.toArray(new String[0]));
                String err = ((String) r[2]).strip();
                assertEquals(2, r[0], err);
                assertTrue(err.contains(c[0]), "'" + err + "' should mention '" + c[0] + "'");
                assertEquals(1, err.lines().count(), err);
            }));
        }
        return tests.stream();
    }

    /** Exit 2, one line that mentions {@code mention}, and the directory exactly as it was. */
    private void rejects(String mention, List<String> flags) throws IOException {
        Path out = dir.resolve("out.safetensors");
        Path so = dir.resolve("so.safetensors");
        List<String> before;
        try (Stream<Path> s = Files.list(dir)) {
            before = s.map(x -> x.getFileName().toString()).sorted().toList();
        }
        List<byte[]> bytes = new ArrayList<>();
        for (String name : before) bytes.add(Files.readAllBytes(dir.resolve(name)));
        List<String> args = new ArrayList<>(List.of("step", "--out", out.toString(), "--state-out", so.toString(), "--backend", "cpu"));
        args.addAll(flags);
        Object[] r = ToolTest.run(args.toArray(new String[0]));
        String err = ((String) r[2]).strip();
        assertEquals(2, r[0], err);
        assertTrue(err.contains(mention), "'" + err + "' should mention '" + mention + "'");
        assertEquals(1, err.lines().count(), err);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(before, s.map(x -> x.getFileName().toString()).sorted().toList(), "no file written or removed");
        }
        for (int i = 0; i < before.size(); i++) assertArrayEquals(bytes.get(i), Files.readAllBytes(dir.resolve(before.get(i))), before.get(i));
    }
}

package org.lars4j.tool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.io.SafetensorsFile;
import org.lars4j.io.SafetensorsWriter;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;

/** The ./lars4j tool end to end (through Main.run, as the launcher calls it). */
class ToolTest {
    @TempDir
    Path dir;

    static final String[] NAMES = {"conv.weight", "bn.bias", "fc.weight"};
    static final int[][] SHAPES = {{8, 3, 3, 3}, {8}, {10, 520}};

    /** Runs the tool; returns {exit code, stdout, stderr}. */
    static Object[] run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Object[] {code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    static float[][] random(long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] x = new float[NAMES.length][];
        for (int i = 0; i < NAMES.length; i++) {
            int n = Arrays.stream(SHAPES[i]).reduce(1, (a, b) -> a * b);
            x[i] = new float[n];
            for (int k = 0; k < n; k++) x[i][k] = (float) ((r.nextDouble() - 0.5) * scale);
        }
        return x;
    }

    Path write(String name, float[][] t) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        for (int i = 0; i < NAMES.length; i++) w.addF32(NAMES[i], SHAPES[i], t[i]);
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    static float[][] read(Path p) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            float[][] x = new float[NAMES.length][];
            for (int i = 0; i < NAMES.length; i++) x[i] = f.readFloats(NAMES[i]);
            return x;
        }
    }

    static ParamLayout.Builder layout() {
        ParamLayout.Builder b = ParamLayout.builder();
        for (int i = 0; i < NAMES.length; i++) b.add(NAMES[i], SHAPES[i]);
        return b.excludeFromWeightDecay("bias");
    }

    /** Three tool invocations chained through --state equal three steps in one process, bitwise. */
    @ParameterizedTest
    @ValueSource(strings = {"lars", "lamb"})
    void chainedStepsEqualOneProcess(String optimizer) throws IOException {
        float[][] w = random(1, 1.0);
        Path p = write("p0.safetensors", w);
        Path state = null;
        for (int s = 0; s < 3; s++) {
            Path g = write("g" + s + ".safetensors", random(10 + s, 0.01));
            Path out = dir.resolve("p" + (s + 1) + ".safetensors");
            Path stateOut = dir.resolve("s" + (s + 1) + ".safetensors");
            List<String> args = new ArrayList<>(List.of("step", "--optimizer", optimizer, "--preset", optimizer.equals("lars") ? "larc-clip" : "apex",
                    "--params", p.toString(), "--grads", g.toString(), "--out", out.toString(), "--state-out", stateOut.toString(),
                    "--weight-decay", "0.01", "--exclude-from-weight-decay", "bias", "--backend", "cpu", "--threads", "2"));
            if (state != null) args.addAll(List.of("--state", state.toString()));
            Object[] r = run(args.toArray(new String[0]));
            assertEquals(0, r[0], (String) r[2]);
            assertTrue(((String) r[1]).contains("step " + (s + 1) + " applied"), (String) r[1]);
            p = out;
            state = stateOut;
        }
        float[][] expected = random(1, 1.0);
        ParamLayout layout = layout().build();
        try (LayerwiseOptimizer opt = optimizer.equals("lars")
                ? Lars.builder(LarsPreset.LARC_CLIP).learningRate(0.1).weightDecay(0.01).backend(Backend.CPU).build(layout)
                : Lamb.builder(LambPreset.APEX).learningRate(1e-3).weightDecay(0.01).backend(Backend.CPU).build(layout)) {
            for (int s = 0; s < 3; s++) opt.step(Arrays.asList(expected), Arrays.asList(random(10 + s, 0.01)));
            float[][] got = read(p);
            for (int i = 0; i < NAMES.length; i++) assertArrayEquals(expected[i], got[i], NAMES[i]);
            try (SafetensorsFile f = SafetensorsFile.open(state)) {
                assertEquals("3", f.metadata().get("step"));
                assertEquals(optimizer, f.metadata().get("optimizer"));
                for (String buffer : opt.stateNames()) {
                    for (int i = 0; i < NAMES.length; i++) {
                        float[] v = new float[expected[i].length];
                        opt.readState(buffer, i, v);
                        assertArrayEquals(v, f.readFloats(NAMES[i] + "." + buffer), NAMES[i] + "." + buffer);
                    }
                }
            }
        }
    }

    @Test
    void emulatedCudaStepGivesTheSameBitsAsCpu() throws IOException {
        Path p = write("p.safetensors", random(1, 1.0));
        Path g = write("g.safetensors", random(2, 0.01));
        for (String backend : new String[] {"cpu", "cuda-emulator"}) {
            Object[] r = run("step", "--params", p.toString(), "--grads", g.toString(), "--preset", "optax", "--nesterov",
                    "--out", dir.resolve(backend + ".safetensors").toString(), "--state-out", dir.resolve(backend + "-s.safetensors").toString(),
                    "--backend", backend);
            assertEquals(0, r[0], (String) r[2]);
        }
        assertArrayEquals(Files.readAllBytes(dir.resolve("cpu.safetensors")), Files.readAllBytes(dir.resolve("cuda-emulator.safetensors")));
        assertArrayEquals(Files.readAllBytes(dir.resolve("cpu-s.safetensors")), Files.readAllBytes(dir.resolve("cuda-emulator-s.safetensors")));
    }

    /** Bad input: non-zero exit, one line on stderr, nothing written. */
    @Test
    void badInputWritesNothing() throws IOException {
        Path p = write("p.safetensors", random(1, 1.0));
        Path g = write("g.safetensors", random(2, 0.01));
        Path out = dir.resolve("out.safetensors");
        Path so = dir.resolve("so.safetensors");
        Path garbage = dir.resolve("garbage.safetensors");
        Files.write(garbage, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        SafetensorsWriter other = new SafetensorsWriter().addF32("conv.weight", SHAPES[0], random(3, 1)[0]);
        Path fewer = dir.resolve("fewer.safetensors");
        other.write(fewer);
        Path wrongState = dir.resolve("wrong-state.safetensors");
        new SafetensorsWriter().addF32("x.momentum_buffer", new int[] {2}, new float[2]).metadata("format", OptimizerCheckpoint.FORMAT)
                .metadata("optimizer", "lars").metadata("step", "1").metadata("skipped_steps", "0").write(wrongState);
        String[][] cases = {
            {"no such file", "--params", dir.resolve("missing").toString(), "--grads", g.toString()},
            {"header length", "--params", garbage.toString(), "--grads", g.toString()},
            {"no gradient for tensor 'bn.bias'", "--params", p.toString(), "--grads", fewer.toString()},
            {"lr must be finite, got NaN", "--params", p.toString(), "--grads", g.toString(), "--lr", "NaN"},
            {"momentum must be", "--params", p.toString(), "--grads", g.toString(), "--momentum", "-1"},
            {"unknown LARS preset 'adam'", "--params", p.toString(), "--grads", g.toString(), "--preset", "adam"},
            {"--beta1 applies only to --optimizer lamb", "--params", p.toString(), "--grads", g.toString(), "--beta1", "0.9"},
            {"state tensor 'conv.weight.momentum_buffer' is missing", "--params", p.toString(), "--grads", g.toString(), "--state", wrongState.toString()},
            {"bad regex", "--params", p.toString(), "--grads", g.toString(), "--exclude-from-weight-decay", "(("},
        };
        for (String[] c : cases) {
            List<String> args = new ArrayList<>(List.of("step", "--out", out.toString(), "--state-out", so.toString()));
            args.addAll(Arrays.asList(c).subList(1, c.length));
            Object[] r = run(args.toArray(new String[0]));
            String err = (String) r[2];
            assertNotEquals(0, r[0], c[0]);
            assertTrue(err.contains(c[0]), "stderr '" + err + "' should mention '" + c[0] + "'");
            assertEquals(1, err.strip().lines().count(), "one line: " + err);
            assertFalse(Files.exists(out), c[0] + ": wrote " + out);
            assertFalse(Files.exists(so), c[0] + ": wrote " + so);
        }
        Object[] usage = run("step", "--params", p.toString());
        assertEquals(2, usage[0]);
        assertTrue(((String) usage[2]).contains("Missing required options"), (String) usage[2]);
    }

    @Test
    void benchWritesJsonWithTheRequiredFields() throws IOException {
        Path shapes = dir.resolve("tiny.txt");
        Files.writeString(shapes, "# a tiny model\na.weight 64x64\nb.bias 64\n");
        Path json = dir.resolve("bench.json");
        for (String optimizer : new String[] {"lars", "lamb"}) {
            Object[] r = run("bench", "--shapes", shapes.toString(), "--optimizer", optimizer, "--backend", "cpu", "--threads", "1",
                    "--warmup", "1", "--steps", "3", "--json", json.toString());
            assertEquals(0, r[0], (String) r[2]);
            assertTrue(((String) r[1]).contains("ratio"), (String) r[1]);
            JsonNode n = new ObjectMapper().readTree(json.toFile());
            for (String f : new String[] {"model", "optimizer", "backend", "threads", "params", "segments", "us_per_step_median",
                "bytes_per_param", "gbps", "floor_gbps", "ratio_to_floor"}) {
                assertTrue(n.has(f), "missing field " + f);
            }
            assertEquals(4160, n.get("params").asLong());
            assertEquals(optimizer.equals("lars") ? 20 : 28, n.get("bytes_per_param").asInt());
            assertTrue(n.get("floor_gbps").asDouble() > 0);
            assertEquals(n.get("gbps").asDouble() / n.get("floor_gbps").asDouble(), n.get("ratio_to_floor").asDouble(), 0.01);
            // Cost in momentum-SGD steps = (time per parameter) / (SGD time per element), within
            // what the JSON's rounding to 0.01 allows (GB/s values may be small on a slow run).
            double bytes = n.get("bytes_per_param").asDouble();
            double gb = n.get("gbps").asDouble();
            double sgdGb = n.get("momentum_sgd_gbps").asDouble();
            double cost = n.get("cost_in_momentum_sgd_steps").asDouble();
            assertTrue(gb > 0 && sgdGb > 0 && cost > 0, n.toString());
            double lowest = (bytes / (gb + 0.005)) / (20.0 / Math.max(sgdGb - 0.005, 1e-9));
            double highest = gb > 0.005 ? (bytes / (gb - 0.005)) / (20.0 / (sgdGb + 0.005)) : Double.POSITIVE_INFINITY;
            assertTrue(cost >= lowest - 0.006 && cost <= highest + 0.006, cost + " not in [" + lowest + ", " + highest + "]");
        }
    }

    @Test
    void verifyAndInfo() {
        Object[] v = run("verify", "--optimizer", "lamb", "--preset", "optax");
        assertEquals(0, v[0], (String) v[1] + v[2]);
        assertTrue(((String) v[1]).contains("cuda-emulator  bitwise identical to cpu"), (String) v[1]);
        Object[] i = run("info");
        assertEquals(0, i[0]);
        assertTrue(((String) i[1]).contains("cuda-emulator  available"), (String) i[1]);
        assertTrue(((String) i[1]).matches("(?s).*cuda\\s+(available|unavailable: .+).*"), (String) i[1]);
    }
}

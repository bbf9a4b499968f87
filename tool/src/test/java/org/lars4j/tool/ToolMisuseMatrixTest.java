package org.lars4j.tool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.lars4j.io.DType;
import org.lars4j.io.SafetensorsWriter;

/**
 * The tool's side of the misuse matrix: `step` (the command that writes) against each class of
 * bad input. Each case must exit with the documented code, print one line naming the problem,
 * leave every input byte for byte as it was, and write no file at all.
 */
class ToolMisuseMatrixTest {
    @TempDir
    static Path dir;

    static Path tensors(String name, String[] names, int[][] shapes, Float poison, DType dtype) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        float[][] x = ToolTest.random(name.hashCode(), 0.01);
        for (int i = 0; i < names.length; i++) {
            if (poison != null) x[i][0] = poison;   // a non-finite element in every tensor
            if (dtype == DType.F64 && i == 0) {
                long[] s = java.util.Arrays.stream(shapes[i]).asLongStream().toArray();
                w.add(names[i], DType.F64, s, (from, dst) -> { while (dst.hasRemaining()) dst.put((byte) 0); });
            } else {
                float[] d = java.util.Arrays.copyOf(x[i], java.util.Arrays.stream(shapes[i]).reduce(1, (a, b) -> a * b));
                w.addF32(names[i], shapes[i], d);
            }
        }
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    @TestFactory
    Stream<DynamicTest> stepRejectsEachClassOfBadInputAndWritesNothing() throws IOException {
        String[] n = ToolTest.NAMES;
        int[][] s = ToolTest.SHAPES;
        Path p = tensors("p.safetensors", n, s, null, DType.F32);
        Path g = tensors("g.safetensors", n, s, null, DType.F32);
        Path pF64 = tensors("p-f64.safetensors", n, s, null, DType.F64);
        Path gShort = tensors("g-short.safetensors", n, new int[][] {s[0], s[1], {10, 519}}, null, DType.F32);
        Path gNames = tensors("g-names.safetensors", new String[] {n[0], n[1], "head.weight"}, s, null, DType.F32);
        Path gNaN = tensors("g-nan.safetensors", n, s, Float.NaN, DType.F32);
        Path gInf = tensors("g-inf.safetensors", n, s, Float.POSITIVE_INFINITY, DType.F32);
        Object[][] cases = {
            // class, expected exit, stderr must contain, args after step
            {"null: no --grads", 2, "Missing required option: '--grads", new String[] {"--params", p.toString()}},
            {"null: empty --params", 1, "lars4j step: the path is empty", new String[] {"--params", "", "--grads", g.toString()}},
            {"wrong length: a gradient's shape", 1, "gradient 'fc.weight' is F32[10, 519], parameter is F32[10, 520]",
                new String[] {"--params", p.toString(), "--grads", gShort.toString()}},
            {"NaN/Inf: --lr NaN", 2, "constant lr must be finite, got NaN", new String[] {"--params", p.toString(), "--grads", g.toString(), "--lr", "NaN"}},
            {"NaN/Inf: --momentum Infinity", 2, "momentum must be finite and >= 0, got Infinity",
                new String[] {"--params", p.toString(), "--grads", g.toString(), "--momentum", "Infinity"}},
            {"NaN/Inf: --weight-decay 1e39", 2, "weightDecay 1.0E39 overflows float32",
                new String[] {"--params", p.toString(), "--grads", g.toString(), "--weight-decay", "1e39"}},
            {"wrong dtype: F64 parameters", 1, "tensor 'conv.weight' is F64; step needs F32", new String[] {"--params", pF64.toString(), "--grads", g.toString()}},
            {"wrong dtype: F64 gradients", 1, "gradient 'conv.weight' is F64", new String[] {"--params", p.toString(), "--grads", pF64.toString()}},
            {"wrong names: gradients", 1, "no gradient for tensor 'fc.weight'", new String[] {"--params", p.toString(), "--grads", gNames.toString()}},
            {"wrong names: --state that is no state", 1, "g.safetensors: not a lars4j optimizer state (format null)",
                new String[] {"--params", p.toString(), "--grads", g.toString(), "--state", g.toString()}},
        };
        List<DynamicTest> tests = new ArrayList<>();
        for (Object[] c : cases) {
            tests.add(DynamicTest.dynamicTest((String) c[0], () -> rejects((int) c[1], (String) c[2], (String[]) c[3])));
        }
        // A non-finite gradient is not an error: the step is skipped and said so, both outputs written.
        for (Path bad : new Path[] {gNaN, gInf}) {
            tests.add(DynamicTest.dynamicTest("NaN/Inf gradient " + bad.getFileName() + ": a skipped step", () -> {
                Path out = dir.resolve("skip-out-" + bad.getFileName());
                Object[] r = ToolTest.run("step", "--params", p.toString(), "--grads", bad.toString(), "--out", out.toString(),
                        "--state-out", dir.resolve("skip-state-" + bad.getFileName()).toString(), "--backend", "cpu");
                assertEquals(0, r[0], (String) r[2]);
                assertTrue(((String) r[1]).startsWith("lars step 1 SKIPPED (non-finite gradient)"), (String) r[1]);
                assertArrayEquals(ToolTest.read(p)[2], ToolTest.read(out)[2], "the parameters are unchanged");
            }));
        }
        return tests.stream();
    }

    static void rejects(int code, String mention, String[] args) throws IOException {
        Path out = dir.resolve("out.safetensors");
        Path so = dir.resolve("so.safetensors");
        List<String> before = listing();
        List<byte[]> bytes = contents(before);
        List<String> a = new ArrayList<>(List.of("step", "--out", out.toString(), "--state-out", so.toString(), "--backend", "cpu"));
        a.addAll(List.of(args));
        Object[] r = ToolTest.run(a.toArray(new String[0]));
        String err = ((String) r[2]).strip();
        assertEquals(code, r[0], err);
        assertTrue(err.contains(mention), "'" + err + "' should mention '" + mention + "'");
        assertEquals(1, err.lines().count(), err);
        assertEquals(before, listing(), "no file written or removed");
        List<byte[]> after = contents(before);
        for (int i = 0; i < before.size(); i++) assertArrayEquals(bytes.get(i), after.get(i), before.get(i) + " unchanged");
    }

    static List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(x -> x.getFileName().toString()).filter(x -> !x.startsWith("skip-")).sorted().collect(Collectors.toList());
        }
    }

    static List<byte[]> contents(List<String> names) throws IOException {
        List<byte[]> out = new ArrayList<>();
        for (String name : names) out.add(Files.readAllBytes(dir.resolve(name)));
        return out;
    }
}

package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.testing.TestModels.Form;
import org.lars4j.testing.TestModels.Tensors;
import org.lars4j.testing.TestModels;

/** docs/MATH.md section 8: the same bits for 1, 2, 3 and 8 threads, every storage form, run after run. */
class DeterminismTest {

    /** Raw bits of every weight and momentum element after {@code steps} steps. */
    static int[][] run(LarsPreset preset, ParamLayout layout, int threads, Form form, int steps) {
        float[][] w0 = TestModels.gaussian(layout, 5, 0.5);
        Tensors p = new Tensors(form, layout, w0);
        try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(0.7).weightDecay(0.01).nesterov(preset.ordinal() % 2 == 0)
                .backend(Backend.CPU).threads(threads).build(layout)) {
            for (int s = 0; s < steps; s++) {
                Tensors g = new Tensors(form, layout, TestModels.gaussian(layout, 50 + s, 0.02));
                TestModels.step(opt, p, g);
            }
            float[][] w = p.segments();
            int[][] bits = new int[2 * layout.size()][];
            for (int i = 0; i < layout.size(); i++) {
                float[] v = new float[w[i].length];
                opt.readState("momentum_buffer", i, v);
                bits[2 * i] = TestModels.raw(w[i]);
                bits[2 * i + 1] = TestModels.raw(v);
            }
            return bits;
        }
    }

    @ParameterizedTest
    @EnumSource(LarsPreset.class)
    void sameBitsForAnyThreadCountAndForm(LarsPreset preset) {
        // Long segments (many tiles, more than 256 tiles in one) and many small ones.
        ParamLayout layout = ParamLayout.builder()
                .add("big", 1_050_000 + 17)
                .add("mid", 3 * 4096 + 5, 1)
                .add("bias", 7)
                .add("small.weight", 33, 65)
                .build();
        int[][] expected = run(preset, layout, 1, Form.FLAT_ARRAY, 3);
        for (int threads : new int[] {2, 3, 8}) {
            assertBitsEqual(expected, run(preset, layout, threads, Form.FLAT_ARRAY, 3), preset + " threads=" + threads);
        }
        for (Form f : Form.values()) {
            assertBitsEqual(expected, run(preset, layout, 2, f, 3), preset + " form=" + f);
        }
        assertBitsEqual(expected, run(preset, layout, 1, Form.FLAT_ARRAY, 3), preset + " second run");
    }

    @ParameterizedTest
    @EnumSource(value = LarsPreset.class, names = {"PAPER", "TIMM"})
    void seededRandomLayouts(LarsPreset preset) {
        for (long seed = 1; seed <= 5; seed++) {
            ParamLayout layout = TestModels.randomLayout(seed, 40);
            int[][] one = run(preset, layout, 1, Form.LIST_ARRAYS, 2);
            assertBitsEqual(one, run(preset, layout, 3, Form.LIST_DIRECT, 2), preset + " seed " + seed);
        }
    }

    static void assertBitsEqual(int[][] expected, int[][] actual, String what) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) assertArrayEquals(expected[i], actual[i], what + ", buffer " + i);
    }
}

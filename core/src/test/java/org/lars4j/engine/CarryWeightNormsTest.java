package org.lars4j.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.lars4j.Backend;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.testing.TestModels;

/**
 * Carried weight norms: with carryWeightNorms the next step uses the ||w|| partials computed by
 * the previous update pass. It must give the same bits as recomputing them, on every engine,
 * across skipped steps; it must be dropped when the weights change behind the optimizer's back
 * (weightsChanged) or arrive in other memory. The Java engine here; the CUDA engines against it in
 * lars4j-cuda's CarriedNormsOnNativeEnginesTest, with the helpers below.
 */
public class CarryWeightNormsTest {

    public static ParamLayout layout() {
        return ParamLayout.builder().add("a.weight", 4096 * 2 + 31, 1).add("b.weight", 64, 64).add("c.bias", 77)
                .add("d.weight", 300, 3).excludeFromWeightDecay("bias").build();
    }

    /** Final weights, momentum and trust ratios of a fixed scenario. */
    public static List<int[]> scenario(LarsPreset preset, Backend backend, boolean carry, boolean declareChange) {
        ParamLayout layout = layout();
        float[][] w = TestModels.gaussian(layout, 1, 0.5);
        try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(0.5).weightDecay(0.01).carryWeightNorms(carry)
                .backend(backend).threads(2).build(layout)) {
            List<float[]> ws = Arrays.asList(w);
            for (int s = 0; s < 6; s++) {
                float[][] g = TestModels.gaussian(layout, 10 + s, 0.01);
                if (s == 2) g[0][5] = Float.NaN;                       // a skipped step in the middle
                if (s == 4) {                                          // weights written from outside
                    for (float[] x : w) x[0] *= 0.5f;
                    if (declareChange) opt.weightsChanged();
                }
                if (s == 5) ws = Arrays.asList(TestModels.copy(w));    // other memory, same values
                assertEquals(s != 2, opt.step(ws, Arrays.asList(g)));
            }
            return records(opt, ws.toArray(new float[0][]));
        }
    }

    /** Per segment: the bits of the weights, the momentum and the last trust ratio (as float). */
    public static List<int[]> records(LayerwiseOptimizer opt, float[][] w) {
        List<int[]> out = new java.util.ArrayList<>();
        for (int i = 0; i < w.length; i++) {
            float[] v = new float[w[i].length];
            opt.readState("momentum_buffer", i, v);
            out.add(TestModels.raw(w[i]));
            out.add(TestModels.raw(v));
            out.add(new int[] {Float.floatToRawIntBits((float) opt.lastTrustRatio(i))});
        }
        return out;
    }

    public static void assertSame(List<int[]> a, List<int[]> b, String what) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), what + " record " + i);
    }

    @ParameterizedTest
    @EnumSource(value = LarsPreset.class, names = {"PAPER", "TIMM", "LARC_CLIP", "OPTAX", "MLPERF"})
    void carriedNormsGiveTheSameBits(LarsPreset preset) {
        List<int[]> plain = scenario(preset, Backend.CPU, false, true);
        assertSame(plain, scenario(preset, Backend.CPU, true, true), preset + " cpu, carry");
    }

    /** Without weightsChanged() the carried (stale) norm is used: proof that the carry is active. */
    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"CPU"})
    public void undeclaredChangesUseTheStaleNorm(Backend backend) {
        List<int[]> plain = scenario(LarsPreset.PAPER, Backend.CPU, false, false);
        List<int[]> stale = scenario(LarsPreset.PAPER, backend, true, false);
        boolean differ = false;
        for (int i = 0; i < plain.size(); i++) differ |= !Arrays.equals(plain.get(i), stale.get(i));
        assertFalse(!differ, "a weight changed without weightsChanged() must leave the stale norm in use");
    }
}

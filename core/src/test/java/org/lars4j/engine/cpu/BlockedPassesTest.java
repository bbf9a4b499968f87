package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.lars4j.Backend;
import org.lars4j.engine.CarryWeightNormsTest;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lamb.LambTest;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.testing.TestModels;

/**
 * The Java engine runs a LARS step block by block (norms of a block, then its update while its
 * data is in cache; system property {@code lars4j.cpu.blockElements}). Any block size must give
 * the bits of whole-model passes ({@code 0}), for every thread count, both non-finite policies,
 * with and without carried norms; and with SKIP_STEP a non-finite gradient in the last block must
 * still leave every earlier block untouched. The same for LAMB's blocked moments and apply passes.
 */
class BlockedPassesTest {
    private static final String BLOCKS = "lars4j.cpu.blockElements";

    /** Many small segments, ragged tiles, a segment larger than every tested block, exclusions. */
    static ParamLayout layout() {
        ParamLayout.Builder b = ParamLayout.builder();
        ParamLayout random = TestModels.randomLayout(7, 30);
        for (int i = 0; i < random.size(); i++) b.add(random.segment(i).name(), random.segment(i).length());
        return b.add("long.weight", 4096 * 7 + 5, 1).add("tail.bias", 3).add("tail.weight", 33, 17)
                .excludeFromWeightDecay("bias$").build();
    }

    /** Runs {@code body} with the block-size property set, then restores it. */
    static <T> T withBlockElements(int blockElements, Supplier<T> body) {
        return withProperty(BLOCKS, Integer.toString(blockElements), body);
    }

    /** Runs {@code body} with a system property set, then restores it. */
    static <T> T withProperty(String key, String value, Supplier<T> body) {
        String before = System.getProperty(key);
        System.setProperty(key, value);
        try {
            return body.get();
        } finally {
            if (before == null) System.clearProperty(key);
            else System.setProperty(key, before);
        }
    }

    /** Weights, momentum, trust ratios and step results after 5 steps (step 2 has a NaN in the last segment under SKIP). */
    static List<int[]> run(LarsPreset preset, int blockElements, int threads, NonFinitePolicy policy, boolean carry) {
        return withBlockElements(blockElements, () -> {
            ParamLayout layout = layout();
            float[][] w = TestModels.gaussian(layout, 3, 0.5);
            try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(0.3).weightDecay(0.02)
                    .nonFinitePolicy(policy).carryWeightNorms(carry).backend(Backend.CPU).threads(threads).build(layout)) {
                for (int s = 0; s < 5; s++) {
                    float[][] g = TestModels.gaussian(layout, 20 + s, 0.01);
                    boolean poisoned = s == 2 && policy == NonFinitePolicy.SKIP_STEP;
                    if (poisoned) g[layout.size() - 1][4] = Float.NaN;
                    boolean applied = opt.step(Arrays.asList(w), Arrays.asList(g));
                    assertEquals(!poisoned, applied, "step " + s);
                }
                return CarryWeightNormsTest.records(opt, w);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(value = LarsPreset.class, names = {"PAPER", "OPTAX", "LARC_CLIP", "MLPERF", "TVLARS"})
    void anyBlockSizeGivesTheBitsOfWholeModelPasses(LarsPreset preset) {
        for (NonFinitePolicy policy : NonFinitePolicy.values()) {
            for (boolean carry : new boolean[] {false, true}) {
                List<int[]> whole = run(preset, 0, 1, policy, carry);
                for (int block : new int[] {1, 5000, 20000}) {
                    for (int threads : new int[] {1, 3}) {
                        String what = preset + " " + policy + " carry=" + carry + " block=" + block + " threads=" + threads;
                        CarryWeightNormsTest.assertSame(whole, run(preset, block, threads, policy, carry), what);
                    }
                }
            }
        }
    }

    /** The SKIP_STEP pre-pass: a NaN in the last segment stops the step before block 0 is written. */
    @ParameterizedTest
    @EnumSource(value = LarsPreset.class, names = {"PAPER", "OPTAX"})
    void aNanInTheLastBlockLeavesEveryBlockUntouched(LarsPreset preset) {
        withBlockElements(1, () -> {
            ParamLayout layout = layout();
            float[][] w = TestModels.gaussian(layout, 3, 0.5);
            try (LayerwiseOptimizer opt = Lars.builder(preset).learningRate(0.3).backend(Backend.CPU).threads(2).build(layout)) {
                opt.step(Arrays.asList(w), Arrays.asList(TestModels.gaussian(layout, 4, 0.01)));
                float[][] w0 = TestModels.copy(w);
                float[][] g = TestModels.gaussian(layout, 5, 0.01);
                g[layout.size() - 1][0] = Float.POSITIVE_INFINITY;
                assertFalse(opt.step(Arrays.asList(w), Arrays.asList(g)));
                assertEquals(1, opt.skippedSteps());
                for (int i = 0; i < layout.size(); i++) {
                    assertArrayEquals(TestModels.raw(w0[i]), TestModels.raw(w[i]), "weights of segment " + i);
                }
            }
            return null;
        });
    }

    /** LAMB: weights, both moments and trust ratios after 4 steps (step 1 poisoned under SKIP). */
    static List<int[]> lambRun(LambPreset preset, int blockElements, int threads, NonFinitePolicy policy, double maxGradNorm) {
        return withBlockElements(blockElements, () -> {
            ParamLayout layout = layout();
            float[][] w = TestModels.gaussian(layout, 3, 0.5);
            try (LayerwiseOptimizer opt = LambTest.builder(preset).learningRate(1e-2).weightDecay(0.01).maxGradNorm(maxGradNorm)
                    .nonFinitePolicy(policy).backend(Backend.CPU).threads(threads).build(layout)) {
                // Rectified LAMB (RANGER_LARS) leaves its momentum-only phase at t = 6: run past it.
                int steps = preset == LambPreset.RANGER_LARS ? 8 : 4;
                for (int s = 0; s < steps; s++) {
                    float[][] g = TestModels.gaussian(layout, 40 + s, 0.01);
                    boolean poisoned = s == 1 && policy == NonFinitePolicy.SKIP_STEP;
                    if (poisoned) g[layout.size() - 1][2] = Float.NaN;
                    assertEquals(!poisoned, opt.step(Arrays.asList(w), Arrays.asList(g)), "step " + s);
                }
                return lambRecords(opt, w);
            }
        });
    }

    /** Per segment: the bits of the weights, both LAMB moments and the last trust ratio (as float). */
    static List<int[]> lambRecords(LayerwiseOptimizer opt, float[][] w) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < w.length; i++) {
            out.add(TestModels.raw(w[i]));
            for (String buffer : new String[] {"exp_avg", "exp_avg_sq"}) {
                float[] x = new float[w[i].length];
                opt.readState(buffer, i, x);
                out.add(TestModels.raw(x));
            }
            out.add(new int[] {Float.floatToRawIntBits((float) opt.lastTrustRatio(i))});
        }
        return out;
    }

    /** LAMB's moments and apply passes run block by block too; with or without a global clip (block order differs). */
    @ParameterizedTest
    @EnumSource(LambPreset.class)
    void lambAnyBlockSizeGivesTheBitsOfWholeModelPasses(LambPreset preset) {
        for (NonFinitePolicy policy : NonFinitePolicy.values()) {
            for (double clip : new double[] {0.0, 1e-3}) {
                List<int[]> whole = lambRun(preset, 0, 1, policy, clip);
                for (int block : new int[] {1, 5000, 20000}) {
                    for (int threads : new int[] {1, 3}) {
                        String what = "LAMB " + preset + " " + policy + " clip=" + clip + " block=" + block + " threads=" + threads;
                        CarryWeightNormsTest.assertSame(whole, lambRun(preset, block, threads, policy, clip), what);
                    }
                }
            }
        }
    }

    /**
     * Which worker runs which chunk (a part per worker, stolen by others when they run dry) never
     * changes a bit: whole-model passes (about 95K elements: three chunks of ~32K, so parts of
     * several chunks, forwards and backwards) and blocks of 5000 (one chunk per block), also with
     * more workers than a phase has chunks (empty parts, all stolen).
     */
    @ParameterizedTest
    @EnumSource(NonFinitePolicy.class)
    void chunkScheduleDoesNotChangeTheBits(NonFinitePolicy policy) {
        List<int[]> lars = run(LarsPreset.MLPERF, 0, 1, policy, false);
        List<int[]> lamb = lambRun(LambPreset.APEX, 0, 1, policy, 1e-3);
        for (int block : new int[] {0, 5000}) {
            for (int threads : new int[] {2, 3, 8}) {
                String what = policy + " block=" + block + " threads=" + threads;
                CarryWeightNormsTest.assertSame(lars, run(LarsPreset.MLPERF, block, threads, policy, false), "LARS " + what);
                CarryWeightNormsTest.assertSame(lamb, lambRun(LambPreset.APEX, block, threads, policy, 1e-3), "LAMB " + what);
            }
        }
    }
}

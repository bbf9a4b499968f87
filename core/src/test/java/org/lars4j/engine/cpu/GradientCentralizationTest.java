package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.engine.HostTensors;
import org.lars4j.error.InvalidLayoutException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.reference.Float64Reference;
import org.lars4j.rule.NonFinitePolicy;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.rule.stage.GradientCentralization;
import org.lars4j.testing.TestModels;
import org.lars4j.testing.TestModels.Form;
import org.lars4j.testing.TestModels.Tensors;

/**
 * Gradient centralization on the Java engine: against the float64 reference (which centres in
 * exact arithmetic before the rule's transcription), for every LARS preset and LAMB; rows longer
 * than a tile, shorter than a warp, on tile boundaries; a non-zero output axis; convOnly; every
 * storage form, thread count and block size giving the same bits; zero and non-finite
 * gradients; and the layout's checks of the output axis.
 */
public class GradientCentralizationTest {
    static final double WD = 0.01;

    /** Every shape the centring has to get right, and segments it must leave alone. */
    public static ParamLayout layout() {
        return ParamLayout.builder()
                .add("conv.weight", 8, 3, 3, 3)          // rank 4: centred even with convOnly
                .add("short.weight", 16, 7)              // rows of 7: shorter than a warp
                .add("long.weight", 3, 5000)             // rows longer than a tile, tiles straddle rows
                .add("onerow.weight", 1, 4097)           // one row over two tiles
                .add("edge.weight", 2, 4096)             // rows end on the tile boundary
                .add("axis1.weight", 5, 6, 7)            // output axis 1: rows interleave
                .add("axis1long.weight", 700, 7)         // axis 1 over two tiles: 7 rows of 700
                .add("bias", 16)                         // rank 1: never centred
                .add("scale")                            // rank 0
                .outputAxis("axis1.weight", 1)
                .outputAxis("axis1long.weight", 1)
                .excludeFromWeightDecay("bias")
                .build();
    }

    static double lrFor(LarsPreset p) {
        return p == LarsPreset.LARC_CLIP || p == LarsPreset.LARC_SCALE ? 0.5 : 2.0;
    }

    static Stream<Arguments> larsPresetsConvOnly() {
        List<Arguments> out = new ArrayList<>();
        for (LarsPreset p : LarsPreset.values()) {
            out.add(Arguments.of(p, false));
            out.add(Arguments.of(p, true));
        }
        return out.stream();
    }

    /** Three steps; bound as for one plain LARS step, a little looser for the three. */
    @ParameterizedTest(name = "{0} convOnly={1}")
    @MethodSource("larsPresetsConvOnly")
    void everyLarsPresetWithCentralizationFollowsTheReference(LarsPreset preset, boolean convOnly) {
        ParamLayout layout = layout();
        float[][] w0 = TestModels.gaussian(layout, 11, 0.5);
        double lr = lrFor(preset);
        Lars.Builder b = Lars.builder(preset).learningRate(lr).weightDecay(WD).backend(Backend.CPU).threads(2)
                .gradientCentralization(convOnly);
        if (convOnly) b.lookahead(2, 0.5);   // with a weight stage too: the reference nests them the same way
        Rule rule = b.rule();
        try (LayerwiseOptimizer opt = b.build(layout)) {
            Float64Reference ref = Float64Reference.of(rule, opt.layout(), w0);
            Tensors p = new Tensors(Form.FLAT_ARRAY, layout, w0);
            for (int s = 0; s < 3; s++) {
                float[][] g = TestModels.gaussian(layout, 12 + s, 0.01);
                ref.step(g);
                assertTrue(TestModels.step(opt, p, new Tensors(Form.FLAT_ARRAY, layout, g)));
            }
            float[][] w = p.segments();
            for (int i = 0; i < layout.size(); i++) {
                String name = layout.segment(i).name();
                float[] v = new float[w[i].length];
                opt.readState("momentum_buffer", i, v);
                double ew = TestModels.relL2(w[i], ref.weights()[i]);
                double ev = TestModels.relL2(v, ref.state("momentum_buffer")[i]);
                assertTrue(ew <= 2e-6, name + ": weights rel. error " + ew);
                assertTrue(ev <= 1e-5, name + ": momentum rel. error " + ev);
                assertEquals(ref.trustRatios()[i], opt.lastTrustRatio(i), 2e-6 * Math.abs(ref.trustRatios()[i]), name + " trust ratio");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(LambPreset.class)
    void lambWithCentralizationFollowsTheReference(LambPreset preset) {
        ParamLayout layout = layout();
        float[][] w0 = TestModels.gaussian(layout, 21, 0.5);
        Lamb.Builder b = Lamb.builder(preset).learningRate(0.01).weightDecay(WD).backend(Backend.CPU).threads(2)
                .gradientCentralization(false);
        Rule rule = b.rule();
        try (LayerwiseOptimizer opt = b.build(layout)) {
            Float64Reference ref = Float64Reference.of(rule, opt.layout(), w0);
            List<float[]> w = Arrays.asList(TestModels.copy(w0));
            for (int s = 0; s < 3; s++) {
                float[][] g = TestModels.gaussian(layout, 22 + s, 0.01);
                ref.step(g);
                assertTrue(opt.step(w, Arrays.asList(g)));
            }
            for (int i = 0; i < layout.size(); i++) {
                double ew = TestModels.relL2(w.get(i), ref.weights()[i]);
                assertTrue(ew <= 2e-6, layout.segment(i).name() + ": weights rel. error " + ew);
            }
        }
    }

    /** The centred gradient of each row sums to (about) zero, and 1-D segments are untouched: seen through ||g||. */
    @Test
    void theGradNormIsTheNormOfTheCentredGradient() {
        ParamLayout layout = ParamLayout.builder().add("w", 2, 3).add("b", 3).build();
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).gradientCentralization(false)
                .backend(Backend.CPU).build(layout)) {
            float[][] w = {{1, 2, 3, 4, 5, 6}, {1, 1, 1}};
            float[][] g = {{1, 2, 6, -1, -1, 5}, {1, 2, 6}};
            assertTrue(opt.step(Arrays.asList(w), Arrays.asList(g)));
            // rows {1, 2, 6} and {-1, -1, 5}, means 3 and 1: {-2, -1, 3}, {-2, -2, 4}: sum of squares 38
            assertEquals(Math.sqrt(38), opt.lastGradNorm(0), 0);
            assertEquals(Math.sqrt(41), opt.lastGradNorm(1), 0);
        }
    }

    /** Bits of weights, momentum and diagnostics after three GC steps. */
    static List<long[]> larsBits(ParamLayout layout, Form form, int threads, UnaryOperator<Lars.Builder> extra) {
        List<long[]> out = new ArrayList<>();
        try (LayerwiseOptimizer opt = extra.apply(Lars.builder(LarsPreset.TIMM).learningRate(0.5).weightDecay(WD)
                .backend(Backend.CPU).threads(threads)).build(layout)) {
            Tensors p = new Tensors(form, layout, TestModels.gaussian(layout, 3, 0.5));
            for (int s = 0; s < 3; s++) {
                TestModels.step(opt, p, new Tensors(form, layout, TestModels.gaussian(layout, 40 + s, 0.01)));
                long[] d = new long[2 * layout.size()];
                for (int i = 0; i < layout.size(); i++) {
                    d[2 * i] = Double.doubleToLongBits(opt.lastGradNorm(i));
                    d[2 * i + 1] = Double.doubleToLongBits(opt.lastTrustRatio(i));
                }
                out.add(d);
            }
            float[][] w = p.segments();
            for (int i = 0; i < layout.size(); i++) {
                float[] v = new float[w[i].length];
                opt.readState("momentum_buffer", i, v);
                out.add(TestModels.bits(w[i]));
                out.add(TestModels.bits(v));
            }
        }
        return out;
    }

    @Test
    void everyStorageFormThreadCountAndBlockSizeGivesTheSameBits() {
        ParamLayout layout = layout();
        List<long[]> expected = larsBits(layout, Form.FLAT_ARRAY, 1, b -> b.gradientCentralization(false));
        for (Form form : Form.values()) {
            TestModels.assertSameBits(expected, larsBits(layout, form, 3, b -> b.gradientCentralization(false)), "form " + form);
        }
        String old = System.getProperty(TileTraversal.BLOCK_PROPERTY);
        try {
            System.setProperty(TileTraversal.BLOCK_PROPERTY, "5000");   // many blocks: the SKIP_STEP pre-pass runs
            TestModels.assertSameBits(expected, larsBits(layout, Form.LIST_BYTES, 2, b -> b.gradientCentralization(false)), "blocks");
        } finally {
            if (old == null) System.clearProperty(TileTraversal.BLOCK_PROPERTY);
            else System.setProperty(TileTraversal.BLOCK_PROPERTY, old);
        }
    }

    @Test
    void centralizationChangesTheStepAndConvOnlyLeavesMatricesAlone() {
        ParamLayout layout = layout();
        List<long[]> plain = larsBits(layout, Form.FLAT_ARRAY, 2, b -> b);
        List<long[]> all = larsBits(layout, Form.FLAT_ARRAY, 2, b -> b.gradientCentralization(false));
        List<long[]> conv = larsBits(layout, Form.FLAT_ARRAY, 2, b -> b.gradientCentralization(true));
        int last = plain.size() - 2 * layout.size();
        for (int i = 0; i < layout.size(); i++) {
            int rank = layout.segment(i).rank();
            String name = layout.segment(i).name();
            long[] wPlain = plain.get(last + 2 * i);
            assertEquals(rank > 1, !Arrays.equals(wPlain, all.get(last + 2 * i)), name + " centred (all)");
            assertEquals(rank > 3, !Arrays.equals(wPlain, conv.get(last + 2 * i)), name + " centred (convOnly)");
        }
    }

    @Test
    void zeroGradientsStayZeroAndMatchThePlainStep() {
        ParamLayout layout = layout();
        float[][] zero = new float[layout.size()][];
        for (int i = 0; i < layout.size(); i++) zero[i] = new float[layout.segment(i).length()];
        float[][][] results = new float[2][][];
        for (int gc = 0; gc < 2; gc++) {
            Lars.Builder b = Lars.builder(LarsPreset.PAPER).learningRate(0.5).weightDecay(WD).backend(Backend.CPU);
            if (gc == 1) b.gradientCentralization(false);
            try (LayerwiseOptimizer opt = b.build(layout)) {
                float[][] w = TestModels.gaussian(layout, 5, 0.5);
                assertTrue(opt.step(Arrays.asList(w), Arrays.asList(zero)));
                results[gc] = w;
            }
        }
        for (int i = 0; i < layout.size(); i++) assertArrayEquals(TestModels.bits(results[0][i]), TestModels.bits(results[1][i]));
    }

    /** A NaN or an infinity in a centred row makes its mean, and so the row, non-finite: the step is skipped. */
    @Test
    void aNonFiniteGradientInACentredSegmentSkipsTheStep() {
        ParamLayout layout = layout();
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            for (boolean lamb : new boolean[] {false, true}) {
                try (LayerwiseOptimizer opt = lamb
                        ? Lamb.builder(LambPreset.PAPER).learningRate(0.01).gradientCentralization(false).backend(Backend.CPU).build(layout)
                        : Lars.builder(LarsPreset.PAPER).learningRate(0.5).gradientCentralization(false).backend(Backend.CPU).build(layout)) {
                    float[][] w = TestModels.gaussian(layout, 5, 0.5);
                    float[][] before = TestModels.copy(w);
                    float[][] g = TestModels.gaussian(layout, 6, 0.01);
                    g[2][4999] = bad;   // long.weight, the last element of its first row (in the second tile)
                    assertFalse(opt.step(Arrays.asList(w), Arrays.asList(g)), bad + (lamb ? " lamb" : " lars"));
                    for (int i = 0; i < w.length; i++) assertArrayEquals(before[i], w[i]);
                    assertEquals(0, opt.stepCount());
                    assertEquals(1, opt.skippedSteps());
                }
            }
        }
    }

    /**
     * Rows that straddle tiles next to rows inside one tile, in every segment kind: a row of 100
     * elements crosses each tile boundary of a 300 x 100 matrix; 4096 is not a multiple of 100.
     */
    public static ParamLayout mixedLayout() {
        return ParamLayout.builder()
                .add("fits.weight", 64, 64)            // 64 rows of 64 elements: every row in one tile
                .add("ragged.weight", 300, 100)        // 7 rows straddle tile boundaries, 293 lie inside a tile
                .add("conv.weight", 64, 16, 3, 3)      // rows of 144 over 3 tiles: 2 straddle
                .add("long.weight", 2, 5000)           // rows longer than a tile: the pre-pass
                .add("excluded.weight", 40, 50)        // not adapted: without SKIP_STEP only the update reads g
                .add("axis1.weight", 5, 6, 7)          // interleaved rows: the pre-pass
                .add("bias", 64)
                .outputAxis("axis1.weight", 1)
                .excludeFromAdaptation("excluded.weight")
                .build();
    }

    @Test
    void thePrePassSumsOnlyRowsThatStraddleTilesOrInterleave() {
        ParamLayout layout = mixedLayout();
        CentredGradients c = CentredGradients.of(new GradientCentralization(false), layout);
        int[] expected = {0, 7, 2, 2, 0, 6, 0};
        for (int i = 0; i < layout.size(); i++) assertEquals(expected[i], c.prePassRows(i), layout.segment(i).name());
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM).learningRate(0.1).gradientCentralization(false)
                .backend(Backend.CPU).build(layout)) {
            assertTrue(opt.engineVariant().contains("gradient centralization: 459 row means in their tiles, 17 by a pre-pass"),
                    opt.engineVariant());
        }
    }

    /**
     * The pre-pass leaves the rows inside one tile alone (their means still hold the last step's),
     * and the first view of a tile sums them from the gradients it reads; every mean has the bits
     * of the float64 sum of its row in memory order, divided by the row's length, rounded once.
     */
    @Test
    void theFirstViewOfATileSumsTheRowsInsideItAndThePrePassTheOthers() {
        ParamLayout layout = mixedLayout();
        GradientCentralization gc = new GradientCentralization(false);
        CentredGradients c = CentredGradients.of(gc, layout);
        int[] lengths = new int[layout.size()];
        for (int i = 0; i < lengths.length; i++) lengths[i] = layout.segment(i).length();
        float[][] last = null;
        try (TileTraversal tiles = new TileTraversal(new TileTable(lengths), 2, 0)) {
            tiles.centre(c);
            for (int step = 1; step <= 2; step++) {
                float[][] g = orderSensitive(layout, 70 + step);
                float[][] expected = new float[layout.size()][];
                for (int s = 0; s < layout.size(); s++) {
                    int rows = gc.rows(layout.segment(s));
                    int inner = GradientCentralization.inner(layout.segment(s));
                    expected[s] = new float[rows];
                    for (int o = 0; o < rows; o++) {
                        double acc = 0.0;
                        for (int p = 0; p < g[s].length; p++) {
                            if ((p / inner) % rows == o) acc += g[s][p];
                        }
                        expected[s][o] = (float) (acc / (g[s].length / rows));
                    }
                }
                HostTensors w = new HostTensors(layout);
                HostTensors hg = new HostTensors(layout);
                w.bindArrays(Arrays.asList(TestModels.gaussian(layout, 1, 1.0)));
                hg.bindArrays(Arrays.asList(g));
                tiles.bind(w, hg);
                c.startStep(tiles);
                for (int s = 0; s < layout.size(); s++) {
                    for (int o = 0; o < expected[s].length; o++) {
                        float want = straddlesOrInterleaves(layout, s, o) ? expected[s][o] : last == null ? 0f : last[s][o];
                        assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(c.mean(s, o)),
                                layout.segment(s).name() + " row " + o + " after the pre-pass of step " + step);
                    }
                }
                tiles.forEachTile(t -> t.viewG(false));
                for (int s = 0; s < layout.size(); s++) {
                    for (int o = 0; o < expected[s].length; o++) {
                        assertEquals(Float.floatToIntBits(expected[s][o]), Float.floatToIntBits(c.mean(s, o)),
                                layout.segment(s).name() + " row " + o + " after the views of step " + step);
                    }
                }
                tiles.unbind();
                last = expected;
            }
        }
    }

    /**
     * Gradients whose row sums depend on their order: each row starts with 2^50 and has -2^50
     * halfway, so a sum in memory order loses the first half's small values and keeps the second
     * half's, and any other order gives other bits.
     */
    public static float[][] orderSensitive(ParamLayout layout, long seed) {
        GradientCentralization gc = new GradientCentralization(false);
        float[][] g = TestModels.gaussian(layout, seed, 1.0);
        for (int s = 0; s < g.length; s++) {
            int rows = gc.rows(layout.segment(s));
            int inner = GradientCentralization.inner(layout.segment(s));
            for (int o = 0; o < rows; o++) {
                int count = g[s].length / rows;
                for (int p = 0, k = 0; p < g[s].length; p++) {
                    if ((p / inner) % rows != o) continue;
                    if (k == 0) g[s][p] = 0x1p50f;
                    if (k == count / 2) g[s][p] = -0x1p50f;
                    k++;
                }
            }
        }
        return g;
    }

    /** The mixed layout under every storage form, thread count and block size: the same bits, and the reference's steps. */
    @Test
    void rowsInsideTilesAndAcrossThemGiveTheSameBitsEverywhere() {
        ParamLayout layout = mixedLayout();
        UnaryOperator<Lars.Builder> gc = b -> b.gradientCentralization(false);
        List<long[]> expected = larsBits(layout, Form.FLAT_ARRAY, 1, gc);
        for (Form form : Form.values()) TestModels.assertSameBits(expected, larsBits(layout, form, 3, gc), "form " + form);
        // Without SKIP_STEP the excluded segment's g is read by the update alone: its tiles' first view.
        UnaryOperator<Lars.Builder> propagate = b -> b.gradientCentralization(false).nonFinitePolicy(NonFinitePolicy.PROPAGATE);
        TestModels.assertSameBits(larsBits(layout, Form.FLAT_ARRAY, 1, propagate), larsBits(layout, Form.LIST_BYTES, 2, propagate), "propagate");
        String old = System.getProperty(TileTraversal.BLOCK_PROPERTY);
        try {
            System.setProperty(TileTraversal.BLOCK_PROPERTY, "9000");   // blocks: the SKIP_STEP pre-pass reads g first
            TestModels.assertSameBits(expected, larsBits(layout, Form.LIST_BYTES, 2, gc), "blocks");
        } finally {
            if (old == null) System.clearProperty(TileTraversal.BLOCK_PROPERTY);
            else System.setProperty(TileTraversal.BLOCK_PROPERTY, old);
        }
        float[][] w0 = TestModels.gaussian(layout, 11, 0.5);
        for (boolean lamb : new boolean[] {false, true}) {
            Rule rule = lamb ? Lamb.builder(LambPreset.PAPER).learningRate(0.01).weightDecay(WD).gradientCentralization(false).rule()
                    : Lars.builder(LarsPreset.TIMM).learningRate(0.5).weightDecay(WD).gradientCentralization(false).rule();
            try (LayerwiseOptimizer opt = lamb
                    ? Lamb.builder(LambPreset.PAPER).learningRate(0.01).weightDecay(WD).gradientCentralization(false).backend(Backend.CPU).threads(2).build(layout)
                    : Lars.builder(LarsPreset.TIMM).learningRate(0.5).weightDecay(WD).gradientCentralization(false).backend(Backend.CPU).threads(2).build(layout)) {
                Float64Reference ref = Float64Reference.of(rule, opt.layout(), w0);
                List<float[]> w = Arrays.asList(TestModels.copy(w0));
                for (int s = 0; s < 3; s++) {
                    float[][] g = TestModels.gaussian(layout, 80 + s, 0.01);
                    ref.step(g);
                    assertTrue(opt.step(w, Arrays.asList(g)));
                }
                for (int i = 0; i < layout.size(); i++) {
                    double ew = TestModels.relL2(w.get(i), ref.weights()[i]);
                    assertTrue(ew <= 2e-6, (lamb ? "lamb " : "lars ") + layout.segment(i).name() + ": weights rel. error " + ew);
                }
            }
        }
    }

    /** Row o of segment s is summed by the pre-pass: it interleaves, or its elements lie in two tiles. */
    private static boolean straddlesOrInterleaves(ParamLayout layout, int s, int o) {
        if (layout.segment(s).outputAxis() != 0) return true;
        int inner = GradientCentralization.inner(layout.segment(s));
        return (long) o * inner / CanonicalOrder.TILE != ((long) o * inner + inner - 1) / CanonicalOrder.TILE;
    }

    @Test
    void anOutputAxisOutsideTheShapeIsRejectedNamingTheSegment() {
        InvalidLayoutException e = assertThrows(InvalidLayoutException.class,
                () -> ParamLayout.builder().add("fc.weight", 4, 5).outputAxis("fc.weight", 2).build());
        assertTrue(e.getMessage().contains("fc.weight"), e.getMessage());
        assertThrows(InvalidLayoutException.class, () -> ParamLayout.builder().add("fc.weight", 4, 5).outputAxis("fc.weight", -2).build());
        assertThrows(InvalidLayoutException.class, () -> ParamLayout.builder().add("s").outputAxis("s", 0).build());
        InvalidLayoutException unknown = assertThrows(InvalidLayoutException.class,
                () -> ParamLayout.builder().add("fc.weight", 4, 5).outputAxis("fc.wieght", 1).build());
        assertTrue(unknown.getMessage().contains("fc.wieght"), unknown.getMessage());
    }

    @Test
    void theOutputAxisDefaultsToZeroAndSurvivesTheFlags() {
        ParamLayout layout = ParamLayout.builder().add("a", 3, 4).add("b", 3, 4).outputAxis("b", 1).build();
        assertEquals(0, layout.segment(0).outputAxis());
        assertEquals(1, layout.segment(1).outputAxis());
        ParamLayout flagged = layout.withFlags(new boolean[] {false, false}, new boolean[] {true, false});
        assertEquals(1, flagged.segment(1).outputAxis());
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.TIMM).learningRate(0.1).backend(Backend.CPU).build(layout)) {
            assertEquals(1, opt.layout().segment(1).outputAxis());
        }
    }
}

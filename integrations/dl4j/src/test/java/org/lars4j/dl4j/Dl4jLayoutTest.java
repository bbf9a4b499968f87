package org.lars4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.deeplearning4j.nn.api.Model;
import org.junit.jupiter.api.Test;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.rule.lars.LarsPreset;

class Dl4jLayoutTest {
    // conv 3x3x4 (1 channel in), BN 4, pool, dense 16 -> 8, BN 8, output 8 -> 3
    private static final String[] NAMES = {"0_b", "0_W", "1_gamma", "1_beta", "1_mean", "1_log10stdev",
            "3_W", "3_b", "4_gamma", "4_beta", "4_mean", "4_log10stdev", "5_W", "5_b"};
    private static final int[][] MEMORY_SHAPES = {{4}, {4, 1, 3, 3}, {4}, {4}, {4}, {4},
            {8, 16}, {8}, {8}, {8}, {8}, {8}, {3, 8}, {3}};

    @Test
    void aMultiLayerNetworkIsEverySegmentInFlatOrderWithDl4jNamesAndMemoryShapes() {
        checkLayout(Dl4jLayout.of(Dl4jTestNets.multiLayer(null, 1)), NAMES);
    }

    @Test
    void aComputationGraphIsNamedByItsVertices() {
        String[] graphNames = new String[NAMES.length];
        String[] vertices = {"conv", "bn1", "pool", "fc", "bn2", "out"};
        for (int i = 0; i < NAMES.length; i++) {
            int cut = NAMES[i].indexOf('_');
            graphNames[i] = vertices[Integer.parseInt(NAMES[i].substring(0, cut))] + NAMES[i].substring(cut);
        }
        checkLayout(Dl4jLayout.of(Dl4jTestNets.graph(null, 1)), graphNames);
    }

    private static void checkLayout(Dl4jLayout l, String[] names) {
        List<Dl4jParam> ps = l.params();
        assertEquals(names.length, ps.size());
        long offset = 0;
        for (int i = 0; i < ps.size(); i++) {
            Dl4jParam p = ps.get(i);
            assertEquals(names[i], p.name());
            assertArrayEquals(MEMORY_SHAPES[i], p.memoryShape(), p.name());
            assertEquals(offset, p.offset(), p.name());
            assertEquals(names[i].endsWith("_mean") || names[i].endsWith("_log10stdev"), !p.trained(), p.name());
            offset += p.length();
        }
        assertEquals(251, offset);
        assertEquals(251, l.totalElements());
        // DL4J's dense W is [nIn, nOut] in 'f' order: in memory, [nOut, nIn].
        Dl4jParam dense = ps.get(6);
        assertArrayEquals(new long[] {16, 8}, dense.dl4jShape());
        assertEquals('f', dense.ordering());
    }

    @Test
    void theOptimizerLayoutHoldsTheTrainedParametersAndTheMlperfPresetLeavesBiasesAndBatchNormAlone() {
        Dl4jLayout l = Dl4jLayout.of(Dl4jTestNets.multiLayer(null, 1));
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.MLPERF).learningRate(0.1).weightDecay(1e-4).build(l.paramLayout())) {
            ParamLayout pl = opt.layout();
            List<String> names = pl.segments().stream().map(Segment::name).toList();
            assertEquals(List.of("0_b", "0_W", "1_gamma", "1_beta", "3_W", "3_b", "4_gamma", "4_beta", "5_W", "5_b"), names);
            for (Segment s : pl.segments()) {
                boolean weight = s.name().endsWith("_W");
                assertEquals(weight, s.decay(), s.name());
                assertEquals(weight, s.adapt(), s.name());
            }
        }
    }

    @Test
    void userRulesOverrideThePreset() {
        Dl4jLayout l = Dl4jLayout.of(Dl4jTestNets.multiLayer(null, 1));
        try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).weightDecay(1e-4)
                .build(l.builder().excludeFromWeightDecay("_b$").build())) {
            Segment gamma = opt.layout().segment(opt.layout().indexOf("1_gamma"));
            Segment bias = opt.layout().segment(opt.layout().indexOf("3_b"));
            assertTrue(gamma.decay() && gamma.adapt());
            assertFalse(bias.decay());
            assertTrue(bias.adapt());
        }
    }

    /** Gradient centralization centres each output's slice: the dense and convolution weights name their output axis, 0 in memory. */
    @Test
    void denseAndConvolutionWeightsDeclareTheirOutputAxis() {
        Dl4jLayout l = Dl4jLayout.of(Dl4jTestNets.multiLayer(null, 1));
        ParamLayout pl = l.paramLayout();
        for (String w : new String[] {"0_W", "3_W", "5_W"}) {
            Dl4jParam p = l.params().stream().filter(x -> x.name().equals(w)).findFirst().orElseThrow();
            assertEquals(0, p.outputAxis(), w);
            Segment s = pl.segment(pl.indexOf(w));
            assertEquals(0, s.outputAxis(), w);
            assertEquals(s.shape()[0], w.equals("0_W") ? 4 : w.equals("3_W") ? 8 : 3, w + ": axis 0 has the layer's nOut");
        }
        assertEquals(-1, l.params().get(0).outputAxis(), "a bias has none");
        assertEquals(0, Dl4jLayout.memoryOutputAxis(new long[] {16, 8}, 'f', false));      // dense [nIn, nOut] 'f': [nOut, nIn] in memory
        assertEquals(1, Dl4jLayout.memoryOutputAxis(new long[] {16, 8}, 'c', false));      // the same in 'c': [nIn, nOut] in memory
        assertEquals(0, Dl4jLayout.memoryOutputAxis(new long[] {4, 1, 3, 3}, 'c', false)); // convolution [nOut, nIn, kH, kW]
        assertEquals(3, Dl4jLayout.memoryOutputAxis(new long[] {4, 1, 3, 3}, 'f', false));
        assertEquals(1, Dl4jLayout.memoryOutputAxis(new long[] {3, 5, 2, 4}, 'c', true));  // deconvolution [nIn, nOut, kH, kW]
    }

    /**
     * A deconvolution kernel has its outputs on axis 1 ([nIn, nOut, kH, kW]); a weight declared
     * without an output axis (what this layout gives depthwise kernels) is not centred.
     */
    @Test
    void deconvolutionKernelsNameAxisOneAndWeightsWithoutAnOutputAxisAreNotCentred() {
        org.deeplearning4j.nn.conf.MultiLayerConfiguration c = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder().list()
                .layer(new org.deeplearning4j.nn.conf.layers.Deconvolution2D.Builder().nIn(3).nOut(5).kernelSize(2, 4).build())
                .layer(new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder().nOut(2).build())
                .setInputType(org.deeplearning4j.nn.conf.inputs.InputType.convolutional(8, 8, 3)).build();
        org.deeplearning4j.nn.multilayer.MultiLayerNetwork net = new org.deeplearning4j.nn.multilayer.MultiLayerNetwork(c);
        net.init();
        Dl4jLayout l = Dl4jLayout.of(net);
        ParamLayout pl = l.paramLayout();
        Segment deconv = pl.segment(pl.indexOf("0_W"));
        assertArrayEquals(new int[] {3, 5, 2, 4}, deconv.shape());
        assertEquals(1, deconv.outputAxis(), "deconvolution: nOut is axis 1");
        ParamLayout none = ParamLayout.builder().add("dw", 3, 3, 3, 2).outputAxis("dw", Segment.NO_OUTPUT_AXIS).build();
        Segment depthwise = none.segment(0);
        assertEquals(Segment.NO_OUTPUT_AXIS, depthwise.outputAxis());
        org.lars4j.rule.stage.GradientCentralization gc = new org.lars4j.rule.stage.GradientCentralization(false);
        assertEquals(0, gc.rows(depthwise), "a depthwise kernel is not centred");
        assertEquals(5, gc.rows(deconv), "a deconvolution kernel is centred per output channel");
    }

    @Test
    void memoryShapesReverseFortranOrderedWeightsAndFlattenVectors() {
        assertArrayEquals(new int[] {5, 3}, Dl4jLayout.memoryShape(new long[] {3, 5}, 'f', true));
        assertArrayEquals(new int[] {3, 5}, Dl4jLayout.memoryShape(new long[] {3, 5}, 'c', true));
        assertArrayEquals(new int[] {1, 7}, Dl4jLayout.memoryShape(new long[] {7, 1}, 'f', true));   // dense W with one output
        assertArrayEquals(new int[] {7}, Dl4jLayout.memoryShape(new long[] {1, 7}, 'c', false));     // a bias
        Model net = Dl4jTestNets.multiLayer(null, 1);
        assertEquals(251, net.numParams());
    }
}

package org.lars4j.dl4j;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.FrozenLayer;
import org.deeplearning4j.nn.layers.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.lars4j.error.InvalidLayoutException;
import org.lars4j.layout.ParamLayout;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The parameters of a DL4J network as lars4j segments: every parameter array in the order of the
 * network's flat parameter view, named as DL4J names them ({@code 0_W}, {@code 0_b}, ... for a
 * {@link MultiLayerNetwork}; {@code <vertex>_W} for a {@link ComputationGraph}), with its shape
 * in memory order (see {@link Dl4jParam#memoryShape()}).
 *
 * <p>Batch-norm running mean and variance are in DL4J's flat view too, but are not trained by
 * gradients, and neither are the parameters of frozen layers: they are not segments of
 * {@link #paramLayout()}; {@link Dl4jTrainer} leaves them exactly as DL4J's own update does. Every other parameter is a segment, and the preset of the
 * optimizer decides decay and adaptation; with the MLPerf preset, biases and batch-norm
 * gamma/beta (rank 1 in memory order) get neither. Add rules of your own to {@link #builder()}:
 * <pre>{@code
 * Dl4jLayout dl4j = Dl4jLayout.of(net);
 * ParamLayout layout = dl4j.builder().excludeFromWeightDecay("_b$").build();
 * LayerwiseOptimizer opt = Lars.builder(LarsPreset.MLPERF).learningRate(...).build(layout);
 * Dl4jTrainer trainer = new Dl4jTrainer(net, dl4j, opt);
 * }</pre>
 */
public final class Dl4jLayout {
    private final List<Dl4jParam> params;
    private final long totalElements;

    private Dl4jLayout(List<Dl4jParam> params, long totalElements) {
        this.params = Collections.unmodifiableList(params);
        this.totalElements = totalElements;
    }

    /** The layout of an initialised {@link MultiLayerNetwork}. */
    public static Dl4jLayout of(MultiLayerNetwork net) {
        if (net == null) throw new InvalidLayoutException("network is null");
        requireInit(net, net.params());
        return of(net, net.paramTable(), layerName -> net.getLayer(Integer.parseInt(layerName)));
    }

    /** The layout of an initialised {@link ComputationGraph}. */
    public static Dl4jLayout of(ComputationGraph net) {
        if (net == null) throw new InvalidLayoutException("network is null");
        requireInit(net, net.params());
        return of(net, net.paramTable(), net::getLayer);
    }

    /** The layout of a network of either kind. */
    public static Dl4jLayout of(Model net) {
        if (net instanceof MultiLayerNetwork) return of((MultiLayerNetwork) net);
        if (net instanceof ComputationGraph) return of((ComputationGraph) net);
        throw new InvalidLayoutException("not a MultiLayerNetwork or ComputationGraph: " + (net == null ? "null" : net.getClass().getName()));
    }

    private static void requireInit(Model net, INDArray flat) {
        if (flat == null || flat.isEmpty()) throw new InvalidLayoutException("the network has no parameters: call init() first");
    }

    private static Dl4jLayout of(Model net, Map<String, INDArray> table, java.util.function.Function<String, Layer> layerOf) {
        INDArray flat = net.params();
        long flatBase = flat.data().address() + flat.offset() * Float.BYTES;
        if (flat.dataType() != org.nd4j.linalg.api.buffer.DataType.FLOAT) {
            throw new InvalidLayoutException("the network's parameters are " + flat.dataType() + "; lars4j trains FLOAT networks");
        }
        List<Dl4jParam> out = new ArrayList<>(table.size());
        long expected = 0;
        for (Map.Entry<String, INDArray> e : table.entrySet()) {
            String name = e.getKey();
            INDArray view = e.getValue();
            long byteOffset = view.data().address() + view.offset() * Float.BYTES - flatBase;
            long offset = byteOffset / Float.BYTES;
            if (offset != expected || byteOffset % Float.BYTES != 0) {
                throw new InvalidLayoutException("parameter '" + name + "' is not at its place in the flat parameter view (offset "
                        + offset + ", expected " + expected + ")");
            }
            if (view.length() > ParamLayout.MAX_SEGMENT_LENGTH) throw new InvalidLayoutException("parameter '" + name + "' is too large");
            int cut = name.lastIndexOf('_');
            String layerName = cut < 0 ? name : name.substring(0, cut);
            String paramKey = cut < 0 ? name : name.substring(cut + 1);
            Layer layer = layerOf.apply(layerName);
            if (layer == null) throw new InvalidLayoutException("parameter '" + name + "' belongs to no layer named '" + layerName + "'");
            // DL4J's own rules: a parameter whose gradient its updater does not divide by the batch
            // size holds an update, not a gradient (batch-norm mean/variance); frozen layers'
            // parameters are not trained. Both get DL4J's update from the trainer, not the optimizer's.
            boolean divided = layer.updaterDivideByMinibatch(paramKey);
            boolean frozen = layer instanceof FrozenLayer || layer instanceof FrozenLayerWithBackprop;
            boolean weight = layer.conf().getLayer().initializer().isWeightParam(layer.conf().getLayer(), paramKey);
            boolean depthwise = layer.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D
                    || layer.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
            boolean transposed = layer.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.Deconvolution2D
                    || layer.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.Deconvolution3D;
            out.add(new Dl4jParam(name, view.shape(), view.ordering(), memoryShape(view.shape(), view.ordering(), weight),
                    weight && !depthwise ? memoryOutputAxis(view.shape(), view.ordering(), transposed) : -1, offset,
                    (int) view.length(), divided && !frozen, divided));
            expected += view.length();
        }
        if (expected != flat.length()) {
            throw new InvalidLayoutException("the parameter table covers " + expected + " of the network's " + flat.length() + " parameters");
        }
        return new Dl4jLayout(out, expected);
    }

    /**
     * The row-major shape of an array of {@code shape} in {@code ordering}: for a weight, 'f'
     * reverses the dimensions (a dense W {@code [nIn, nOut]} 'f' is {@code [nOut, nIn]}, output
     * axis first as in a convolution's {@code [nOut, nIn, kH, kW]}); every other parameter (a bias
     * or a batch-norm gamma stored as {@code [1, n]}) is the vector {@code [n]}, so that rules by
     * rank treat it as the bias it is.
     */
    static int[] memoryShape(long[] shape, char ordering, boolean weight) {
        long n = 1;
        for (long d : shape) n *= d;
        if (!weight || shape.length <= 1) return new int[] {(int) n};
        int[] out = new int[shape.length];
        for (int i = 0; i < shape.length; i++) out[i] = (int) (ordering == 'f' ? shape[shape.length - 1 - i] : shape[i]);
        return out;
    }

    /**
     * The output axis of a weight of DL4J shape {@code shape} in {@code ordering}, as an axis of its
     * {@link #memoryShape}; -1 for a vector. DL4J declares 2-D weights (dense, output, embedding
     * layers) as {@code [nIn, nOut]}: outputs on axis 1; convolution kernels as
     * {@code [nOut, nIn, kH, kW]} (3-D: {@code [nOut, nIn, kD, kH, kW]}): outputs on axis 0;
     * deconvolution kernels ({@code transposed}) as {@code [nIn, nOut, kH, kW]}: outputs on axis 1
     * (checked on DL4J 1.0.0-M2.1: a Deconvolution2D with nIn 3, nOut 5 has W {@code [3, 5, 2, 4]}). The
     * memory shape reverses an 'f' array's axes, so the dense W DL4J makes ('f') is
     * {@code [nOut, nIn]} in memory with its outputs on axis 0, as is its 'c' convolution kernel;
     * a 'c' dense W would have them on axis 1. Set explicitly on every weight, so that gradient
     * centralization centres what the layer computes one output from, whatever the order.
     */
    static int memoryOutputAxis(long[] shape, char ordering, boolean transposed) {
        if (shape.length <= 1) return -1;
        int declared = shape.length == 2 || transposed ? 1 : 0;
        return ordering == 'f' ? shape.length - 1 - declared : declared;
    }

    /** Every parameter array of the network in flat order, running statistics included. */
    public List<Dl4jParam> params() { return params; }

    /** The network's parameter count (the length of its flat view). */
    public long totalElements() { return totalElements; }

    /** The trained parameters as a layout builder in flat order, for rules of your own. */
    public ParamLayout.Builder builder() {
        ParamLayout.Builder b = ParamLayout.builder();
        for (Dl4jParam p : params) {
            if (!p.trained()) continue;
            b.add(p.name(), p.memoryShape());
            if (p.memoryShape().length > 1) b.outputAxis(p.name(), p.outputAxis());
        }
        return b;
    }

    /** {@code builder().build()}: the trained parameters, flags from the optimizer's preset. */
    public ParamLayout paramLayout() { return builder().build(); }
}

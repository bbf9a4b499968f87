package org.lars4j.dl4j;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** Small networks with dense, convolution, batch-norm and output layers, and seeded data. */
final class Dl4jTestNets {
    private Dl4jTestNets() {}

    static final int SIDE = 6, CLASSES = 3;

    /** conv 3x3x4, BN, max-pool 2, dense 8, BN, softmax output 3, on 6x6x1 inputs. */
    static MultiLayerNetwork multiLayer(IUpdater updater, long seed) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed).dataType(DataType.FLOAT).updater(updater == null ? new Sgd(0.1) : updater)
                .weightInit(WeightInit.XAVIER)
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().nOut(8).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(SIDE, SIDE, 1))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** The same layers as a graph with a branch: conv -> BN -> pool -> dense -> BN -> out. */
    static ComputationGraph graph(IUpdater updater, long seed) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed).dataType(DataType.FLOAT).updater(updater == null ? new Sgd(0.1) : updater)
                .weightInit(WeightInit.XAVIER)
                .graphBuilder()
                .addInputs("in")
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.IDENTITY).build(), "in")
                .addLayer("bn1", new BatchNormalization.Builder().activation(Activation.RELU).build(), "conv")
                .addLayer("pool", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), "bn1")
                .addLayer("fc", new DenseLayer.Builder().nOut(8).activation(Activation.IDENTITY).build(), "pool")
                .addLayer("bn2", new BatchNormalization.Builder().activation(Activation.TANH).build(), "fc")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX).build(), "bn2")
                .setOutputs("out")
                .setInputTypes(InputType.convolutional(SIDE, SIDE, 1))
                .build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return net;
    }

    /** dense 36 -> 12 (tanh) -> softmax 3, no batch norm, on flat inputs of 36. */
    static MultiLayerNetwork dense(IUpdater updater, long seed) {
        return denseWith(updater, seed, new DenseLayer.Builder().nIn(SIDE * SIDE).nOut(12).activation(Activation.TANH).build());
    }

    /** {@link #dense} with its hidden layer frozen (DL4J's FrozenLayerWithBackprop). */
    static MultiLayerNetwork withFrozenLayer(IUpdater updater, long seed) {
        return denseWith(updater, seed, new org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop(
                new DenseLayer.Builder().nIn(SIDE * SIDE).nOut(12).activation(Activation.TANH).build()));
    }

    private static MultiLayerNetwork denseWith(IUpdater updater, long seed, org.deeplearning4j.nn.conf.layers.Layer hidden) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed).dataType(DataType.FLOAT).updater(updater).weightInit(WeightInit.XAVIER)
                .list()
                .layer(hidden)
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(SIDE * SIDE))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** A dense network with DL4J's own L2 regularisation (which the trainer refuses). */
    static MultiLayerNetwork multiLayerWithL2(double l2) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(1).dataType(DataType.FLOAT).updater(new Sgd(0.1)).l2(l2)
                .list()
                .layer(new DenseLayer.Builder().nIn(SIDE * SIDE).nOut(12).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** {@link #data} with each image flattened to 36 features. */
    static DataSet flatData(int n, long seed) {
        DataSet d = data(n, seed);
        return new DataSet(d.getFeatures().reshape(n, SIDE * SIDE), d.getLabels());
    }

    /** {@code n} examples: Gaussian images whose class shifts the mean of one quadrant. */
    static DataSet data(int n, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] x = new float[n * SIDE * SIDE];
        float[] y = new float[n * CLASSES];
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(CLASSES);
            y[i * CLASSES + c] = 1;
            for (int p = 0; p < SIDE * SIDE; p++) {
                boolean hot = (p / SIDE < SIDE / 2) == (c == 1) && (p % SIDE < SIDE / 2) == (c == 2);
                x[i * SIDE * SIDE + p] = (float) (r.nextGaussian() + (hot ? 1.5 : 0));
            }
        }
        INDArray features = Nd4j.create(x, new long[] {n, 1, SIDE, SIDE}, 'c');
        INDArray labels = Nd4j.create(y, new long[] {n, CLASSES}, 'c');
        return new DataSet(features, labels);
    }
}

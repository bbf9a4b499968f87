package org.lars4j.dl4j;

import java.util.Arrays;

/**
 * One parameter array of a DL4J network as it sits in the network's flat parameter buffer.
 *
 * @param name        DL4J's name: {@code <layer>_<param>}, e.g. {@code 0_W} (MultiLayerNetwork:
 *                    the layer index; ComputationGraph: the vertex name)
 * @param dl4jShape   the shape DL4J reports, e.g. {@code [nIn, nOut]} for a dense W
 * @param ordering    DL4J's ordering of that shape: {@code 'c'} or {@code 'f'}
 * @param memoryShape the same elements as a row-major (C order) shape, which is how they lie in
 *                    memory: a dense W {@code [nIn, nOut]} in 'f' order is {@code [nOut, nIn]}
 *                    (PyTorch's Linear layout); a row vector {@code [1, n]} is {@code [n]}
 * @param outputAxis  the axis of {@code memoryShape} that indexes the layer's outputs (what
 *                    gradient centralization centres along), or -1 where there is none: vectors,
 *                    and kernels whose outputs span several axes (depthwise convolutions)
 * @param offset      element offset in the flat parameter (and gradient) buffer
 * @param length      element count
 * @param trained     false for what DL4J does not train by gradients: batch-norm running
 *                    statistics (updated from the forward pass) and the parameters of frozen
 *                    layers; the trainer applies DL4J's update to the statistics
 *                    ({@code p -= g}) and refuses frozen layers
 * @param dividedByBatch whether DL4J divides this parameter's gradient by the batch size (its
 *                    {@code updaterDivideByMinibatch}): true except for batch-norm statistics,
 *                    whose "gradients" are already the updates
 */
public record Dl4jParam(String name, long[] dl4jShape, char ordering, int[] memoryShape, int outputAxis, long offset,
                        int length, boolean trained, boolean dividedByBatch) {

    @Override
    public String toString() {
        return name + Arrays.toString(memoryShape) + "@" + offset + (trained ? "" : " (not trained: DL4J's own update)");
    }
}

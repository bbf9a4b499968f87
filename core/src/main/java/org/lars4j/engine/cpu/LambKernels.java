package org.lars4j.engine.cpu;

/**
 * LAMB's element-wise passes on one tile (docs/CANONICAL_ORDER.md, LAMB section), on arrays only
 * (the plan stages byte buffers): {@link ScalarLambKernels} (plain Java, always there; its javadoc
 * has the element rules) and {@link VectorLambKernels} (Vector API), chosen by
 * {@link KernelProvider}; the same bits either way. The moments pass leaves the lanes of r^2 and
 * w^2 for {@link SegmentedSumOfSquares#fold}; the totals come from {@link SegmentedSumOfSquares}.
 */
interface LambKernels {
    /** Float constants of one step (rounded once from float64 on the host). */
    final class Consts {
        float clip;         // c = max(1, G / maxGradNorm), 1 without a clip; gs = g / c
        float b1, b3, b2, omb2, eps;
        float bc1;          // m's divisor: (1 - beta1^t) / rect (rect = 1 unless rectified), or 1 / rect without bias correction
        float bc2;          // 1 - beta2^t, or 1
        boolean adamW;
        boolean momentumOnly;   // rectified LAMB's first steps: r = m' / bc1, no v term
    }

    /** Short description for {@code engineVariant()}. */
    String name();

    /**
     * The moments pass on one tile: m, v updated, r stored at {@code rOut[or ..]}, the lanes
     * {@code lr} and {@code lw} accumulating r^2 and w^2 (from whatever they hold: the caller
     * zeroes them); {@code tmpM}, {@code tmpV} are 1024-float scratch. See {@link ScalarLambKernels#moments}.
     */
    void moments(float[] w, int ow, float[] g, int og, float[] m, float[] v, int os, int n, float lam,
                 Consts c, float[] lr, float[] lw, float[] tmpM, float[] tmpV, float[] rOut, int or);

    /** The apply pass on one tile from the stored r: {@code w' = fma(negScale, r, w)}; see {@link ScalarLambKernels#apply}. */
    void apply(float[] w, int ow, float[] r, int or, int n, float negScale);

    /** The form {@link KernelProvider} allows in this JVM. */
    static LambKernels select() {
        return KernelProvider.choose(LambKernels.class, ScalarLambKernels.INSTANCE, "org.lars4j.engine.cpu.VectorLambKernels");
    }
}

package org.lars4j.engine;

/**
 * The host-computed values of one step, handed to an engine. Computed in float64 with
 * StrictMath by the optimizer config, so every engine receives the same bits. Mutable and reused
 * (a step allocates nothing).
 */
public final class StepScalars {
    private long step;
    private double learningRate;
    private double momentum;
    private double phi;
    private double biasCorrection1 = 1.0;
    private double biasCorrection2 = 1.0;
    private boolean weightsAsLeft;

    /** Fills every field; {@code step} counts from 1. */
    public void set(long step, double learningRate, double momentum, double phi) {
        this.step = step;
        this.learningRate = learningRate;
        this.momentum = momentum;
        this.phi = phi;
    }

    /** LAMB: {@code 1 - beta1^t} and {@code 1 - beta2^t} (1 when bias correction is off). */
    public void setBiasCorrections(double bc1, double bc2) {
        this.biasCorrection1 = bc1;
        this.biasCorrection2 = bc2;
    }

    /**
     * True when this step's weights are exactly what the previous applied step wrote (same memory,
     * not declared changed): carried weight norms may be used.
     */
    public void setWeightsAsLeft(boolean v) { this.weightsAsLeft = v; }

    public boolean weightsAsLeft() { return weightsAsLeft; }

    public double biasCorrection1() { return biasCorrection1; }

    public double biasCorrection2() { return biasCorrection2; }

    /** The step being taken, from 1. */
    public long step() { return step; }

    /** The scheduled learning rate of this step. */
    public double learningRate() { return learningRate; }

    /** The momentum of this step (MLPerf's corrected {@code mu * lr_t / lr_(t-1)} where enabled). */
    public double momentum() { return momentum; }

    /** TVLARS' phi(t); 1 for the other rules. */
    public double phi() { return phi; }

    /** True on the first step of the momentum buffers (PyTorch's buffer-initialisation rule). */
    public boolean firstStep() { return step == 1; }
}

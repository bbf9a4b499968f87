package org.lars4j.rule.lars;

import org.lars4j.rule.StepValues;

/** A LARS step's host values: the step, lr, the effective momentum and TVLARS' phi. */
public final class LarsStepValues extends StepValues {
    private double momentum;
    private double phi;

    /** Fills every value; {@code step} counts from 1. */
    public void set(long step, double learningRate, double momentum, double phi) {
        setStep(step, learningRate);
        this.momentum = momentum;
        this.phi = phi;
    }

    /** The momentum of this step (MLPerf's corrected {@code mu * lr_t / lr_(t-1)} where enabled). */
    public double momentum() { return momentum; }

    /** TVLARS' phi(t); 1 for the other presets. */
    public double phi() { return phi; }
}

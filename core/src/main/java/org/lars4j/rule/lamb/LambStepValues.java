package org.lars4j.rule.lamb;

import org.lars4j.rule.StepValues;

/** A LAMB step's host values: the step, lr and the two bias corrections. */
public final class LambStepValues extends StepValues {
    private double biasCorrection1 = 1.0;
    private double biasCorrection2 = 1.0;

    /** Fills every value; {@code step} counts from 1; corrections 1 when bias correction is off. */
    public void set(long step, double learningRate, double biasCorrection1, double biasCorrection2) {
        setStep(step, learningRate);
        this.biasCorrection1 = biasCorrection1;
        this.biasCorrection2 = biasCorrection2;
    }

    /** {@code 1 - beta1^t} (1 when bias correction is off). */
    public double biasCorrection1() { return biasCorrection1; }

    /** {@code 1 - beta2^t} (1 when bias correction is off). */
    public double biasCorrection2() { return biasCorrection2; }
}

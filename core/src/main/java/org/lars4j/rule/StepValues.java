package org.lars4j.rule;

/**
 * The host-computed values of one step, handed to an engine: what every rule has (the step
 * number and the scheduled learning rate), extended by each rule with its own values. Filled by
 * {@link Rule#fillStepValues} in float64 with StrictMath, so every engine receives the same bits.
 * Mutable and reused: made once per optimizer by {@link Rule#newStepValues()}, so that a step
 * allocates nothing.
 */
public abstract class StepValues {
    private long step;
    private double learningRate;

    protected StepValues() {}

    /** Sets the values every rule has; {@code step} counts from 1. */
    protected final void setStep(long step, double learningRate) {
        this.step = step;
        this.learningRate = learningRate;
    }

    /** The step being taken, from 1. */
    public final long step() { return step; }

    /** The scheduled learning rate of this step. */
    public final double learningRate() { return learningRate; }

    /** True on the first step of the state buffers (PyTorch's buffer-initialisation rule). */
    public final boolean firstStep() { return step == 1; }
}

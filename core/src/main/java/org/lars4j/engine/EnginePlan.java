package org.lars4j.engine;

import org.lars4j.rule.StepValues;

/**
 * One optimizer rule planned for one model on one engine. Owns the optimizer state (momentum
 * buffers, ...). Inputs are validated by the caller before any method here is called. Not
 * thread-safe.
 */
public interface EnginePlan extends AutoCloseable {

    /**
     * Runs one step: norms, per-segment scalars, update. {@code values} are this plan's rule's
     * (made by its {@code Rule.newStepValues()}).
     *
     * @param skipNonFinite if true and a gradient's sum of squares is not finite, nothing is
     *                      written and false is returned
     * @return true if weights and state were updated
     */
    boolean step(HostTensors params, HostTensors grads, StepValues values, boolean skipNonFinite);

    /**
     * The weights were written outside the optimizer (a checkpoint loaded into the same arrays,
     * weight averaging): a rule that carries values from one update to the next recomputes them.
     */
    default void weightsChanged() {}

    /** Copies state buffer {@code buffer} of segment {@code segment} into {@code dst}. */
    void readState(int buffer, int segment, float[] dst);

    /** Overwrites state buffer {@code buffer} of segment {@code segment} from {@code src}. */
    void writeState(int buffer, int segment, float[] src);

    /** Sets every state buffer to zero. */
    void resetState();

    /** ||w|| of the last step's norm pass (NaN if not computed for this segment). */
    double lastWeightNorm(int segment);

    /** ||g|| of the last step's norm pass (NaN if not computed for this segment). */
    double lastGradNorm(int segment);

    /** The trust ratio applied to {@code segment} in the last step (1 where not adapted). */
    double lastTrustRatio(int segment);

    /** Device-memory steps, or null where this engine has none (the Java engine). */
    default DeviceStepper deviceStepper() { return null; }

    /** How the steps run (pass structure, kernel variants), for logs and benchmark reports. */
    default String variant() { return ""; }

    /** Releases threads and native memory; idempotent. */
    @Override
    void close();
}

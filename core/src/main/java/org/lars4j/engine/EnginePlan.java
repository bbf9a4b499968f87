package org.lars4j.engine;

/**
 * One optimizer rule planned for one model on one engine. Owns the optimizer state (momentum
 * buffers, ...). Inputs are validated by the caller before any method here is called. Not
 * thread-safe.
 */
public interface EnginePlan extends AutoCloseable {

    /**
     * Runs one step: norms, per-segment scalars, update.
     *
     * @param skipNonFinite if true and a gradient's sum of squares is not finite, nothing is
     *                      written and false is returned
     * @return true if weights and state were updated
     */
    boolean step(HostTensors params, HostTensors grads, StepScalars scalars, boolean skipNonFinite);

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

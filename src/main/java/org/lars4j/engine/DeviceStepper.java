package org.lars4j.engine;

/**
 * Steps on tensors that already live in device memory (CUDA engine; host memory on the
 * emulator), enqueued on the caller's stream with no host synchronisation and no allocation.
 */
public interface DeviceStepper {
    /**
     * Enqueues one step. Flat form: {@code wBase}/{@code gBase} point at every segment back to
     * back (tables 0); list form: {@code wTable}/{@code gTable} are device arrays holding one
     * pointer per segment (bases 0).
     */
    void stepDevice(long wBase, long gBase, long wTable, long gTable, long stream, StepScalars scalars);

    /** Whether the last step was skipped (non-finite gradient); synchronises with its stream. */
    boolean lastStepSkipped();

    /**
     * Device address of the step's parameter block ({@code double lr, mu, phi; int first, skip}),
     * for callers that capture steps in a CUDA graph and update it themselves before each replay.
     */
    long stepParamsAddress();
}

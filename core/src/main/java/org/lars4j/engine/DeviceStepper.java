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

    /**
     * Benchmark support: {@code warmup} untimed then {@code reps} timed device steps on the flat
     * buffers {@code wBases[i % n]} / {@code gBases[i % n]} (rotated so that L2 does not hold the
     * inputs), each timed alone with CUDA events (host clock on the emulator); the step count does
     * not advance. Returns the times in microseconds.
     */
    double[] timeSteps(long[] wBases, long[] gBases, int warmup, int reps, StepScalars scalars);

    /**
     * CUDA graphs, part 1 (outside a capture): writes the values of a step into device memory,
     * once the previous step or replay is done reading them (wherever it ran), and returns when
     * they are there.
     */
    void writeStepParams(StepScalars scalars);

    /**
     * CUDA graphs, part 2 (may be captured): enqueues only the launches of a step, which read the
     * values written by {@link #writeStepParams}; no copy, no synchronisation.
     */
    void launchStep(long wBase, long gBase, long wTable, long gTable, long stream);

    /** Whether the last step was skipped (non-finite gradient); synchronises with its stream. */
    boolean lastStepSkipped();

    /**
     * Device address of the step's parameter block ({@code double lr, mu, phi; int first, skip}),
     * for callers that capture steps in a CUDA graph and update it themselves before each replay.
     */
    long stepParamsAddress();
}

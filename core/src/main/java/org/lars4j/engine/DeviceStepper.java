package org.lars4j.engine;

import org.lars4j.rule.StepValues;

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
    void stepDevice(long wBase, long gBase, long wTable, long gTable, long stream, StepValues values);

    /** The most steps of one timed sample of {@link #timeSteps}. */
    int MAX_BATCH = 32;

    /**
     * Benchmark support: {@code warmup} untimed steps, then {@code reps} samples of {@code batch}
     * (1..{@link #MAX_BATCH}) back-to-back steps on the flat buffers {@code wBases[i % n]} /
     * {@code gBases[i % n]} (rotated so that L2 does not hold the inputs), each sample timed
     * between two events with the stream held while it is enqueued (host clock on the emulator),
     * so that the host's enqueue is outside the window. With {@code graphs}, the samples replay
     * one captured CUDA graph per buffer pair. The step count does not advance. Returns each
     * sample's time over {@code batch}, in microseconds.
     */
    double[] timeSteps(long[] wBases, long[] gBases, int warmup, int reps, int batch, boolean graphs, StepValues values);

    /**
     * CUDA graphs, part 1 (outside a capture): writes the values of a step into device memory,
     * once the previous step or replay is done reading them (wherever it ran), and returns when
     * they are there.
     */
    void writeStepParams(StepValues values);

    /**
     * CUDA graphs, part 2 (may be captured): enqueues only the launches of a step, which read the
     * values written by {@link #writeStepParams}; no copy, no synchronisation.
     */
    void launchStep(long wBase, long gBase, long wTable, long gTable, long stream);

    /** Whether the last step was skipped (non-finite gradient); synchronises with its stream. */
    boolean lastStepSkipped();
}

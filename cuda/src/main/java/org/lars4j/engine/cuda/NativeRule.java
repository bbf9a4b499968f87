package org.lars4j.engine.cuda;

import org.bytedeco.javacpp.Pointer;
import org.lars4j.rule.StepValues;

/**
 * A rule's side of the JNI boundary: its id in the native rule registry, its constants struct
 * (filled once, when the plan is made), its per-segment modes and weight decays, and its
 * step-values struct (made once, refilled each step, so that a step allocates nothing). One
 * small class per rule ({@link NativeLarsRule}, {@link NativeLambRule}), found by
 * {@link NativeRules}; {@link NativeEnginePlan} knows no rule.
 */
abstract class NativeRule {
    /** The rule's id in src/main/cuda/rules/registry.cuh. */
    abstract int id();

    /** The rule's constants struct, filled. */
    abstract Pointer constants();

    /** The rule's mode of each segment (what its kernels do there). */
    abstract int[] modes();

    /** Weight decay of each segment, 0 where it does not apply. */
    abstract double[] lambdas();

    /**
     * The step-values struct filled from {@code values} (this rule's kind); {@code first}: the
     * state buffers' first step; {@code weightsAsLeft}: the weights are those the last step wrote.
     */
    abstract Pointer stepValues(StepValues values, boolean first, boolean weightsAsLeft);

    /** Whether the rule carries something from one step's weights into the next (LARS's carried weight norms). */
    boolean carriesWeights() { return false; }

    /** How the plan launches a step, for diagnostics. */
    abstract String launches(NativeLars.NativePlan plan);

    static int flag(boolean b) { return b ? 1 : 0; }
}

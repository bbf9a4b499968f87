package org.lars4j.engine.cuda;

import org.bytedeco.javacpp.Pointer;
import org.lars4j.rule.StepValues;
import org.lars4j.rule.stage.Lookahead;

/**
 * A rule's side of the JNI boundary: its id in the native rule registry, its constants struct
 * (filled once, when the plan is made), its per-segment modes and weight decays, and its
 * step-values struct (made once, refilled each step, so that a step allocates nothing). One
 * small class per rule ({@link NativeLarsRule}, {@link NativeLambRule}), found by
 * {@link NativeRules}; {@link NativeEnginePlan} knows no rule. Lookahead around a rule crosses
 * in the rule's own structs (its constants: on, alpha; its step values: copy, sync), since the
 * rule's weight-writing kernel runs it (src/main/cuda/stages/lookahead.cuh).
 */
abstract class NativeRule {
    /** Lookahead around the rule, or null. */
    final Lookahead lookahead;

    NativeRule(Lookahead lookahead) { this.lookahead = lookahead; }

    /** 1 with Lookahead (the constants' {@code lookahead}). */
    final int lookaheadOn() { return flag(lookahead != null); }

    /** (float) alpha, rounded once here (the constants' {@code lookaheadAlpha}; 0 without Lookahead). */
    final float lookaheadAlpha() { return lookahead == null ? 0f : (float) lookahead.alpha(); }

    /** 1 when a step with these values copies w into the slow weights: the state's first step. */
    final int lookaheadCopy(boolean first) { return flag(lookahead != null && first); }

    /** 1 when step {@code values.step()} syncs (t % k == 0). */
    final int lookaheadSync(StepValues values) { return flag(lookahead != null && lookahead.syncsAt(values.step())); }

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
     * state buffers' first step (Lookahead copies the weights then); {@code weightsAsLeft}: the
     * weights are those the last step wrote. Lookahead syncs as {@code values.step()} says.
     */
    abstract Pointer stepValues(StepValues values, boolean first, boolean weightsAsLeft);

    /** Whether the rule carries something from one step's weights into the next (LARS's carried weight norms). */
    boolean carriesWeights() { return false; }

    /** How the plan launches a step, for diagnostics. */
    abstract String launches(NativeLars.NativePlan plan);

    static int flag(boolean b) { return b ? 1 : 0; }
}

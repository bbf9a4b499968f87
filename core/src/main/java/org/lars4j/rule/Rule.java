package org.lars4j.rule;

import java.util.List;
import java.util.Map;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.rule.stage.Stages;
import org.lars4j.schedule.LrSchedule;

/**
 * An optimizer rule, fully resolved: what it tells the optimizer facade and the engines. Each
 * rule is one package ({@code org.lars4j.rule.lars}, {@code org.lars4j.rule.lamb}): its
 * configuration record implementing this interface, its presets, its per-segment decisions and
 * its step values. The engines find their implementation of a rule through a registry keyed by
 * the configuration's class (docs/ARCHITECTURE.md).
 */
public interface Rule {
    /** The rule's name in the tool's and the checkpoints' spelling: {@code "lars"}, {@code "lamb"}. */
    String algorithm();

    /** The preset the configuration started from, in the tool's spelling. */
    String preset();

    LrSchedule learningRate();

    NonFinitePolicy nonFinitePolicy();

    /** The layout with the preset's flag rules applied (e.g. MLPerf's 1-D exclusion). */
    ParamLayout resolveFlags(ParamLayout layout);

    /** Names of the per-segment state buffers, as PyTorch's state_dict names them. */
    List<String> stateNames();

    /**
     * The float32 bytes one step must move per parameter at the least: read w and g, read and
     * write each state buffer, write w ({@code 4 * (3 + 2 * stateNames().size())}). The floor
     * the benchmarks divide by (docs/BYTES.md).
     */
    default int bytesPerParameter() { return Float.BYTES * (3 + 2 * stateNames().size()); }

    /** A fresh, reusable holder of this rule's step values (made once per optimizer). */
    StepValues newStepValues();

    /**
     * Fills {@code out} (made by {@link #newStepValues()}) with the host-side values of step
     * {@code t} (from 1), in float64 with StrictMath, the same for every engine.
     *
     * @throws InvalidHyperparameterException if the schedule yields a NaN, infinite or negative lr,
     *         or another value of the step is not finite as a float
     */
    void fillStepValues(long t, StepValues out);

    /** Every hyperparameter as text, for checkpoint metadata and logs. */
    Map<String, String> hyperparameters();

    /** The rule itself, without the stages around it ({@link Staged}); engines plan this. */
    default Rule core() { return this; }

    /** The stages around the rule ({@link Stages#NONE} for a plain rule). */
    default Stages stages() { return Stages.NONE; }

    /**
     * The global gradient clip the engines run as a stage around {@link #core()}, or null: the
     * stages' clip, or one the rule's own configuration asks for (LAMB's {@code maxGradNorm},
     * kept as the builder's input of the same stage).
     */
    default GlobalGradientClip gradientClip() { return stages().clip(); }
}

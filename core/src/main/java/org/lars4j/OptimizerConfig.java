package org.lars4j;

import java.util.List;
import java.util.Map;
import org.lars4j.engine.StepScalars;
import org.lars4j.layout.ParamLayout;
import org.lars4j.schedule.LrSchedule;

/** What an optimizer rule tells the optimizer and the engines; implemented by {@link LarsConfig}. */
public interface OptimizerConfig {
    /** {@code "lars"} or {@code "lamb"}. */
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
     * Host-side per-step values for step {@code t} (t from 1): learning rate, effective momentum,
     * TVLARS phi. Computed once here, in float64 with StrictMath, for every engine.
     *
     * @throws InvalidHyperparameterException if the schedule yields a NaN, infinite or negative lr
     */
    void stepScalars(long t, StepScalars out);

    /** Every hyperparameter as text, for checkpoint metadata and logs. */
    Map<String, String> hyperparameters();
}

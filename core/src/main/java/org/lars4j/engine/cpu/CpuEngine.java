package org.lars4j.engine.cpu;

import org.lars4j.BackendUnavailableException;
import org.lars4j.LambConfig;
import org.lars4j.LarsConfig;
import org.lars4j.OptimizerConfig;
import org.lars4j.engine.Engine;
import org.lars4j.engine.EnginePlan;
import org.lars4j.layout.ParamLayout;

/** The pure-Java engine: always available, multi-threaded, bitwise deterministic. */
public final class CpuEngine implements Engine {
    @Override public String name() { return "cpu"; }

    @Override public String unavailableReason() { return null; }

    @Override
    public EnginePlan plan(OptimizerConfig config, ParamLayout layout, int threads) {
        if (config instanceof LarsConfig) return new CpuLarsPlan((LarsConfig) config, layout, threads);
        if (config instanceof LambConfig) return new CpuLambPlan((LambConfig) config, layout, threads);
        throw new BackendUnavailableException("the cpu engine has no plan for optimizer '" + config.algorithm() + "'");
    }
}

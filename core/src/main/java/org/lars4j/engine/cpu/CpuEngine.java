package org.lars4j.engine.cpu;

import java.util.Map;
import org.lars4j.engine.Engine;
import org.lars4j.engine.EnginePlan;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lars.LarsConfig;

/** The pure-Java engine: always available, multi-threaded, bitwise deterministic. */
public final class CpuEngine implements Engine {
    /** How this engine plans a rule (the registry below). */
    private interface PlanFactory {
        EnginePlan plan(Rule rule, ParamLayout layout, int threads, CentredGradients centring);
    }

    /** The rules this engine runs, by configuration class: the one place a new rule is added here. */
    private static final Map<Class<? extends Rule>, PlanFactory> RULES = Map.of(
            LarsConfig.class, (rule, layout, threads, gc) -> new CpuLarsPlan((LarsConfig) rule, layout, threads, gc),
            LambConfig.class, (rule, layout, threads, gc) -> new CpuLambPlan((LambConfig) rule, layout, threads, gc));

    @Override public String name() { return "cpu"; }

    @Override public String unavailableReason() { return null; }

    @Override
    public EnginePlan plan(Rule rule, ParamLayout layout, int threads) {
        PlanFactory f = RULES.get(rule.core().getClass());
        if (f == null) throw new BackendUnavailableException("the cpu engine has no plan for optimizer '" + rule.algorithm() + "'");
        if (rule.stages().lookahead() != null) {
            throw new BackendUnavailableException("the cpu engine does not run Lookahead around a rule yet: " + rule.stages());
        }
        // Gradient centralization is the same for every rule: the traversal centres g where the rule views it.
        return f.plan(rule.core(), layout, threads, CentredGradients.of(rule.stages().centralization(), layout));
    }
}

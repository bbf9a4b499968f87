package org.lars4j.engine.cpu;

import java.util.Map;
import org.lars4j.engine.Engine;
import org.lars4j.engine.EnginePlan;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lars.LarsConfig;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.rule.stage.Lookahead;

/** The pure-Java engine: always available, multi-threaded, bitwise deterministic. */
public final class CpuEngine implements Engine {
    /** How this engine plans a rule (the registry below). */
    private interface PlanFactory {
        EnginePlan plan(Rule rule, Lookahead lookahead, GlobalGradientClip clip, ParamLayout layout, int threads, CentredGradients centring);
    }

    /** The rules this engine runs, by configuration class: the one place a new rule is added here. */
    private static final Map<Class<? extends Rule>, PlanFactory> RULES = Map.of(
            LarsConfig.class, (rule, la, clip, layout, threads, gc) -> new CpuLarsPlan((LarsConfig) rule, la, clip, layout, threads, gc),
            LambConfig.class, (rule, la, clip, layout, threads, gc) -> new CpuLambPlan((LambConfig) rule, la, clip, layout, threads, gc));

    @Override public String name() { return "cpu"; }

    @Override public String unavailableReason() { return null; }

    @Override
    public EnginePlan plan(Rule rule, ParamLayout layout, int threads) {
        PlanFactory f = RULES.get(rule.core().getClass());
        if (f == null) throw new BackendUnavailableException("the cpu engine has no plan for optimizer '" + rule.algorithm() + "'");
        // Lookahead runs inside the rule's weight-writing phase; gradient centralization is the same for
        // every rule: the traversal centres g where the rule views it. The global gradient clip (a
        // stage's, or LAMB's maxGradNorm) is each plan's gradient pass and the factor g is read through.
        return f.plan(rule.core(), rule.stages().lookahead(), rule.gradientClip(), layout, threads, CentredGradients.of(rule.stages().centralization(), layout));
    }
}

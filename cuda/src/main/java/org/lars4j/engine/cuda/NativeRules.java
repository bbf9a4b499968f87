package org.lars4j.engine.cuda;

import java.util.Map;
import java.util.function.BiFunction;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lars.LarsConfig;

/** The rules the native engines run, by the rule's config class: the one place that lists them. */
final class NativeRules {
    private static final Map<Class<? extends Rule>, BiFunction<Rule, ParamLayout, NativeRule>> RULES = Map.of(
            LarsConfig.class, (r, layout) -> new NativeLarsRule((LarsConfig) r, layout),
            LambConfig.class, (r, layout) -> new NativeLambRule((LambConfig) r, layout));

    private NativeRules() {}

    /** The native side of {@code rule} for {@code layout}; a typed exception for a rule this engine does not run. */
    static NativeRule bind(String engine, Rule rule, ParamLayout layout) {
        BiFunction<Rule, ParamLayout, NativeRule> f = RULES.get(rule.core().getClass());
        if (f == null) throw new BackendUnavailableException("the " + engine + " engine has no plan for optimizer '" + rule.algorithm() + "'");
        if (rule.stages().lookahead() != null) {
            throw new BackendUnavailableException("the " + engine + " engine does not run Lookahead around a rule yet: " + rule.stages());
        }
        return f.apply(rule.core(), layout);
    }
}

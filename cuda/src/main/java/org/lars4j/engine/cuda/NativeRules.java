package org.lars4j.engine.cuda;

import java.util.Map;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.Rule;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lars.LarsConfig;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.rule.stage.Lookahead;

/** The rules the native engines run, by the rule's config class: the one place that lists them. */
final class NativeRules {
    /** How a rule's binding is made: the core rule, the Lookahead around it (or null), the layout. */
    private interface Binding {
        NativeRule bind(Rule rule, Lookahead lookahead, GlobalGradientClip clip, ParamLayout layout);
    }

    private static final Map<Class<? extends Rule>, Binding> RULES = Map.of(
            LarsConfig.class, (r, la, clip, layout) -> new NativeLarsRule((LarsConfig) r, la, clip, layout),
            LambConfig.class, (r, la, clip, layout) -> new NativeLambRule((LambConfig) r, la, clip, layout));

    private NativeRules() {}

    /** The native side of {@code rule} for {@code layout}; a typed exception for a rule this engine does not run. */
    static NativeRule bind(String engine, Rule rule, ParamLayout layout) {
        Binding f = RULES.get(rule.core().getClass());
        if (f == null) throw new BackendUnavailableException("the " + engine + " engine has no plan for optimizer '" + rule.algorithm() + "'");
        // Lookahead runs inside the rule's weight-writing kernels; gradient centralization is the
        // plan's (NativeEnginePlan: the row means and the kernels' centred loads of g).
        // The global gradient clip (a stage's, or LAMB's maxGradNorm): the rule's gradient pass, the
        // factor on the device, and g divided by it where the kernels read it.
        return f.bind(rule.core(), rule.stages().lookahead(), rule.gradientClip(), layout);
    }
}

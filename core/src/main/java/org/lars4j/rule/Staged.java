package org.lars4j.rule;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.stage.Lookahead;
import org.lars4j.rule.stage.Stages;
import org.lars4j.schedule.LrSchedule;

/**
 * A rule with stages around it. Answers as the rule does, plus the stages' state (Lookahead's
 * slow weights after the rule's own buffers) and hyperparameters. Engines plan {@link #core()}
 * with {@link #stages()}.
 */
public record Staged(Rule rule, Stages stages) implements Rule {
    public Staged {
        if (rule == null || stages == null) throw new InvalidHyperparameterException("rule and stages must not be null");
        if (rule instanceof Staged) throw new InvalidHyperparameterException("stages are given once, around the rule itself");
    }

    @Override public Rule core() { return rule; }
    @Override public String algorithm() { return rule.algorithm(); }
    @Override public String preset() { return rule.preset(); }
    @Override public LrSchedule learningRate() { return rule.learningRate(); }
    @Override public NonFinitePolicy nonFinitePolicy() { return rule.nonFinitePolicy(); }
    @Override public ParamLayout resolveFlags(ParamLayout layout) { return rule.resolveFlags(layout); }

    @Override
    public List<String> stateNames() {
        if (stages.lookahead() == null) return rule.stateNames();
        List<String> names = new ArrayList<>(rule.stateNames());
        names.add(Lookahead.STATE);
        return List.copyOf(names);
    }

    /**
     * The rule's floor. The stages' own traffic is not in it: Lookahead's only on the steps that
     * copy or sync, gradient centralization's row-means read of g where rows straddle tiles
     * (docs/BYTES.md); benchmark ratios to this floor therefore show what the stages cost.
     */
    @Override public int bytesPerParameter() { return rule.bytesPerParameter(); }

    @Override public StepValues newStepValues() { return rule.newStepValues(); }

    @Override public void fillStepValues(long t, StepValues out) { rule.fillStepValues(t, out); }

    @Override
    public Map<String, String> hyperparameters() {
        Map<String, String> m = new LinkedHashMap<>(rule.hyperparameters());
        if (stages.centralization() != null) {
            m.put("gradient_centralization", stages.centralization().convOnly() ? "conv-only" : "all");
        }
        if (stages.lookahead() != null) {
            m.put("lookahead_k", Integer.toString(stages.lookahead().k()));
            m.put("lookahead_alpha", Double.toString(stages.lookahead().alpha()));
        }
        return m;
    }

    @Override
    public String toString() { return "Staged" + hyperparameters(); }
}

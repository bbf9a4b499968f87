package org.lars4j.rule.stage;

/**
 * What runs around a rule, as optax chains transformations: gradient stages transform g before
 * the rule reads it, weight stages act on w after the rule's update. They are stages of one
 * fused step, not passes of their own: each engine applies them inside the rule's passes
 * (docs/ARCHITECTURE.md). A null component is a stage not in use.
 *
 * @param centralization gradient centralization, or null
 * @param lookahead      Lookahead, or null
 */
public record Stages(GradientCentralization centralization, Lookahead lookahead) {
    /** No stage: the rule alone. */
    public static final Stages NONE = new Stages(null, null);

    public boolean isEmpty() { return centralization == null && lookahead == null; }

    public Stages withCentralization(GradientCentralization c) { return new Stages(c, lookahead); }

    public Stages withLookahead(Lookahead l) { return new Stages(centralization, l); }
}

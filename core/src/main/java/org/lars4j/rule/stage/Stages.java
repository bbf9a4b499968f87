package org.lars4j.rule.stage;

/**
 * What runs around a rule, as optax chains transformations: gradient stages transform g before
 * the rule reads it, weight stages act on w after the rule's update. They are stages of one
 * fused step, not passes of their own: each engine applies them inside the rule's passes
 * (docs/ARCHITECTURE.md). A null component is a stage not in use. The gradient stages run in
 * this order: centralization (outermost), then the clip (its global norm is of the centred
 * gradient), then the rule.
 *
 * @param centralization gradient centralization, or null
 * @param lookahead      Lookahead, or null
 * @param clip           the global gradient-norm clip, or null
 */
public record Stages(GradientCentralization centralization, Lookahead lookahead, GlobalGradientClip clip) {
    /** No stage: the rule alone. */
    public static final Stages NONE = new Stages(null, null, null);

    /** Centralization and Lookahead, no clip. */
    public Stages(GradientCentralization centralization, Lookahead lookahead) { this(centralization, lookahead, null); }

    public boolean isEmpty() { return centralization == null && lookahead == null && clip == null; }

    public Stages withCentralization(GradientCentralization c) { return new Stages(c, lookahead, clip); }

    public Stages withLookahead(Lookahead l) { return new Stages(centralization, l, clip); }

    public Stages withClip(GlobalGradientClip c) { return new Stages(centralization, lookahead, c); }
}

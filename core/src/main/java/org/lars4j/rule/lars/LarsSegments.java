package org.lars4j.rule.lars;

import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.rule.NonFinitePolicy;

/**
 * Per-segment decisions of a LARS plan shared by every engine: what the norm pass computes for
 * each segment and its weight-decay factor (docs/CANONICAL_ORDER.md sections 3-4).
 */
public final class LarsSegments {
    /** Nothing: not adapted, and no non-finite check. */
    public static final int NORM_NONE = 0;
    /** sum(g^2) only: the non-finite check of a segment that is not adapted. */
    public static final int NORM_G = 1;
    /** sum(w^2) and sum(g^2). */
    public static final int NORM_WG = 2;
    /** sum(w^2), sum(g^2) and sum(u^2), u = fma(lam, w, g) (NORM_OF_SUM with decay). */
    public static final int NORM_WGU = 3;

    private final int[] length;
    private final int[] normMode;
    private final double[] lambda;

    public LarsSegments(LarsConfig cfg, ParamLayout layout) {
        this(cfg, layout, false);
    }

    /**
     * With {@code globalClip}, every segment's sum(g^2) is needed (the global norm of the clip
     * stage), so a segment that is not adapted computes NORM_G whatever the non-finite policy.
     */
    public LarsSegments(LarsConfig cfg, ParamLayout layout, boolean globalClip) {
        int n = layout.size();
        length = new int[n];
        normMode = new int[n];
        lambda = new double[n];
        boolean checkEverywhere = cfg.nonFinitePolicy() == NonFinitePolicy.SKIP_STEP || globalClip;
        for (int i = 0; i < n; i++) {
            Segment s = layout.segment(i);
            length[i] = s.length();
            lambda[i] = s.decay() ? cfg.weightDecay() : 0.0;
            if (s.adapt()) {
                normMode[i] = cfg.form() == TrustRatioForm.NORM_OF_SUM && lambda[i] != 0 ? NORM_WGU : NORM_WG;
            } else {
                normMode[i] = checkEverywhere ? NORM_G : NORM_NONE;
            }
        }
    }

    public int segments() { return length.length; }

    /** Element counts, in layout order (a copy). */
    public int[] lengths() { return length.clone(); }

    /** NORM_* per segment (a copy). */
    public int[] normModes() { return normMode.clone(); }

    /** Weight decay per segment: weightDecay where decay applies, else 0 (a copy). */
    public double[] lambdas() { return lambda.clone(); }

}

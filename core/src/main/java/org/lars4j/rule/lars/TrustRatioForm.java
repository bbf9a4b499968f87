package org.lars4j.rule.lars;

/** How the LARS trust-ratio denominator is formed (docs/MATH.md section 3). */
public enum TrustRatioForm {
    /** {@code den = ||g|| + lam * ||w|| + eps} (paper, MLPerf, timm, apex LARC). */
    SUM_OF_NORMS,
    /** {@code den = ||g + lam * w|| + eps} (optax, TVLARS). */
    NORM_OF_SUM
}

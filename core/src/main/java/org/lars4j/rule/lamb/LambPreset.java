package org.lars4j.rule.lamb;

/**
 * The named LAMB rules of docs/MATH.md section 4:
 * <ul>
 * <li>PAPER (TF-Addons {@code LAMB}): adapts every segment not excluded from adaptation; with no
 *     adaptation rule in the layout, the decay exclusions are used (TF-Addons' default).</li>
 * <li>OPTAX ({@code optax.lamb}): adapts every segment; weight decay by the decay mask only.</li>
 * <li>APEX ({@code FusedLAMB}): adapts only segments with weight decay != 0 (unless nvlamb);
 *     global gradient-norm clip maxGradNorm 1.0; weightDecay 0.01.</li>
 * <li>RANGER_LARS (mgrankin/over9000's RangerLars, "Over9000"): rectified LAMB (RAdam's
 *     rectification, section 4.4) with eps 1e-8, phi = clamp(W, 0, 10), every segment adapted,
 *     inside Lookahead(k = 6, alpha = 0.5); no global clip, weightDecay 0.</li>
 * </ul>
 * The first three use eps 1e-6; all use beta1 0.9, beta2 0.999, bias correction, grad averaging
 * and AdamW mode. Tool names: {@code paper optax apex ranger-lars}.
 */
public enum LambPreset {
    PAPER, OPTAX, APEX, RANGER_LARS;

    /** Parses {@code paper optax apex ranger-lars} (case-insensitive; the enum names too). */
    public static LambPreset parse(String s) {
        for (LambPreset p : values()) {
            if (p.cliName().equalsIgnoreCase(s) || p.name().equalsIgnoreCase(s)) return p;
        }
        throw new IllegalArgumentException("unknown LAMB preset '" + s + "' (expected paper, optax, apex or ranger-lars)");
    }

    public String cliName() { return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'); }
}

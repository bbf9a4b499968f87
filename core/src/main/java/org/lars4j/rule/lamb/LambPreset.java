package org.lars4j.rule.lamb;

/**
 * The named LAMB rules of docs/MATH.md section 4 (eps 1e-6 for all):
 * <ul>
 * <li>PAPER (TF-Addons {@code LAMB}): adapts every segment not excluded from adaptation; with no
 *     adaptation rule in the layout, the decay exclusions are used (TF-Addons' default).</li>
 * <li>OPTAX ({@code optax.lamb}): adapts every segment; weight decay by the decay mask only.</li>
 * <li>APEX ({@code FusedLAMB}): adapts only segments with weight decay != 0 (unless nvlamb);
 *     global gradient-norm clip maxGradNorm 1.0; weightDecay 0.01.</li>
 * </ul>
 */
public enum LambPreset {
    PAPER, OPTAX, APEX;

    /** Parses {@code paper optax apex} (case-insensitive). */
    public static LambPreset parse(String s) {
        for (LambPreset p : values()) {
            if (p.name().equalsIgnoreCase(s)) return p;
        }
        throw new IllegalArgumentException("unknown LAMB preset '" + s + "' (expected paper, optax or apex)");
    }

    public String cliName() { return name().toLowerCase(java.util.Locale.ROOT); }
}

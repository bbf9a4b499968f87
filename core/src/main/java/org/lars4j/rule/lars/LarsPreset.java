package org.lars4j.rule.lars;

/**
 * The named LARS-family rules of docs/MATH.md section 3; each sets the defaults below, and every
 * builder call made after choosing it overrides them.
 *
 * <table>
 * <caption>Preset defaults</caption>
 * <tr><th>preset</th><th>form</th><th>lr</th><th>eps</th><th>eta</th><th>other</th></tr>
 * <tr><td>PAPER</td><td>SUM_OF_NORMS</td><td>INSIDE</td><td>0</td><td>0.001</td><td></td></tr>
 * <tr><td>MLPERF</td><td>SUM_OF_NORMS</td><td>INSIDE</td><td>0</td><td>0.001</td><td>rank-0/1 segments: decay=false, adapt=false</td></tr>
 * <tr><td>OPTAX</td><td>NORM_OF_SUM</td><td>INSIDE</td><td>0</td><td>0.001</td><td></td></tr>
 * <tr><td>TIMM</td><td>SUM_OF_NORMS</td><td>OUTSIDE</td><td>1e-8</td><td>0.001</td><td>adapt only where decay applies and weightDecay != 0 (unless alwaysAdapt)</td></tr>
 * <tr><td>LARC_CLIP</td><td>SUM_OF_NORMS</td><td>OUTSIDE</td><td>1e-8</td><td>0.02</td><td>clip; zero norm: no decay, no ratio</td></tr>
 * <tr><td>LARC_SCALE</td><td>SUM_OF_NORMS</td><td>OUTSIDE</td><td>1e-8</td><td>0.02</td><td>zero norm: no decay, no ratio</td></tr>
 * <tr><td>TVLARS</td><td>NORM_OF_SUM</td><td>OUTSIDE</td><td>0</td><td>0.001</td><td>phi(t) with alpha 0.1, lambda 0.001, d_e -1, gamma_min 0; normClamp 10</td></tr>
 * </table>
 */
public enum LarsPreset {
    PAPER, MLPERF, OPTAX, TIMM, LARC_CLIP, LARC_SCALE, TVLARS;

    /** Parses the tool's names: {@code paper mlperf optax timm larc-clip larc-scale tvlars}. */
    public static LarsPreset parse(String s) {
        for (LarsPreset p : values()) {
            if (p.cliName().equalsIgnoreCase(s) || p.name().equalsIgnoreCase(s)) return p;
        }
        throw new IllegalArgumentException("unknown LARS preset '" + s
                + "' (expected paper, mlperf, optax, timm, larc-clip, larc-scale or tvlars)");
    }

    public String cliName() { return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'); }
}

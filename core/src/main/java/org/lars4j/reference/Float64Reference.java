package org.lars4j.reference;

import java.util.List;
import java.util.Map;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import org.lars4j.rule.Rule;
import org.lars4j.rule.Staged;
import org.lars4j.rule.stage.GlobalGradientClip;
import org.lars4j.rule.stage.GradientCentralization;
import org.lars4j.rule.stage.Stages;
import org.lars4j.rule.lamb.LambConfig;
import org.lars4j.rule.lars.LarsConfig;

/**
 * The float64 oracle of each rule: an independent, slow, literal transcription of docs/MATH.md
 * (section 3 for LARS, section 4 for LAMB), used by the tests and by {@code ./lars4j verify} to
 * measure how far an engine's float32 result is from exact arithmetic. It is not an engine and
 * is not meant for training: plain loops, {@code double} everywhere, no canonical order, no tiles,
 * new arrays every step, and it shares no code with the engines (it imports no
 * {@code org.lars4j.engine} package and does not call the rule's own host code such as
 * {@code LarsConfig.phi} or {@code Rule.fillStepValues}; it reads only the configuration's
 * values and its learning-rate schedule). Transcendentals use {@code StrictMath}, as MATH.md
 * prescribes for the host values, so its results are the same on every machine.
 *
 * <p>It keeps its own float64 trajectory of the weights and of the rule's state, so a multi-step
 * run follows the exact-arithmetic path rather than the engine's rounded one. The per-segment
 * flags (decay, adapt) are inputs: the caller resolves them (the tests from MATH.md's preset
 * tables, {@code verify} from the optimizer's resolved layout). The non-finite policy is not
 * modelled: the oracle is meant for finite inputs.
 *
 * <p>Gradient centralization (a stage around the rule, docs/MATH.md section 13) is applied to the
 * gradient before the rule's transcription sees it, in float64: each row's exact mean removed
 * from the row. It needs the shapes, so only the layout form of {@link #of} takes a rule with it.
 *
 * <p>The global gradient clip (a stage, docs/MATH.md section 14) divides every segment's
 * gradient by {@code max(1, ||g|| / maxNorm)}, the norm over all segments in float64, after the
 * centring and before the rule.
 *
 * <p>One entry point, {@link #of}, chooses the rule's transcription through a registry keyed by
 * the configuration's class; a new rule adds one class here and one registry entry. A rule with
 * stages around it ({@link Staged}) gets its core rule's transcription wrapped in the stages'
 * ({@link Float64Lookahead}).
 */
public abstract class Float64Reference {

    /** Makes a rule's reference from the configuration, the flags and the initial weights. */
    @FunctionalInterface
    interface Factory {
        Float64Reference create(Rule rule, boolean[] decay, boolean[] adapt, float[][] initialWeights);
    }

    private static final Map<Class<? extends Rule>, Factory> RULES = Map.of(
            LarsConfig.class, (r, d, a, w) -> new Float64Lars((LarsConfig) r, d, a, w),
            LambConfig.class, (r, d, a, w) -> new Float64Lamb((LambConfig) r, d, a, w));

    /**
     * The reference of {@code rule}, starting from {@code initialWeights} (one array per segment)
     * with per-segment flags {@code decay} and {@code adapt} as given (not resolved again).
     *
     * @throws IllegalArgumentException if no reference is registered for the rule's class, or the
     *         flag arrays do not have one entry per segment
     */
    public static Float64Reference of(Rule rule, boolean[] decay, boolean[] adapt, float[][] initialWeights) {
        if (rule instanceof Staged) {
            Staged staged = (Staged) rule;
            if (staged.stages().centralization() != null) {
                throw new IllegalArgumentException("gradient centralization needs the shapes: use of(rule, resolvedLayout, weights)");
            }
            Float64Reference inner = of(staged.core(), decay, adapt, initialWeights);
            Float64Reference outer = staged.stages().lookahead() == null ? inner : new Float64Lookahead(staged.stages().lookahead(), inner);
            outer.clip = staged.stages().clip();
            return outer;
        }
        Factory f = RULES.get(rule.getClass());
        if (f == null) throw new IllegalArgumentException("no float64 reference for " + rule.getClass().getName());
        if (decay.length != initialWeights.length || adapt.length != initialWeights.length) {
            throw new IllegalArgumentException("flags for " + decay.length + "/" + adapt.length + " segments, weights for "
                    + initialWeights.length);
        }
        return f.create(rule, decay.clone(), adapt.clone(), initialWeights);
    }

    /** {@link #of(Rule, boolean[], boolean[], float[][])} with the flags of a resolved layout. */
    public static Float64Reference of(Rule rule, ParamLayout resolved, float[][] initialWeights) {
        boolean[] decay = new boolean[resolved.size()];
        boolean[] adapt = new boolean[resolved.size()];
        for (int i = 0; i < resolved.size(); i++) {
            decay[i] = resolved.segment(i).decay();
            adapt[i] = resolved.segment(i).adapt();
        }
        GradientCentralization gc = rule.stages().centralization();
        Stages others = rule.stages().withCentralization(null);
        Rule rest = gc == null ? rule : others.isEmpty() ? rule.core() : new Staged(rule.core(), others);
        // The centring is the outermost stage: the gradient is centred before Lookahead's rule sees it.
        Float64Reference ref = of(rest, decay, adapt, initialWeights);
        if (gc != null) ref.centring = resolved.segments().toArray(new Segment[0]);
        ref.gc = gc;
        return ref;
    }

    final boolean[] decay;
    final boolean[] adapt;
    final double[][] w;
    final double[] trust;
    private long t;
    private GradientCentralization gc;
    private Segment[] centring;
    /** The global gradient clip stage (LAMB's own maxGradNorm is in its transcription), or null. */
    private GlobalGradientClip clip;

    /** A stage around {@code inner}: the same flags, and the same live weights and trust ratios. */
    Float64Reference(Float64Reference inner) {
        decay = inner.decay;
        adapt = inner.adapt;
        w = inner.w;
        trust = inner.trust;
    }

    Float64Reference(boolean[] decay, boolean[] adapt, float[][] initialWeights) {
        this.decay = decay;
        this.adapt = adapt;
        int n = initialWeights.length;
        w = new double[n][];
        trust = new double[n];
        for (int i = 0; i < n; i++) w[i] = toDouble(initialWeights[i]);
    }

    /** One step with gradients {@code grads} (one array per segment); weights and state advance in float64. */
    public final void step(float[][] grads) {
        if (grads.length != w.length) throw new IllegalArgumentException("gradients for " + grads.length + " segments, weights for " + w.length);
        t++;
        double[][] g = new double[grads.length][];
        for (int i = 0; i < grads.length; i++) {
            g[i] = toDouble(grads[i]);
            if (gc != null && gc.rows(centring[i]) > 0) centre(g[i], centring[i].shape(), centring[i].outputAxis());
        }
        // The clip after the centring (its norm is of the centred gradient), before the rule.
        if (clip != null) {
            double total = 0;
            for (double[] gi : g) for (double x : gi) total += x * x;
            double c = Math.max(1, Math.sqrt(total) / clip.maxNorm());
            for (double[] gi : g) for (int k = 0; k < gi.length; k++) gi[k] /= c;
        }
        step(t, g);
    }

    /** Step {@code t} (from 1) of the rule, on gradients the stages have already transformed. */
    abstract void step(long t, double[][] grads);

    /**
     * Gradient centralization of one tensor, row-major {@code shape}: for each index o of
     * {@code axis}, the mean of the elements whose index along the axis is o, subtracted from them.
     */
    static void centre(double[] g, int[] shape, int axis) {
        int rows = shape[axis];
        int inner = 1;
        for (int d = axis + 1; d < shape.length; d++) inner *= shape[d];
        double[] sum = new double[rows];
        for (int p = 0; p < g.length; p++) sum[(p / inner) % rows] += g[p];
        int count = g.length / rows;
        for (int p = 0; p < g.length; p++) g[p] -= sum[(p / inner) % rows] / count;
    }

    /** Steps taken. */
    public final long stepCount() { return t; }

    /** The float64 weights, one array per segment (live: they change with each step). */
    public final double[][] weights() { return w; }

    /** The trust ratio each segment used in the last step (1 where not adapted or a norm was 0). */
    public final double[] trustRatios() { return trust; }

    /** The names of the rule's state buffers, as the optimizer's {@code stateNames()} spells them. */
    public abstract List<String> stateNames();

    /**
     * A state buffer by its optimizer name ({@code momentum_buffer}; {@code exp_avg},
     * {@code exp_avg_sq}), one float64 array per segment (live).
     *
     * @throws IllegalArgumentException for a name the rule does not have
     */
    public abstract double[][] state(String name);

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int k = 0; k < x.length; k++) d[k] = x[k];
        return d;
    }

    static double norm(double[] x) {
        double s = 0;
        for (double e : x) s += e * e;
        return Math.sqrt(s);
    }
}

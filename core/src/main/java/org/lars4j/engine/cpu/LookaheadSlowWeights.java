package org.lars4j.engine.cpu;

import java.util.Arrays;
import org.lars4j.engine.cpu.TileTraversal.Tile;
import org.lars4j.rule.StepValues;
import org.lars4j.rule.stage.Lookahead;

/**
 * Lookahead's slow weights on the Java engine (docs/MATH.md and docs/CANONICAL_ORDER.md,
 * "Lookahead"), fused into a rule's weight-writing {@code TileOp}: the op calls
 * {@link #beforeUpdate} on its tile before the rule writes w and {@link #afterUpdate} after, so
 * the copy (first step) and the sync (every k-th applied step) touch the tile while it is still
 * in L1, and a step without either does nothing here. Per element, in float32:
 * <pre>
 * first step:   phi = w                               (before the rule's update)
 * sync step:    phi' = fma(alpha_f, w - phi, phi);  w = phi'   (after it; alpha_f = (float) alpha)
 * </pre>
 * Plain loops: they run on one step in k, and a loop over byte buffers must use absolute
 * {@code getFloat}/{@code putFloat} anyway. The CUDA kernels do the same operations per element.
 */
final class LookaheadSlowWeights {
    private final Lookahead lookahead;
    private final float alpha;
    private final float[][] slow;
    // This step's actions, published to the workers by WorkerPool.run.
    private boolean copy;
    private boolean sync;

    private LookaheadSlowWeights(Lookahead lookahead, int[] segmentLength) {
        this.lookahead = lookahead;
        alpha = (float) lookahead.alpha();
        slow = new float[segmentLength.length][];
        for (int i = 0; i < slow.length; i++) slow[i] = new float[segmentLength[i]];
    }

    /** The slow weights of a plan, or null when the rule has no Lookahead around it. */
    static LookaheadSlowWeights of(Lookahead lookahead, int[] segmentLength) {
        return lookahead == null ? null : new LookaheadSlowWeights(lookahead, segmentLength);
    }

    /**
     * Before a step's weight-writing phase: whether it copies (step 1 of the state) and whether it
     * syncs ({@code t % k == 0}; t counts applied steps, so a skipped step is not one of them).
     */
    void startStep(StepValues values) {
        copy = values.firstStep();
        sync = lookahead.syncsAt(values.step());
    }

    /** On a step that copies: the tile's weights, before the rule changes them, become its slow weights. */
    void beforeUpdate(Tile t) {
        if (!copy) return;
        float[] phi = slow[t.segment];
        int p = t.start;
        int n = t.length;
        if (t.wa != null) {
            System.arraycopy(t.wa, t.wo, phi, p, n);
        } else {
            for (int i = 0; i < n; i++) phi[p + i] = t.wb.getFloat((t.wo + i) * Float.BYTES);
        }
    }

    /** On a step that syncs: the slow weights move alpha towards the tile's new weights, which are reset to them. */
    void afterUpdate(Tile t) {
        if (!sync) return;
        float[] phi = slow[t.segment];
        int p = t.start;
        int n = t.length;
        final float a = alpha;
        if (t.wa != null) {
            float[] w = t.wa;
            int o = t.wo;
            for (int i = 0; i < n; i++) {
                float s = Math.fma(a, w[o + i] - phi[p + i], phi[p + i]);
                phi[p + i] = s;
                w[o + i] = s;
            }
        } else {
            for (int i = 0; i < n; i++) {
                int at = (t.wo + i) * Float.BYTES;
                float s = Math.fma(a, t.wb.getFloat(at) - phi[p + i], phi[p + i]);
                phi[p + i] = s;
                t.wb.putFloat(at, s);
            }
        }
    }

    void read(int segment, float[] dst) { System.arraycopy(slow[segment], 0, dst, 0, slow[segment].length); }

    void write(int segment, float[] src) { System.arraycopy(src, 0, slow[segment], 0, slow[segment].length); }

    void reset() { for (float[] x : slow) Arrays.fill(x, 0f); }
}

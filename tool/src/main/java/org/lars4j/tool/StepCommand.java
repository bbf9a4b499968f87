package org.lars4j.tool;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.io.DType;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.io.OptimizerCheckpoint.CheckpointMismatchException;
import org.lars4j.io.SafetensorsFile;
import org.lars4j.io.SafetensorsFormatException;
import org.lars4j.io.SafetensorsWriter;
import org.lars4j.io.SafetensorsWriter.Pending;
import org.lars4j.io.TensorInfo;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./lars4j step}: one optimizer step on tensors held in safetensors files. Every tensor of
 * the params file with at least one element is one segment (in the file's data order); tensors
 * with zero elements, legal in safetensors, have nothing to update and are copied through. The
 * grads file must hold the same names and shapes.
 *
 * <p>Order of work, so that bad input or a crash loses nothing: flags and output paths are
 * checked first (usage errors), both destinations are checked before any input is read, every
 * input is read and checked before the step, and the two outputs are written to temps and then
 * committed as a unit ({@link OutputFiles}).
 */
@Command(name = "step", mixinStandardHelpOptions = true,
        description = "Apply one optimizer step to tensors held in safetensors files.")
final class StepCommand implements Callable<Integer> {
    /** Metadata written into both outputs: a random id of the pair, and the step it holds. */
    static final String PAIR_KEY = "lars4j.pair";
    static final String STEP_KEY = "lars4j.step";

    @Option(names = "--params", required = true, paramLabel = "P.safetensors", description = "parameters (F32); required")
    Path params;

    @Option(names = "--grads", required = true, paramLabel = "G.safetensors", description = "gradients: same names and shapes (F32); required")
    Path grads;

    @Option(names = "--state", paramLabel = "S.safetensors", description = "optimizer state from a previous --state-out (default: none, a fresh state at step 0)")
    Path state;

    @Option(names = "--out", required = true, paramLabel = "P2.safetensors", description = "parameters after the step; may be --params itself; required")
    Path out;

    @Option(names = "--state-out", required = true, paramLabel = "S2.safetensors", description = "optimizer state after the step; may be --state itself; required")
    Path stateOut;

    @Option(names = "--allow-preset-change", description = "continue from a --state written by another preset of the same optimizer (default: refused)")
    boolean allowPresetChange;

    @Mixin
    OptimizerOptions options;

    @Override
    public Integer call() throws Exception {
        options.validate();
        checkDistinct();
        // A commit that a killed run left half done is finished before these files are read or replaced.
        for (Path p : new Path[] {params, out}) {
            if (OutputFiles.recover(p)) {
                System.err.println("lars4j step: note: finished an interrupted step: " + p + " and its state file now hold that step");
            }
        }
        // Both destinations before any work: a run that cannot write both writes neither.
        SafetensorsWriter.checkTarget(out);
        SafetensorsWriter.checkTarget(stateOut);
        try (SafetensorsFile p = SafetensorsFile.open(params); SafetensorsFile g = SafetensorsFile.open(grads)) {
            ParamLayout.Builder b = ParamLayout.builder();
            boolean any = false;
            for (TensorInfo t : p.tensors()) {
                if (t.dtype() != DType.F32) throw new SafetensorsFormatException(params + ": tensor '" + t.name() + "' is " + t.dtype() + "; step needs F32");
                if (t.elements() > ParamLayout.MAX_SEGMENT_LENGTH) {
                    throw new SafetensorsFormatException(params + ": tensor '" + t.name() + "' has " + t.elements() + " elements, more than one segment holds");
                }
                if (t.elements() == 0) continue;
                b.add(t.name(), t.intShape());
                any = true;
            }
            if (!any) throw new SafetensorsFormatException(params + ": no tensor has any elements; there is nothing to step");
            ParamLayout layout = options.applyRules(b).build();
            Set<String> names = new HashSet<>();
            for (TensorInfo t : p.tensors()) {
                names.add(t.name());
                TensorInfo gt = g.tensor(t.name());
                if (gt == null) throw new SafetensorsFormatException(grads + ": no gradient for tensor '" + t.name() + "'");
                if (gt.dtype() != DType.F32 || !Arrays.equals(gt.shape(), t.shape())) {
                    throw new SafetensorsFormatException(grads + ": gradient '" + t.name() + "' is " + gt.dtype() + Arrays.toString(gt.shape())
                            + ", parameter is F32" + Arrays.toString(t.shape()));
                }
            }
            for (TensorInfo gt : g.tensors()) {
                if (!names.contains(gt.name())) throw new SafetensorsFormatException(grads + ": tensor '" + gt.name() + "' has no parameter in " + params);
            }
            List<float[]> w = new ArrayList<>();
            List<float[]> dw = new ArrayList<>();
            for (int i = 0; i < layout.size(); i++) {
                w.add(p.readFloats(layout.segment(i).name()));
                dw.add(g.readFloats(layout.segment(i).name()));
            }
            try (LayerwiseOptimizer opt = options.build(layout, null)) {
                if (state != null) loadState(opt, p.metadata());
                boolean applied = opt.step(w, dw);
                String pair = pairId(w, opt);
                SafetensorsWriter pw = new SafetensorsWriter().metadata(p.metadata())
                        .metadata(PAIR_KEY, pair).metadata(STEP_KEY, Long.toString(opt.stepCount()));
                for (TensorInfo t : p.tensors()) {
                    int i = layout.indexOf(t.name());
                    pw.addF32(t.name(), t.intShape(), i < 0 ? new float[0] : w.get(i));
                }
                SafetensorsWriter sw = OptimizerCheckpoint.writer(opt).metadata(PAIR_KEY, pair);
                try (Pending po = pw.prepare(out); Pending so = sw.prepare(stateOut)) {
                    OutputFiles.commitPair(po, so);
                }
                boolean adaptsNone = opt.layout().segments().stream().noneMatch(Segment::adapt);
                System.out.printf("%s step %d %s: %s %s on the %s engine, %d tensors, %d parameters%s -> %s, %s%n",
                        opt.config().algorithm(), opt.stepCount() + (applied ? 0 : 1), applied ? "applied" : "SKIPPED (non-finite gradient)",
                        opt.config().algorithm(), opt.config().preset(), opt.engineName(), layout.size(), layout.totalElements(),
                        adaptsNone ? ", no tensor adapted" : "", out, stateOut);
                if (adaptsNone) {
                    // timm (lars) and apex (lamb) adapt only tensors with weight decay, and the
                    // tool's default decay is 0: say so rather than let "lars applied" suggest LARS.
                    System.err.println("lars4j step: note: no tensor was adapted layer-wise under these settings ("
                            + opt.config().algorithm() + " " + opt.config().preset() + " with --weight-decay "
                            + opt.config().hyperparameters().get("weight_decay")
                            + "); the step was the plain base update. Set --weight-decay > 0 or choose another --preset to adapt.");
                }
            }
        }
        return 0;
    }

    /**
     * The id both outputs carry: a 128-bit digest of the new parameters, the new state and the
     * counters. Derived from the contents rather than drawn at random, so that the same step
     * gives byte-identical files on every engine and run, while the state of step t and the
     * parameters of step t+1 (or of another branch) carry different ids.
     */
    static String pairId(List<float[]> params, LayerwiseOptimizer opt) {
        long a = 0x243F6A8885A308D3L;
        long b = 0x13198A2E03707344L;
        a = mix(a, opt.stepCount());
        b = mix(b, opt.skippedSteps() ^ 0x5bd1e995L);
        List<float[]> all = new ArrayList<>(params);
        for (String buffer : opt.stateNames()) {
            for (int i = 0; i < opt.layout().size(); i++) {
                float[] v = new float[opt.layout().segment(i).length()];
                opt.readState(buffer, i, v);
                all.add(v);
            }
        }
        for (float[] x : all) {
            a = mix(a, x.length);
            b = mix(b, ~x.length);
            for (float f : x) {
                int bits = Float.floatToRawIntBits(f);
                a = mix(a, bits);
                b = mix(b, Integer.reverse(bits));
            }
        }
        return String.format("%016x%016x", a, b);
    }

    private static long mix(long h, long v) {
        h ^= v;
        h *= 0x9E3779B97F4A7C15L;
        return h ^ (h >>> 29);
    }

    /** Same file twice among the paths (after resolving links) is refused before any work. */
    private void checkDistinct() {
        Path o = OutputFiles.identity(out);
        Path so = OutputFiles.identity(stateOut);
        Path g = OutputFiles.identity(grads);
        if (o.equals(so)) throw options.usage("--out and --state-out name the same file (" + o + "); the parameters would be lost");
        if (o.equals(g)) throw options.usage("--out and --grads name the same file (" + o + ")");
        if (so.equals(g)) throw options.usage("--state-out and --grads name the same file (" + so + ")");
        if (so.equals(OutputFiles.identity(params))) throw options.usage("--state-out and --params name the same file (" + so + ")");
        if (state != null && o.equals(OutputFiles.identity(state))) throw options.usage("--out and --state name the same file (" + o + ")");
    }

    /**
     * Loads --state, refusing a state written with other parameters than --params: when both
     * files carry a pair id (both written by this tool), the ids must match, or the resumed run
     * would apply a step twice or skip one without a word.
     */
    private void loadState(LayerwiseOptimizer opt, Map<String, String> paramsMeta) throws IOException {
        try (SafetensorsFile s = SafetensorsFile.open(state)) {
            String ps = paramsMeta.get(PAIR_KEY);
            String ss = s.metadata().get(PAIR_KEY);
            if (ps != null && ss != null && !ps.equals(ss)) {
                throw new CheckpointMismatchException(params + " (written at step " + paramsMeta.get(STEP_KEY) + ") and " + state
                        + " (step " + s.metadata().get("step") + ") were not written together by one step; resuming from them would "
                        + "apply a step twice or lose one");
            }
        }
        try {
            OptimizerCheckpoint.load(opt, state, allowPresetChange);
        } catch (OptimizerCheckpoint.PresetMismatchException e) {
            throw new CheckpointMismatchException(e.getMessage() + " (--allow-preset-change to continue from it anyway)");
        }
    }
}

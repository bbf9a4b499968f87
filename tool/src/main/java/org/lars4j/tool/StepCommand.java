package org.lars4j.tool;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.io.DType;
import org.lars4j.io.OptimizerCheckpoint;
import org.lars4j.io.SafetensorsFile;
import org.lars4j.io.SafetensorsFormatException;
import org.lars4j.io.SafetensorsWriter;
import org.lars4j.io.TensorInfo;
import org.lars4j.layout.ParamLayout;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./lars4j step}: one optimizer step on tensors held in safetensors files. Every tensor of
 * the params file is one segment (in the file's data order); the grads file must hold the same
 * names and shapes. Everything is read and checked before anything is written, and both outputs
 * are written atomically, so bad input leaves no file behind.
 */
@Command(name = "step", mixinStandardHelpOptions = true,
        description = "Apply one optimizer step to tensors held in safetensors files.")
final class StepCommand implements Callable<Integer> {
    @Option(names = "--params", required = true, paramLabel = "P.safetensors", description = "parameters (F32)")
    Path params;

    @Option(names = "--grads", required = true, paramLabel = "G.safetensors", description = "gradients: same names and shapes (F32)")
    Path grads;

    @Option(names = "--state", paramLabel = "S.safetensors", description = "optimizer state from a previous --state-out; none: fresh state at step 0")
    Path state;

    @Option(names = "--out", required = true, paramLabel = "P2.safetensors", description = "parameters after the step")
    Path out;

    @Option(names = "--state-out", required = true, paramLabel = "S2.safetensors", description = "optimizer state after the step")
    Path stateOut;

    @Mixin
    OptimizerOptions options;

    @Override
    public Integer call() throws Exception {
        try (SafetensorsFile p = SafetensorsFile.open(params); SafetensorsFile g = SafetensorsFile.open(grads)) {
            ParamLayout.Builder b = ParamLayout.builder();
            for (TensorInfo t : p.tensors()) {
                if (t.dtype() != DType.F32) throw new SafetensorsFormatException(params + ": tensor '" + t.name() + "' is " + t.dtype() + "; step needs F32");
                b.add(t.name(), t.intShape());
            }
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
            for (TensorInfo t : p.tensors()) {
                w.add(p.readFloats(t.name()));
                dw.add(g.readFloats(t.name()));
            }
            try (LayerwiseOptimizer opt = options.build(layout, null)) {
                if (state != null) OptimizerCheckpoint.load(opt, state);
                boolean applied = opt.step(w, dw);
                SafetensorsWriter pw = new SafetensorsWriter().metadata(p.metadata());
                for (int i = 0; i < layout.size(); i++) pw.addF32(layout.segment(i).name(), layout.segment(i).shape(), w.get(i));
                pw.write(out);
                OptimizerCheckpoint.save(opt, stateOut);
                System.out.printf("%s step %d %s: %s %s on the %s engine, %d tensors, %d parameters -> %s, %s%n",
                        opt.config().algorithm(), opt.stepCount() + (applied ? 0 : 1), applied ? "applied" : "SKIPPED (non-finite gradient)",
                        opt.config().algorithm(), opt.config().preset(), opt.engineName(), layout.size(), layout.totalElements(), out, stateOut);
            }
        }
        return 0;
    }
}

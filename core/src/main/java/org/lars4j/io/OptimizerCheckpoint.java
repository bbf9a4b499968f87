package org.lars4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.Segment;

/**
 * Optimizer state as a safetensors file: one F32 tensor per state buffer and segment, named as
 * PyTorch's state_dict names them ({@code <param>.momentum_buffer}, {@code <param>.exp_avg},
 * {@code <param>.exp_avg_sq}), with the segment's shape; metadata holds the format, the
 * optimizer, its preset and hyperparameters, the step count and the skipped-step count.
 */
public final class OptimizerCheckpoint {
    public static final String FORMAT = "lars4j-optimizer-state/1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private OptimizerCheckpoint() {}

    /** Writes {@code opt}'s state to {@code file}, atomically. */
    public static void save(LayerwiseOptimizer opt, Path file) throws IOException {
        writer(opt).write(file);
    }

    /**
     * A writer holding {@code opt}'s state and metadata as {@link #save} writes them, for callers
     * that add metadata or commit the file together with another ({@link SafetensorsWriter#prepare}).
     */
    public static SafetensorsWriter writer(LayerwiseOptimizer opt) {
        ParamLayout layout = opt.layout();
        SafetensorsWriter w = new SafetensorsWriter();
        for (String buffer : opt.stateNames()) {
            for (int i = 0; i < layout.size(); i++) {
                Segment s = layout.segment(i);
                float[] data = new float[s.length()];
                opt.readState(buffer, i, data);
                w.addF32(s.name() + "." + buffer, s.shape(), data);
            }
        }
        w.metadata(metadata(opt));
        return w;
    }

    /** The metadata {@link #save} writes. */
    public static Map<String, String> metadata(LayerwiseOptimizer opt) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("optimizer", opt.config().algorithm());
        m.put("preset", opt.config().preset());
        m.put("step", Long.toString(opt.stepCount()));
        m.put("skipped_steps", Long.toString(opt.skippedSteps()));
        try {
            m.put("hyperparameters", JSON.writeValueAsString(opt.config().hyperparameters()));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return m;
    }

    /**
     * Loads {@code file} into {@code opt}: state buffers, step count, skipped-step count. Every
     * check happens before anything is written, so a rejected file changes nothing.
     *
     * @throws CheckpointMismatchException naming the first tensor that does not match the layout
     */
    public static void load(LayerwiseOptimizer opt, Path file) throws IOException {
        load(opt, file, false);
    }

    /**
     * {@link #load(LayerwiseOptimizer, Path)}; a state written by another preset of the same
     * optimizer (mlperf's momentum into timm, say) is refused with a {@link PresetMismatchException}
     * unless {@code allowOtherPreset}: the buffers have the same names and shapes but not the
     * same meaning under every preset, so continuing from them is a choice, not a default.
     */
    public static void load(LayerwiseOptimizer opt, Path file, boolean allowOtherPreset) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, String> meta = f.metadata();
            String format = meta.get("format");
            if (!FORMAT.equals(format)) throw new CheckpointMismatchException(file + ": not a lars4j optimizer state (format " + format + ")");
            String optimizer = meta.get("optimizer");
            if (!opt.config().algorithm().equals(optimizer)) {
                throw new CheckpointMismatchException(file + ": state of optimizer '" + optimizer + "', this optimizer is '" + opt.config().algorithm() + "'");
            }
            String preset = meta.get("preset");
            // A file without a recorded preset (hand-made, or from before presets were recorded)
            // cannot be compared; one that records another preset is refused unless allowed.
            if (!allowOtherPreset && preset != null && !opt.config().preset().equals(preset)) {
                throw new PresetMismatchException(file + ": state written by " + optimizer + " preset '" + preset
                        + "', this optimizer is " + optimizer + " preset '" + opt.config().preset() + "'");
            }
            long step = parseCount(file, meta, "step");
            long skipped = parseCount(file, meta, "skipped_steps");
            ParamLayout layout = opt.layout();
            Set<String> expected = new HashSet<>();
            List<float[]> data = new ArrayList<>();
            for (String buffer : opt.stateNames()) {
                for (int i = 0; i < layout.size(); i++) {
                    Segment s = layout.segment(i);
                    String name = s.name() + "." + buffer;
                    expected.add(name);
                    TensorInfo t = f.tensor(name);
                    if (t == null) throw new CheckpointMismatchException(file + ": state tensor '" + name + "' is missing");
                    long[] want = new long[s.rank()];
                    for (int d = 0; d < want.length; d++) want[d] = s.shape()[d];
                    if (t.dtype() != DType.F32 || !Arrays.equals(t.shape(), want)) {
                        throw new CheckpointMismatchException(file + ": state tensor '" + name + "' is " + t.dtype() + Arrays.toString(t.shape())
                                + " but the layout needs F32" + Arrays.toString(want));
                    }
                    data.add(f.readFloats(name));
                }
            }
            for (TensorInfo t : f.tensors()) {
                if (!expected.contains(t.name())) throw new CheckpointMismatchException(file + ": tensor '" + t.name() + "' matches no segment of the layout");
            }
            int k = 0;
            for (String buffer : opt.stateNames()) {
                for (int i = 0; i < layout.size(); i++) opt.writeState(buffer, i, data.get(k++));
            }
            opt.setStepCount(step);
            opt.setSkippedSteps(skipped);
            opt.weightsChanged();   // the caller is about to load the matching weights
        }
    }

    private static long parseCount(Path file, Map<String, String> meta, String key) throws CheckpointMismatchException {
        try {
            long v = Long.parseLong(meta.getOrDefault(key, ""));
            if (v < 0) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new CheckpointMismatchException(file + ": metadata '" + key + "' is not a count: " + meta.get(key));
        }
    }

    /** A state file that does not fit the optimizer it is loaded into. */
    public static class CheckpointMismatchException extends IOException {
        public CheckpointMismatchException(String message) { super(message); }
    }

    /** A state file written by another preset of the same optimizer. */
    public static final class PresetMismatchException extends CheckpointMismatchException {
        public PresetMismatchException(String message) { super(message); }
    }
}

package org.lars4j.tool;

import java.io.IOException;
import java.nio.file.Path;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.ShapeFile;

/** The model-shape presets of `./lars4j bench` (bench/shapes/*.txt, bundled in the jar). */
final class ModelShapes {
    private ModelShapes() {}

    static final String MODELS = "resnet50, bert-large, vit-b16, tiny-10k";

    /** The named model's segments, or those of {@code shapes} when given. */
    static ParamLayout.Builder load(String model, Path shapes) throws IOException {
        if (shapes != null) return ShapeFile.read(shapes);
        if (model.equals("tiny-10k")) {
            // 10,000 tensors of 1,000 parameters; rank 2, so that the MLPerf rule does not
            // exclude them as 1-D tensors.
            ParamLayout.Builder b = ParamLayout.builder();
            for (int i = 0; i < 10_000; i++) b.add("t" + i + ".weight", 10, 100);
            return b;
        }
        if (model.equals("resnet50") || model.equals("bert-large") || model.equals("vit-b16")) return ShapeFile.bundled(model);
        throw new IllegalArgumentException("unknown model '" + model + "' (expected " + MODELS + ", or --shapes FILE)");
    }
}

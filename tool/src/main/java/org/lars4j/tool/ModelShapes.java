package org.lars4j.tool;

import java.io.IOException;
import java.nio.file.Path;
import org.lars4j.layout.ParamLayout;
import org.lars4j.layout.ShapeFile;

/** The model-shape presets of `./lars4j bench` (bench/shapes/*.txt, bundled in the jar). */
final class ModelShapes {
    private ModelShapes() {}

    static final String MODELS = "resnet50, bert-large, vit-b16, tiny-10k";
    static final java.util.List<String> NAMES = java.util.List.of("resnet50", "bert-large", "vit-b16", "tiny-10k");

    /** The named model's segments, or those of {@code shapes} when given. */
    static ParamLayout.Builder load(String model, Path shapes) throws IOException {
        if (shapes != null) return ShapeFile.read(shapes);
        if (NAMES.contains(model)) return ShapeFile.bundled(model);
        throw new IllegalArgumentException("unknown model '" + model + "' (expected " + MODELS + ", or --shapes FILE)");
    }
}

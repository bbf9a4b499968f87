package org.lars4j.layout;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.lars4j.error.InvalidLayoutException;

/**
 * Reads model-shape files (bench/shapes/*.txt): '#' starts a comment line; every other
 * non-blank line is {@code <tensor name> <shape>} with the dimensions joined by 'x', e.g.
 * {@code conv1.weight 64x3x7x7}; a scalar's shape is {@code scalar}.
 */
public final class ShapeFile {
    private ShapeFile() {}

    /** The segments of {@code file}, in file order, with default flags. */
    public static ParamLayout.Builder read(Path file) throws IOException {
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            return read(r, file.toString());
        }
    }

    /**
     * A bundled model by name: {@code resnet50}, {@code bert-large}, {@code vit-b16} (shape files),
     * or {@code tiny-10k}: 10,000 tensors {@code t<i>.weight} of 1,000 parameters, shaped 10x100
     * so that the MLPerf rule (which excludes rank-0/1 tensors) still adapts them.
     */
    public static ParamLayout.Builder bundled(String model) throws IOException {
        if (model.equals("tiny-10k")) {
            ParamLayout.Builder b = ParamLayout.builder();
            for (int i = 0; i < 10_000; i++) b.add("t" + i + ".weight", 10, 100);
            return b;
        }
        InputStream in = ShapeFile.class.getResourceAsStream("/shapes/" + model + ".txt");
        if (in == null) throw new InvalidLayoutException("no bundled shape file for model '" + model + "'");
        try (Reader r = new InputStreamReader(in, StandardCharsets.UTF_8)) {
            return read(r, model);
        }
    }

    static ParamLayout.Builder read(Reader reader, String source) throws IOException {
        ParamLayout.Builder b = ParamLayout.builder();
        BufferedReader br = new BufferedReader(reader);
        String line;
        int no = 0;
        while ((line = br.readLine()) != null) {
            no++;
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) continue;
            String[] parts = t.split("\\s+");
            if (parts.length != 2) {
                throw new InvalidLayoutException(source + ":" + no + ": expected '<name> <shape>', got '" + t + "'");
            }
            b.add(parts[0], parseShape(parts[1], source + ":" + no));
        }
        return b;
    }

    private static int[] parseShape(String s, String where) {
        if (s.equals("scalar")) return new int[0];
        String[] dims = s.split("x");
        int[] shape = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            try {
                shape[i] = Integer.parseInt(dims[i]);
            } catch (NumberFormatException e) {
                throw new InvalidLayoutException(where + ": bad dimension '" + dims[i] + "' in shape '" + s + "'");
            }
        }
        return shape;
    }
}

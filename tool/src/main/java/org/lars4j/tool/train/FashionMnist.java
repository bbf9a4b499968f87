package org.lars4j.tool.train;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Fashion-MNIST from its IDX files ({@code train-images-idx3-ubyte.gz} and friends, as Debian's
 * {@code dataset-fashion-mnist} installs them under {@link #DEBIAN_DIR}): 28x28 grey images as
 * floats in [0, 1], labels 0-9.
 */
public final class FashionMnist {
    public static final Path DEBIAN_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    public static final int SIDE = 28;
    public static final int PIXELS = SIDE * SIDE;
    public static final int CLASSES = 10;

    /** One split: {@code images[i * side * side + p]}, {@code labels[i]}. */
    public record Split(float[] images, byte[] labels, int side) {
        public int size() { return labels.length; }

        public int pixels() { return side * side; }

        /** The first {@code n} images (all when there are fewer). */
        public Split first(int n) {
            if (n >= size()) return this;
            return new Split(java.util.Arrays.copyOf(images, n * pixels()), java.util.Arrays.copyOf(labels, n), side);
        }

        /** Each image shrunk by {@code factor} in both directions, every output pixel the mean of its block. */
        public Split shrink(int factor) {
            if (factor == 1) return this;
            if (factor < 1 || side % factor != 0) throw new IllegalArgumentException("cannot shrink " + side + "x" + side + " images by " + factor);
            int s = side / factor;
            float[] out = new float[size() * s * s];
            float inv = 1f / (factor * factor);
            for (int i = 0; i < size(); i++) {
                for (int y = 0; y < s; y++) {
                    for (int x = 0; x < s; x++) {
                        float sum = 0;
                        for (int dy = 0; dy < factor; dy++) {
                            for (int dx = 0; dx < factor; dx++) sum += images[i * pixels() + (y * factor + dy) * side + x * factor + dx];
                        }
                        out[i * s * s + y * s + x] = sum * inv;
                    }
                }
            }
            return new Split(out, labels, s);
        }
    }

    private FashionMnist() {}

    public static Split train(Path dir) throws IOException {
        return read(dir, "train");
    }

    public static Split test(Path dir) throws IOException {
        return read(dir, "t10k");
    }

    static Split read(Path dir, String prefix) throws IOException {
        Path images = dir.resolve(prefix + "-images-idx3-ubyte.gz");
        Path labels = dir.resolve(prefix + "-labels-idx1-ubyte.gz");
        for (Path p : new Path[] {images, labels}) {
            if (!Files.isRegularFile(p)) {
                throw new NoSuchFileException(p + " (Fashion-MNIST: install Debian's dataset-fashion-mnist or pass --data DIR)");
            }
        }
        byte[] y = readIdx(labels, 0x00000801, 1);
        byte[] x = readIdx(images, 0x00000803, 3);
        if (x.length != y.length * PIXELS) throw new IOException(images + ": " + x.length + " bytes of pixels for " + y.length + " labels");
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) f[i] = (x[i] & 0xff) / 255f;
        for (byte b : y) if (b < 0 || b >= CLASSES) throw new IOException(labels + ": label " + b + " outside 0-9");
        return new Split(f, y, SIDE);
    }

    private static byte[] readIdx(Path file, int magic, int dims) throws IOException {
        try (InputStream raw = Files.newInputStream(file);
             DataInputStream in = new DataInputStream(new GZIPInputStream(raw, 1 << 16))) {
            int m = in.readInt();
            if (m != magic) throw new IOException(file + ": not an IDX file of rank " + dims + " (magic 0x" + Integer.toHexString(m) + ")");
            long n = 1;
            int count = in.readInt();
            n *= count;
            for (int d = 1; d < dims; d++) {
                int size = in.readInt();
                if (size != SIDE) throw new IOException(file + ": images are not " + SIDE + "x" + SIDE);
                n *= size;
            }
            if (count <= 0 || n > Integer.MAX_VALUE) throw new IOException(file + ": bad item count " + count);
            byte[] out = new byte[(int) n];
            try {
                in.readFully(out);
            } catch (EOFException e) {
                throw new IOException(file + ": truncated", e);
            }
            return out;
        }
    }
}

package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Both implementations of each tile-kernel family (sums of squares, the LARS update, LAMB's
 * passes) against a literal transcription of docs/CANONICAL_ORDER.md (written here, not shared
 * with either), bit for bit, on every tile length class (partial
 * vectors, partial rounds, full tiles), odd offsets, and inputs with NaN, infinities, signed
 * zeros, subnormals and values whose squares overflow. The tests run with
 * {@code --add-modules jdk.incubator.vector} (surefire's argLine), so the Vector API kernels are
 * the ones the provider picks here. Kernels that read byte buffers ({@link SquaresKernels#readsByteBuffers})
 * are also run on direct native-order byte buffers holding the same values.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TileKernelsTest {
    private static final int[] LENGTHS = {1, 7, 8, 9, 15, 1000, 1023, 1024, 1025, 2047, 3071, 4095, 4096};
    private static final int[] OFFSETS = {0, 3, 13};

    private static void assumeVector() {
        assumeTrue(KernelProvider.vectorUnusableReason() == null, "Vector API kernels not available on this JVM/CPU");
    }

    private SquaresKernels[] both() {
        assumeVector();
        return new SquaresKernels[] {ScalarSquaresKernels.INSTANCE, VectorSquaresKernels.INSTANCE};
    }

    private LarsKernels[] bothLars() {
        assumeVector();
        return new LarsKernels[] {ScalarLarsKernels.INSTANCE, VectorLarsKernels.INSTANCE};
    }

    private LambKernels[] bothLamb() {
        assumeVector();
        return new LambKernels[] {ScalarLambKernels.INSTANCE, VectorLambKernels.INSTANCE};
    }

    @Test
    void theTestJvmGetsTheVectorKernelsWhereTheCpuAllows() {
        assertTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(),
                "surefire's argLine must pass --add-modules jdk.incubator.vector");
        if (KernelProvider.vectorUnusableReason() != null) {
            // Only a CPU without 256-bit vectors may send us to the scalar kernels here.
            assertTrue(FloatVectorWidth.bits() < 256, "scalar kernels chosen although the module is enabled");
        } else {
            assertSame(VectorSquaresKernels.INSTANCE, SquaresKernels.select());
            assertSame(VectorLarsKernels.INSTANCE, LarsKernels.select());
            assertSame(VectorLambKernels.INSTANCE, LambKernels.select());
        }
    }

    @Test
    void theVectorKernelsReadByteBuffersInPlaceOnlyWhereTheJdkCanLoadVectorsFromThem() {
        // FloatVector.fromByteBuffer exists on JDK 17-19 and is gone from JDK 20 on (memory
        // segments replace it): calling it there is a NoSuchMethodError, so the plan must copy.
        assumeVector();
        assertEquals(Runtime.version().feature() < 20, VectorSquaresKernels.INSTANCE.readsByteBuffers());
        assertEquals(Runtime.version().feature() < 20, VectorLarsKernels.INSTANCE.readsByteBuffers());
    }

    @Test
    void thePropertyChoosesAndRejectsBadValues() {
        try {
            System.setProperty(KernelProvider.PROPERTY, "scalar");
            assertSame(ScalarSquaresKernels.INSTANCE, SquaresKernels.select());
            assertSame(ScalarLarsKernels.INSTANCE, LarsKernels.select());
            assertSame(ScalarLambKernels.INSTANCE, LambKernels.select());
            System.setProperty(KernelProvider.PROPERTY, "simd");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, SquaresKernels::select);
            assertTrue(e.getMessage().contains(KernelProvider.PROPERTY) && e.getMessage().contains("simd"), e.getMessage());
        } finally {
            System.clearProperty(KernelProvider.PROPERTY);
        }
        assertSame(SquaresKernels.select(), SquaresKernels.select());
    }

    /** Random values with a sprinkling of the edge cases, at scale {@code s}. */
    private static float[] data(long seed, int n, double s, boolean edges) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, Float.MIN_VALUE,
            -Float.MIN_NORMAL / 3, 3e19f, -2e30f, Float.MAX_VALUE};
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * s * Math.exp(r.nextGaussian()));
            if (edges && r.nextInt(97) == 0) x[i] = special[r.nextInt(special.length)];
        }
        return x;
    }

    /** Step 1 as documented: lane i accumulates fma(x, x, a) over elements i + 1024 r, from +0. */
    private static float[] documentedLanes(float[] x, int off, int n) {
        float[] a = new float[1024];
        for (int i = 0; i < 1024; i++) {
            for (int r = 0; r < 4; r++) {
                int e = i + 1024 * r;
                if (e < n) a[i] = Math.fma(x[off + e], x[off + e], a[i]);
            }
        }
        return a;
    }

    private static int[] bits(float[] x) {
        int[] b = new int[x.length];
        for (int i = 0; i < x.length; i++) b[i] = Float.floatToIntBits(x[i]); // NaNs alike, -0 != +0
        return b;
    }

    /** The kernels read byte buffers in native order only (the plan copies the other order). */
    private static final ByteOrder[] ORDERS = {ByteOrder.nativeOrder()};

    /** A direct byte buffer holding x as float32 in {@code order}. */
    private static ByteBuffer bytes(float[] x, ByteOrder order) {
        ByteBuffer b = ByteBuffer.allocateDirect(4 * x.length).order(order);
        for (int i = 0; i < x.length; i++) b.putFloat(4 * i, x[i]);
        return b;
    }

    private static float[] floats(ByteBuffer b) {
        float[] x = new float[b.capacity() / 4];
        for (int i = 0; i < x.length; i++) x[i] = b.getFloat(4 * i);
        return x;
    }

    private static float[] garbageLanes() {
        float[] l = new float[1024];
        Arrays.fill(l, 12345f);   // a kernel must set every lane, not accumulate onto what is there
        return l;
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void squaresAreTheDocumentedLanes(boolean edges) {
        for (SquaresKernels k : both()) {
            for (int n : LENGTHS) {
                for (int off : OFFSETS) {
                    float[] x = data(n * 31L + off, off + n + 5, 1.0, edges);
                    float[] w = data(n * 37L + off + 1, off + n + 5, 0.1, edges);
                    float[] want = documentedLanes(x, off, n);
                    String at = k.name() + " n=" + n + " off=" + off;
                    float[] l = garbageLanes();
                    k.squares(l, x, off, n);
                    assertArrayEquals(bits(want), bits(l), at);
                    float[] lw = garbageLanes();
                    float[] lg = garbageLanes();
                    k.squaresWG(lw, lg, w, null, off + 2, x, null, off, n);
                    assertArrayEquals(bits(documentedLanes(w, off + 2, n)), bits(lw), at + " WG/w");
                    assertArrayEquals(bits(want), bits(lg), at + " WG/g");
                    for (float lam : new float[] {0f, 1e-4f, -0.5f}) {
                        float[] u = new float[n];
                        for (int i = 0; i < n; i++) u[i] = Math.fma(lam, w[off + 2 + i], x[off + i]);
                        float[] lu = garbageLanes();
                        lw = garbageLanes();
                        lg = garbageLanes();
                        k.squaresWGU(lw, lg, lu, w, null, off + 2, x, null, off, n, lam);
                        assertArrayEquals(bits(documentedLanes(u, 0, n)), bits(lu), at + " WGU/u lam=" + lam);
                        assertArrayEquals(bits(want), bits(lg), at + " WGU/g");
                        assertArrayEquals(bits(documentedLanes(w, off + 2, n)), bits(lw), at + " WGU/w");
                    }
                    if (!k.readsByteBuffers()) continue;
                    for (ByteOrder order : ORDERS) {
                        String bat = at + " " + order;
                        ByteBuffer xb = bytes(x, order);
                        ByteBuffer wb = bytes(w, order);
                        l = garbageLanes();
                        k.squares(l, null, xb, off, n);
                        assertArrayEquals(bits(want), bits(l), bat);
                        lw = garbageLanes();
                        lg = garbageLanes();
                        k.squaresWG(lw, lg, null, wb, off + 2, null, xb, off, n);
                        assertArrayEquals(bits(documentedLanes(w, off + 2, n)), bits(lw), bat + " WG/w");
                        assertArrayEquals(bits(want), bits(lg), bat + " WG/g");
                        float lam = 1e-4f;
                        float[] u = new float[n];
                        for (int i = 0; i < n; i++) u[i] = Math.fma(lam, w[off + 2 + i], x[off + i]);
                        float[] lu = garbageLanes();
                        lw = garbageLanes();
                        lg = garbageLanes();
                        k.squaresWGU(lw, lg, lu, null, wb, off + 2, null, xb, off, n, lam);
                        assertArrayEquals(bits(documentedLanes(u, 0, n)), bits(lu), bat + " WGU/u");
                        assertArrayEquals(bits(want), bits(lg), bat + " WGU/g");
                        assertArrayEquals(bits(documentedLanes(w, off + 2, n)), bits(lw), bat + " WGU/w");
                        assertArrayEquals(bits(x), bits(floats(xb)), bat + " the norms leave the buffer alone");
                    }
                }
            }
        }
    }

    /** Step 2 as documented, thread by thread: the fold that CanonicalOrder.foldLanes spells out. */
    private static float documentedFold(float[] a) {
        float[] s = new float[256];
        for (int j = 0; j < 256; j++) s[j] = (a[4 * j] + a[4 * j + 1]) + (a[4 * j + 2] + a[4 * j + 3]);
        for (int w = 0; w < 256; w += 32) {
            for (int off = 16; off > 0; off >>= 1) {
                for (int i = 0; i < off; i++) s[w + i] = s[w + i] + s[w + i + off];
            }
        }
        for (int off = 4; off > 0; off >>= 1) {
            for (int i = 0; i < off; i++) s[32 * i] = s[32 * i] + s[32 * (i + off)];
        }
        return s[0];
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void foldIsTheDocumentedTree(boolean edges) {
        for (int t = 0; t < 300; t++) {
            float[] lanes = data(1000 + t, 1024, t % 3 == 0 ? 1e-20 : 1e3, edges);
            float[] copy = lanes.clone();
            float got = CanonicalOrder.foldLanes(lanes);
            assertEquals(Float.floatToIntBits(documentedFold(copy)), Float.floatToIntBits(got), "trial " + t);
            assertArrayEquals(bits(copy), bits(lanes), "the fold leaves the lanes alone");
        }
    }

    private interface Update {
        void run(LarsKernels k, float[] w, ByteBuffer wb, int ow, float[] g, ByteBuffer gb, int og, float[] v, int ov, int n);
    }

    /** The scalar loops of each update, element by element, as ScalarLarsKernels documents them. */
    @ParameterizedTest
    @ValueSource(strings = {"inside", "inside-nesterov", "outside-first", "outside-first-nesterov", "outside", "outside-nesterov"})
    void updatesMatchTheDocumentedElementRule(String kind) {
        boolean nesterov = kind.endsWith("nesterov");
        boolean first = kind.contains("first");
        float lam = 1e-4f, scale = 0.37f, mu = 0.9f, damp1 = 0.75f, negLr = -0.1f;
        Update update = kind.startsWith("inside")
                ? (k, w, wb, ow, g, gb, og, v, ov, n) -> k.updateInside(w, wb, ow, g, gb, og, v, ov, n, lam, scale, mu, nesterov)
                : (k, w, wb, ow, g, gb, og, v, ov, n) ->
                        k.updateOutside(w, wb, ow, g, gb, og, v, ov, n, lam, scale, mu, damp1, negLr, first, nesterov);
        for (LarsKernels k : bothLars()) {
            for (int n : LENGTHS) {
                for (int[] offs : new int[][] {{0, 0, 0}, {5, 5, 5}, {3, 11, 0}}) {  // flat form and list form
                    int len = n + 16;
                    float[] w = data(n + 1, len, 1.0, true);
                    float[] g = data(n + 2, len, 0.01, true);
                    float[] v = data(n + 3, len, 0.1, true);
                    float[] ew = w.clone();
                    float[] ev = v.clone();
                    for (int i = 0; i < n; i++) {
                        float wv = ew[offs[0] + i];
                        float u = Math.fma(lam, wv, g[offs[1] + i]);
                        float vn;
                        float nw;
                        if (kind.startsWith("inside")) {
                            float s = scale * u;
                            vn = Math.fma(mu, ev[offs[2] + i], s);
                            nw = wv - (nesterov ? Math.fma(mu, vn, s) : vn);
                        } else {
                            float d = scale * u;
                            vn = first ? d : Math.fma(mu, ev[offs[2] + i], damp1 * d);
                            nw = Math.fma(negLr, nesterov ? Math.fma(mu, vn, d) : vn, wv);
                        }
                        ev[offs[2] + i] = vn;
                        ew[offs[0] + i] = nw;
                    }
                    float[] v0 = v.clone();
                    ByteBuffer[] wbs = {bytes(w, ORDERS[0])};
                    ByteBuffer[] gbs = {bytes(g, ORDERS[0])};
                    update.run(k, w, null, offs[0], g, null, offs[1], v, offs[2], n);
                    String at = k.name() + " " + kind + " n=" + n + " offsets=" + Arrays.toString(offs);
                    assertArrayEquals(bits(ew), bits(w), at + " w");
                    assertArrayEquals(bits(ev), bits(v), at + " v");
                    if (!k.readsByteBuffers()) continue;
                    for (int o = 0; o < ORDERS.length; o++) {
                        float[] vb = v0.clone();
                        update.run(k, null, wbs[o], offs[0], null, gbs[o], offs[1], vb, offs[2], n);
                        String bat = at + " " + ORDERS[o];
                        assertArrayEquals(bits(ew), bits(floats(wbs[o])), bat + " w");
                        assertArrayEquals(bits(ev), bits(vb), bat + " v");
                        assertArrayEquals(bits(g), bits(floats(gbs[o])), bat + " g untouched");
                    }
                }
            }
        }
    }

    /**
     * LAMB's moments and apply passes against their element rule (ScalarLambKernels' javadoc),
     * lane sums and stored r included; also in rectified LAMB's momentum-only phase (r = m'/bc1).
     */
    @ParameterizedTest
    @CsvSource({"false, false", "true, false", "false, true", "true, true"})
    void lambPassesMatchTheDocumentedElementRule(boolean adamW, boolean momentumOnly) {
        LambKernels.Consts c = new LambKernels.Consts();
        c.clip = 1.7f;
        c.b1 = 0.9f;
        c.b3 = 0.1f;
        c.b2 = 0.999f;
        c.omb2 = 0.001f;
        c.bc1 = 0.271f;
        c.bc2 = 0.00299f;
        c.eps = 1e-6f;
        c.adamW = adamW;
        c.momentumOnly = momentumOnly;
        float lam = 0.01f;
        float negScale = -0.003f;
        for (LambKernels k : bothLamb()) {
            for (int n : LENGTHS) {
                int[] offs = {3, 11, 5};   // w, g, state: the list form's independent offsets
                int len = n + 16;
                float[] w = data(n + 11, len, 1.0, true);
                float[] g = data(n + 12, len, 0.01, true);
                float[] m = data(n + 13, len, 0.001, true);
                float[] v = data(n + 14, len, 1e-6, false);
                for (int i = 0; i < len; i++) v[i] = Math.abs(v[i]);   // a second moment is never negative
                float[] em = m.clone();
                float[] ev = v.clone();
                float[] ew = w.clone();
                float[] er = new float[n + 9];   // r stored at offset 9 - 2 = 7 of a longer buffer
                float[] elr = new float[1024];
                float[] elw = new float[1024];
                for (int e = 0; e < n; e++) {
                    float wv = w[offs[0] + e];
                    float gs = g[offs[1] + e] / c.clip;
                    if (!adamW) gs = Math.fma(lam, wv, gs);
                    float mn = Math.fma(c.b1, em[offs[2] + e], c.b3 * gs);
                    float vn = Math.fma(c.b2, ev[offs[2] + e], c.omb2 * (gs * gs));
                    em[offs[2] + e] = mn;
                    ev[offs[2] + e] = vn;
                    float r = momentumOnly ? mn / c.bc1 : (mn / c.bc1) / ((float) Math.sqrt(vn / c.bc2) + c.eps);
                    if (adamW) r = Math.fma(lam, wv, r);
                    elr[e % 1024] = Math.fma(r, r, elr[e % 1024]);
                    elw[e % 1024] = Math.fma(wv, wv, elw[e % 1024]);
                    er[7 + e] = r;
                    ew[offs[0] + e] = Math.fma(negScale, r, wv);
                }
                float[] lr = new float[1024];
                float[] lw = new float[1024];
                String at = k.name() + (adamW ? " adamW" : " L2") + (momentumOnly ? " momentum only" : "") + " n=" + n;
                float[] rOut = new float[n + 9];
                k.moments(w, offs[0], g, offs[1], m, v, offs[2], n, lam, c, lr, lw, new float[1024], new float[1024], rOut, 7);
                assertArrayEquals(bits(em), bits(m), at + " m");
                assertArrayEquals(bits(ev), bits(v), at + " v");
                assertArrayEquals(bits(elr), bits(lr), at + " r lanes");
                assertArrayEquals(bits(elw), bits(lw), at + " w lanes");
                assertArrayEquals(bits(er), bits(rOut), at + " stored r");
                k.apply(w, offs[0], rOut, 7, n, negScale);
                assertArrayEquals(bits(ew), bits(w), at + " w");
            }
        }
    }
}

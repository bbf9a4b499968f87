package org.lars4j.engine.cpu;

import java.lang.System.Logger.Level;

/**
 * Chooses, for each family of tile loops, between its plain-Java form (always there) and its
 * Vector API form, in the style of Lucene's vectorization provider. Each family is an interface
 * of its own with a {@code select()} that calls {@link #choose}: {@link SquaresKernels} (the sums
 * of squares every rule shares), {@link LarsKernels}, {@link LambKernels}. A new rule's loops are
 * a new interface and its two implementations; nothing here changes.
 *
 * <p>Both forms of a family perform the identical float operations in the identical order of
 * docs/CANONICAL_ORDER.md, so the choice changes speed, never a bit of the result
 * ({@code TileKernelsTest}, {@code KernelChoiceTest}). The Vector API needs
 * {@code --add-modules jdk.incubator.vector} (the ./lars4j launcher, the tests and the
 * benchmarks pass it) and a CPU with 256-bit vectors; without them every family runs its scalar
 * form and the reason is logged once per JVM.
 */
final class KernelProvider {
    /** System property: {@code auto} (default: vector when available) or {@code scalar}. */
    static final String PROPERTY = "lars4j.cpu.kernels";

    private KernelProvider() {}

    /** Null when the Vector API forms can run in this JVM; otherwise why not. Decided and logged once. */
    private static final String VECTOR_UNUSABLE = probe();

    static String vectorUnusableReason() {
        return VECTOR_UNUSABLE;
    }

    /**
     * The form {@link #PROPERTY} and this JVM allow: {@code scalar}, or the instance in the
     * static field {@code INSTANCE} of the class named {@code vectorClass} (loaded only now, by
     * name: it refers to jdk.incubator.vector, which may be absent). The property is read on
     * every call so that tests can switch.
     */
    static <K> K choose(Class<K> family, K scalar, String vectorClass) {
        String mode = System.getProperty(PROPERTY, "auto");
        if (mode.equals("scalar")) return scalar;
        if (!mode.equals("auto")) {
            throw new IllegalArgumentException("system property " + PROPERTY + "=" + mode + ": expected auto or scalar");
        }
        if (VECTOR_UNUSABLE != null) return scalar;
        try {
            return family.cast(Class.forName(vectorClass).getDeclaredField("INSTANCE").get(null));
        } catch (ReflectiveOperationException | LinkageError e) {
            // The probe loaded the Vector API already, so this is a packaging fault: say so, run anyway.
            log("the Vector API form of " + family.getSimpleName() + " did not load: " + e);
            return scalar;
        }
    }

    private static String probe() {
        String why;
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            why = "the Vector API module is not enabled (run java with --add-modules jdk.incubator.vector)";
        } else {
            try {
                // Loaded only now: the class refers to jdk.incubator.vector.
                why = (String) Class.forName("org.lars4j.engine.cpu.VectorKernelSupport").getDeclaredMethod("unusableReason").invoke(null);
            } catch (ReflectiveOperationException | LinkageError e) {
                why = "the Vector API kernels did not load: " + e;
            }
        }
        if (why != null) log(why);
        return why;
    }

    private static void log(String why) {
        System.getLogger("org.lars4j.engine").log(Level.INFO, "lars4j: Java engine uses its scalar tile kernels: " + why);
    }
}

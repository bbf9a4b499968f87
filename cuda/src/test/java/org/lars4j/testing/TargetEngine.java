package org.lars4j.testing;

import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Arrays;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.lars4j.Backend;
import org.lars4j.Engines;

/**
 * An engine a test holds to the Java engine's bits, with the variant of its step chosen by
 * system properties read when a plan is made. The emulator variants must run everywhere (the
 * cuda-emulator engine must build and load in CI: a missing one fails the test); the CUDA ones
 * run where a CUDA device is usable and are skipped with the reason (no GPU, or the CUDA error's
 * name) everywhere else, which is every CI run; bench/gpu/run-gpu-session.sh runs them on a lent
 * GPU machine.
 *
 * <p>Used as the argument of a {@code @ParameterizedTest} in a class extended with
 * {@link EngineUnderTest}, which enters the engine before the test body and restores the
 * properties after it.
 */
public enum TargetEngine {
    /** The emulator's default step: the grouped cooperative step. */
    EMULATOR("cuda-emulator", Backend.CUDA_EMULATOR, Map.of()),
    /** The cooperative step with the whole model as one group. */
    EMULATOR_ONE_GROUP("cuda-emulator one group", Backend.CUDA_EMULATOR, Map.of(Properties.GROUP_ELEMENTS, "0")),
    /** The three-launch step (what a plan falls back to where cooperative launches are refused). */
    EMULATOR_THREE_LAUNCHES("cuda-emulator three launches", Backend.CUDA_EMULATOR, Map.of(Properties.COOPERATIVE, "false")),
    /** A real GPU's default step (the grouped step; how many groups depends on the device's L2). */
    CUDA("cuda", Backend.CUDA, Map.of()),
    CUDA_ONE_GROUP("cuda one group", Backend.CUDA, Map.of(Properties.GROUP_ELEMENTS, "0")),
    CUDA_THREE_LAUNCHES("cuda three launches", Backend.CUDA, Map.of(Properties.COOPERATIVE, "false"));

    /** The system properties that choose a CUDA step variant ({@code engine.cuda.NativeEnginePlan}). */
    public static final class Properties {
        public static final String GROUP_ELEMENTS = "lars4j.cuda.groupElements";
        public static final String COOPERATIVE = "lars4j.cuda.cooperative";

        private Properties() {}
    }

    /**
     * Optional comma-separated backend names ({@code cuda}, {@code cuda-emulator}); where set, the
     * cases of the other targets are skipped (bench/gpu/run-gpu-session.sh runs only the GPU's).
     */
    public static final String ONLY_PROPERTY = "lars4j.test.backends";

    private final String label;
    private final Backend backend;
    private final Map<String, String> properties;

    TargetEngine(String label, Backend backend, Map<String, String> properties) {
        this.label = label;
        this.backend = backend;
        this.properties = properties;
    }

    public Backend backend() { return backend; }

    /** The variant's default step, without properties. */
    public boolean isDefaultStep() { return properties.isEmpty(); }

    /**
     * Makes the engine ready for a test: fails where the emulator cannot load, skips (with the
     * reason) where CUDA cannot run, then sets the variant's properties.
     */
    public void enter() {
        String only = System.getProperty(ONLY_PROPERTY);
        if (only != null) {
            Assumptions.assumeTrue(Arrays.asList(only.split(",")).contains(backend.cliName()),
                    () -> ONLY_PROPERTY + "=" + only + " leaves out " + backend.cliName());
        }
        String why = Engines.unavailableReason(backend);
        if (backend == Backend.CUDA) {
            Assumptions.assumeTrue(why == null, "no GPU here: " + why);
        } else {
            assertNull(why, "the cuda-emulator engine must build and load in CI");
        }
        properties.forEach(System::setProperty);
    }

    /** Clears every property a variant may set. */
    public static void leave() {
        System.clearProperty(Properties.GROUP_ELEMENTS);
        System.clearProperty(Properties.COOPERATIVE);
    }

    /** Every variant: the emulator's three steps and the GPU's three. */
    public static Stream<TargetEngine> all() { return Stream.of(values()); }

    /** The default step on the emulator and on a GPU. */
    public static Stream<TargetEngine> defaultSteps() { return Stream.of(EMULATOR, CUDA); }

    @Override
    public String toString() { return label; }
}

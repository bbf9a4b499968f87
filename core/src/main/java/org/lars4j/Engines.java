package org.lars4j;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicBoolean;
import org.lars4j.engine.Engine;
import org.lars4j.error.BackendUnavailableException;

/**
 * Engine discovery and selection. Every engine registers through
 * {@code META-INF/services/org.lars4j.engine.Engine} (the Java engine, in the core artifact, is
 * always there) and says whether it can run here.
 * {@code AUTO} takes CUDA when it can run and otherwise logs why it fell back to the Java engine (once, at
 * {@code DEBUG}, i.e. java.util.logging FINE).
 */
public final class Engines {
    private static final System.Logger LOG = System.getLogger("org.lars4j.engine");
    private static final List<Engine> ALL = discover();
    private static final Engine CPU = find(Backend.CPU.cliName());
    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

    private Engines() {}

    /** Every engine this build knows, the Java engine first. */
    public static List<Engine> all() { return ALL; }

    private static List<Engine> discover() {
        List<Engine> out = new ArrayList<>();
        for (Engine e : ServiceLoader.load(Engine.class, Engines.class.getClassLoader())) {
            if (e.name().equals(Backend.CPU.cliName())) out.add(0, e);
            else out.add(e);
        }
        if (out.isEmpty() || !out.get(0).name().equals(Backend.CPU.cliName())) {
            throw new IllegalStateException("the Java engine is not registered (META-INF/services/org.lars4j.engine.Engine of lars4j-core)");
        }
        return List.copyOf(out);
    }

    /** The engine registered under {@code name}, or null. */
    public static Engine find(String name) {
        for (Engine e : ALL) {
            if (e.name().equals(name)) return e;
        }
        return null;
    }

    /** Lets a test see the once-per-JVM fall-back message again. */
    static void resetFallbackLogForTests() { FALLBACK_LOGGED.set(false); }

    /** Why {@code backend} cannot run here, or null if it can. */
    public static String unavailableReason(Backend backend) {
        if (backend == Backend.AUTO || backend == Backend.CPU) return null;
        Engine e = find(backend.cliName());
        if (e == null) return "this build of lars4j has no " + backend.cliName() + " engine";
        return e.unavailableReason();
    }

    /**
     * The engine for {@code backend}.
     *
     * @throws BackendUnavailableException if an explicitly requested engine cannot run here
     */
    public static Engine select(Backend backend) {
        if (backend == null) throw new BackendUnavailableException("backend is null");
        switch (backend) {
            case CPU:
                return CPU;
            case AUTO: {
                String why = unavailableReason(Backend.CUDA);
                if (why == null) return find(Backend.CUDA.cliName());
                // A library is quiet unless asked: FINE (java.util.logging), once per JVM, not on
                // every build; raise logger org.lars4j.engine to FINE to see it.
                if (FALLBACK_LOGGED.compareAndSet(false, true)) {
                    LOG.log(Level.DEBUG, "lars4j: CUDA engine not used ({0}); falling back to the Java engine", why);
                }
                return CPU;
            }
            default: {
                String why = unavailableReason(backend);
                if (why != null) throw new BackendUnavailableException(backend.cliName() + " engine unavailable: " + why);
                return find(backend.cliName());
            }
        }
    }
}

package org.lars4j.engine;

import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.Rule;

/**
 * A backend that runs optimizer steps: the pure-Java engine, CUDA, or the CUDA kernels on the
 * SIMT emulator. Engines are found through {@link java.util.ServiceLoader} (except the Java
 * engine, which is built in) and chosen by {@code org.lars4j.Engines.select}.
 */
public interface Engine {
    /** {@code cpu}, {@code cuda} or {@code cuda-emulator}. */
    String name();

    /** {@code null} if this engine can run here; otherwise a one-line reason it cannot. */
    String unavailableReason();

    /**
     * Plans {@code rule} for {@code layout} (flags already resolved): every table, buffer and
     * launch shape is made here, so that {@link EnginePlan#step} allocates nothing.
     *
     * @throws org.lars4j.error.BackendUnavailableException if this engine cannot run {@code config}
     */
    EnginePlan plan(Rule rule, ParamLayout layout, int threads);
}

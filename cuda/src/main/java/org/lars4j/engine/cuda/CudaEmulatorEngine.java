package org.lars4j.engine.cuda;

import org.lars4j.engine.Engine;
import org.lars4j.engine.EnginePlan;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.Rule;

/**
 * The CUDA kernel source compiled by g++ and run on the project's SIMT emulator: the same plan,
 * tables and launches as on a GPU, with host memory as device memory. Slow; for conformance
 * checks and for debugging kernels without a GPU.
 */
public final class CudaEmulatorEngine implements Engine {
    /** The order in which the emulator runs a block's threads between synchronisation points. */
    public enum Schedule { FORWARD, REVERSE, SHUFFLED }

    @Override public String name() { return "cuda-emulator"; }

    @Override public String unavailableReason() { return NativeEngines.loadFailure(); }

    /**
     * Selects the fiber schedule of every later emulated launch, process-wide. Correct kernels
     * give the same bits under every schedule; a race or a missing barrier does not.
     */
    public static void setSchedule(Schedule schedule, int seed) {
        NativeLars.setEmulatorSchedule(schedule.ordinal(), seed);
    }

    @Override
    public EnginePlan plan(Rule config, ParamLayout layout, int threads) {
        String why = unavailableReason();
        if (why != null) throw new BackendUnavailableException("cuda-emulator engine unavailable: " + why);
        return NativeEnginePlan.create(name(), NativeEnginePlan.KIND_EMULATOR, config, layout);
    }
}

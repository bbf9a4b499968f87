package org.lars4j.engine.cuda;

import org.lars4j.engine.Engine;
import org.lars4j.engine.EnginePlan;
import org.lars4j.error.BackendUnavailableException;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.Rule;

/** The CUDA kernels on a GPU, through the JNI library (cudart linked statically). */
public final class CudaEngine implements Engine {
    @Override public String name() { return "cuda"; }

    @Override
    public String unavailableReason() {
        String load = NativeEngines.loadFailure();
        if (load != null) return load;
        int code = NativeLars.cudaAvailability();
        if (code == 0) return null;
        String name = NativeLars.cudaErrorNameOf(code);
        if (code == 100000) return "this build has no CUDA kernels (nvcc was not on the PATH when it was built)";
        if (code == 35) return "no CUDA driver on this machine (" + name + ")";
        if (code == 100) return "no CUDA device on this machine (" + name + ")";
        return "CUDA is not usable here: " + name + " (" + code + ")";
    }

    @Override
    public EnginePlan plan(Rule config, ParamLayout layout, int threads) {
        String why = unavailableReason();
        if (why != null) throw new BackendUnavailableException("cuda engine unavailable: " + why);
        return NativeEnginePlan.create(name(), NativeEnginePlan.KIND_CUDA, config, layout);
    }
}

package org.lars4j;

/** Which engine runs the steps. */
public enum Backend {
    /** CUDA when it is usable here, otherwise the Java engine; the reason for a fall-back is logged. */
    AUTO,
    /** The pure-Java multi-threaded engine. */
    CPU,
    /** The CUDA kernels on a GPU. */
    CUDA,
    /** The same CUDA kernel source compiled for the CPU and run on the project's SIMT emulator. */
    CUDA_EMULATOR;

    /** Parses {@code auto | cpu | cuda | cuda-emulator} (case-insensitive). */
    public static Backend parse(String s) {
        for (Backend b : values()) {
            if (b.cliName().equalsIgnoreCase(s)) return b;
        }
        throw new IllegalArgumentException("unknown backend '" + s + "' (expected auto, cpu, cuda or cuda-emulator)");
    }

    public String cliName() { return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'); }
}

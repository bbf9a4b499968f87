package org.lars4j.error;

/** A native engine call failed; carries the CUDA error name (or the emulator's fault). */
public class NativeEngineException extends RuntimeException {
    private final int errorCode;
    private final String errorName;

    public NativeEngineException(String what, int errorCode, String errorName) {
        super(what + " failed: " + errorName + " (" + errorCode + ")");
        this.errorCode = errorCode;
        this.errorName = errorName;
    }

    /** The cudaError_t value, or the emulator's code. */
    public int errorCode() { return errorCode; }

    /** E.g. {@code cudaErrorInsufficientDriver}. */
    public String errorName() { return errorName; }
}

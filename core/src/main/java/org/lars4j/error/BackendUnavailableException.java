package org.lars4j.error;

/** The requested engine cannot run here; the message says why (no native library, no driver, ...). */
public class BackendUnavailableException extends RuntimeException {
    public BackendUnavailableException(String message) { super(message); }
    public BackendUnavailableException(String message, Throwable cause) { super(message, cause); }
}

package org.lars4j.error;

/**
 * Tensors handed to a step do not match the optimizer's layout: wrong count, wrong length,
 * null, read-only where they must be written, or the same memory passed twice.
 */
public class TensorMismatchException extends IllegalArgumentException {
    public TensorMismatchException(String message) { super(message); }
}

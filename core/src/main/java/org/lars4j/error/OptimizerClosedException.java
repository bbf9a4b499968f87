package org.lars4j.error;

/** The optimizer was closed; its engine resources are released and it can no longer step. */
public class OptimizerClosedException extends IllegalStateException {
    public OptimizerClosedException(String message) { super(message); }
}

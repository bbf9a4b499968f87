package org.lars4j.error;

/** A hyperparameter (or a learning rate produced by a schedule) is NaN, infinite or out of range. */
public class InvalidHyperparameterException extends IllegalArgumentException {
    public InvalidHyperparameterException(String message) { super(message); }
}

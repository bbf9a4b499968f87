package org.lars4j.error;

/** A parameter layout is malformed: empty, a duplicate or empty name, a bad shape, a bad rule. */
public class InvalidLayoutException extends IllegalArgumentException {
    public InvalidLayoutException(String message) { super(message); }
}

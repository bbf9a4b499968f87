package org.lars4j.io;

import java.io.IOException;

/** A safetensors file violates the format; the message names the file and the problem. */
public class SafetensorsFormatException extends IOException {
    public SafetensorsFormatException(String message) { super(message); }
}

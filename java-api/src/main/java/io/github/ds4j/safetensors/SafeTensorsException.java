package io.github.ds4j.safetensors;

import io.github.ds4j.Ds4jException;

/** A safetensors file is malformed or does not hold what was asked; the message names the file and tensor. */
public class SafeTensorsException extends Ds4jException {
    public SafeTensorsException(String message) {
        super(message);
    }

    public SafeTensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}

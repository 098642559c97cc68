package io.github.ds4j;

/** Base of the exceptions ds4j throws for failures other than bad arguments. */
public class Ds4jException extends RuntimeException {
    public Ds4jException(String message) {
        super(message);
    }

    public Ds4jException(String message, Throwable cause) {
        super(message, cause);
    }
}

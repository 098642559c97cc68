package io.github.ds4j;

/** A backend or device was asked for and is not there; the message says why. */
public class BackendUnavailableException extends Ds4jException {
    public BackendUnavailableException(String message) {
        super(message);
    }

    public BackendUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}

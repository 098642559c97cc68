package io.github.ds4j.internal.json;

/** Malformed JSON; the message gives the offset. */
public final class JsonException extends IllegalArgumentException {
    public JsonException(String message) {
        super(message);
    }
}

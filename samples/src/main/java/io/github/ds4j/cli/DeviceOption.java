package io.github.ds4j.cli;

import io.github.ds4j.Compute;
import picocli.CommandLine.Option;

/** The {@code --device} flag every command that computes shares. */
public final class DeviceOption {
    @Option(names = "--device", paramLabel = "D", defaultValue = "auto",
            description = "cpu, cuda, cuda:N, ascend, ascend:N or auto (the best device present; default: ${DEFAULT-VALUE}).")
    String device;

    /** The device string as given. */
    public String value() {
        return device;
    }

    /**
     * Opens the device; an absent one fails with {@link io.github.ds4j.BackendUnavailableException}
     * carrying the one-line reason, a malformed name with {@link IllegalArgumentException}.
     */
    public Compute open() {
        String d = device.trim();
        if (d.isEmpty()) {
            throw new IllegalArgumentException("--device: expected cpu, cuda[:N], ascend[:N] or auto, got an empty string");
        }
        try {
            return Compute.open(d);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--device: " + e.getMessage() + " (or auto)", e);
        }
    }
}

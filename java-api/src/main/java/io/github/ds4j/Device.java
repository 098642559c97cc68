package io.github.ds4j;

import java.util.Locale;

/**
 * A device: its kind and ordinal. Parsed from the command-line form {@code cpu}, {@code cuda},
 * {@code cuda:1}, {@code ascend:0}; {@code auto} is not a device but a request and is handled by
 * {@link Compute#open(String)}.
 */
public record Device(DeviceKind kind, int ordinal) {
    /** The host CPU. */
    public static final Device CPU = new Device(DeviceKind.CPU, 0);

    public Device {
        if (kind == null) {
            throw new IllegalArgumentException("device kind must not be null");
        }
        if (ordinal < 0) {
            throw new IllegalArgumentException("device ordinal must be >= 0, got " + ordinal);
        }
    }

    /** The CUDA device with this ordinal. */
    public static Device cuda(int ordinal) {
        return new Device(DeviceKind.CUDA, ordinal);
    }

    /** Parses "cpu", "cuda", "cuda:N", "ascend", "ascend:N". */
    public static Device parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("device: must not be null");
        }
        String t = text.trim().toLowerCase(Locale.ROOT);
        String name = t;
        int ordinal = 0;
        int colon = t.indexOf(':');
        if (colon >= 0) {
            name = t.substring(0, colon);
            String digits = t.substring(colon + 1);
            // Integer.parseInt would also take a sign and non-ASCII digits
            if (digits.isEmpty() || digits.length() > 9 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new IllegalArgumentException("bad device \"" + text
                        + "\": expected a device number (0, 1, ...) after ':', got \"" + digits + "\"");
            }
            ordinal = Integer.parseInt(digits);
        }
        for (DeviceKind k : DeviceKind.values()) {
            if (k.id().equals(name)) {
                if (k == DeviceKind.CPU && ordinal != 0) {
                    throw new IllegalArgumentException("bad device \"" + text + "\": there is one CPU device, cpu:0");
                }
                return new Device(k, ordinal);
            }
        }
        throw new IllegalArgumentException("bad device \"" + text + "\": expected cpu, cuda[:N] or ascend[:N]");
    }

    /** True for the host CPU, whose memory Java can read directly. */
    public boolean isHost() {
        return kind == DeviceKind.CPU;
    }

    @Override
    public String toString() {
        return kind == DeviceKind.CPU ? "cpu" : kind.id() + ":" + ordinal;
    }
}

package io.github.ds4j.spi;

import java.util.List;

/**
 * What a provider found: its devices, or the reason it has none ("no CUDA driver (libcuda.so.1
 * not found)"), plus free-form details for {@code ds4j info} (driver and kernel versions).
 */
public record Probe(List<DeviceInfo> devices, String reason, List<String> details) {
    public Probe {
        devices = List.copyOf(devices);
        details = List.copyOf(details);
    }

    public static Probe available(List<DeviceInfo> devices, List<String> details) {
        return new Probe(devices, null, details);
    }

    public static Probe unavailable(String reason) {
        return new Probe(List.of(), reason, List.of());
    }

    public boolean isAvailable() {
        return reason == null && !devices.isEmpty();
    }
}

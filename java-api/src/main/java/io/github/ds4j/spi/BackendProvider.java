package io.github.ds4j.spi;

import io.github.ds4j.DeviceKind;

/**
 * Found through {@link java.util.ServiceLoader}: one per backend artifact. Probing must never
 * crash the JVM: a missing driver is reported through {@link Probe#unavailable(String)}.
 */
public interface BackendProvider {

    /** The kind of device this provider drives. */
    DeviceKind kind();

    /** Looks for the driver and devices; cheap enough to call from {@code ds4j info}. */
    Probe probe();

    /** Opens device {@code ordinal}; throws {@link io.github.ds4j.BackendUnavailableException} with the reason if it cannot. */
    Backend open(int ordinal);
}

package io.github.ds4j.spi;

import io.github.ds4j.Device;

/** A device as {@code ds4j info} lists it. {@code capability} is e.g. "sm_90" or "AVX-512 x16". */
public record DeviceInfo(Device device, String name, long memoryBytes, String capability) {
}

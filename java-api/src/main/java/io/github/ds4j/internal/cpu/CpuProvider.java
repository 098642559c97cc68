package io.github.ds4j.internal.cpu;

import io.github.ds4j.BackendUnavailableException;
import io.github.ds4j.Device;
import io.github.ds4j.DeviceKind;
import io.github.ds4j.spi.Backend;
import io.github.ds4j.spi.BackendProvider;
import io.github.ds4j.spi.DeviceInfo;
import io.github.ds4j.spi.Probe;

import java.util.List;

/** Registers the CPU backend; always available. */
public final class CpuProvider implements BackendProvider {
    @Override
    public DeviceKind kind() {
        return DeviceKind.CPU;
    }

    @Override
    public Probe probe() {
        String arch = System.getProperty("os.arch");
        int cores = Runtime.getRuntime().availableProcessors();
        long mem = Runtime.getRuntime().maxMemory();
        // The code path (SIMD width, threads) is not a property of the device: ds4j info prints it once, apart.
        return Probe.available(List.of(new DeviceInfo(Device.CPU, cores + " cores", mem, arch)), List.of());
    }

    @Override
    public Backend open(int ordinal) {
        if (ordinal != 0) {
            throw new BackendUnavailableException("there is one CPU device, cpu:0; asked for cpu:" + ordinal);
        }
        return CpuBackend.shared();
    }
}

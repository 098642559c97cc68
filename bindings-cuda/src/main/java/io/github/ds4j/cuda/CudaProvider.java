package io.github.ds4j.cuda;

import io.github.ds4j.BackendUnavailableException;
import io.github.ds4j.DeviceKind;
import io.github.ds4j.cuda.internal.CudaBackend;
import io.github.ds4j.cuda.internal.CudaDriver;
import io.github.ds4j.cuda.internal.CudaProbe;
import io.github.ds4j.spi.Backend;
import io.github.ds4j.spi.BackendProvider;
import io.github.ds4j.spi.DeviceInfo;
import io.github.ds4j.spi.Probe;

/**
 * The CUDA backend provider, found by {@link java.util.ServiceLoader}. Probing looks for the
 * driver library ({@code libcuda.so.1}) at run time and never fails the JVM: without it the probe
 * says "no CUDA driver (libcuda.so.1 not found)" and the CPU keeps working. Devices of compute
 * capability 8.0 and newer can be opened.
 */
public final class CudaProvider implements BackendProvider {
    private final String library;

    /** The provider of the driver library the bindings use ({@code -Dds4j.cuda.library}, default libcuda.so.1). */
    public CudaProvider() {
        this(CudaDriver.LIBRARY);
    }

    /** A provider that looks for the driver under another library name (tests of a missing driver). */
    CudaProvider(String library) {
        this.library = library;
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.CUDA;
    }

    @Override
    public Probe probe() {
        return CudaProbe.probe(library);
    }

    @Override
    public Backend open(int ordinal) {
        if (ordinal < 0) {
            throw new IllegalArgumentException("ordinal: must be >= 0, got " + ordinal);
        }
        Probe p = probe();
        if (!p.isAvailable()) {
            throw new BackendUnavailableException("cuda:" + ordinal + " is not available: " + p.reason());
        }
        if (ordinal >= p.devices().size()) {
            throw new BackendUnavailableException("cuda:" + ordinal + " is not available: " + p.devices().size()
                    + " CUDA device(s) present");
        }
        DeviceInfo d = p.devices().get(ordinal);
        if (d.capability().contains("unsupported")) {
            throw new BackendUnavailableException("cuda:" + ordinal + " (" + d.name() + ", " + d.capability()
                    + ") cannot run ds4j's kernels");
        }
        return CudaBackend.open(ordinal);
    }
}

package io.github.ds4j.cuda.internal;

import io.github.ds4j.Device;
import io.github.ds4j.cuda.CudaException;
import io.github.ds4j.spi.DeviceInfo;
import io.github.ds4j.spi.Probe;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** What {@code ds4j info} shows about CUDA: the driver, each device, whether the kernels are in the jar. */
public final class CudaProbe {
    /** Oldest compute capability the kernels are built for (sm_80). */
    public static final int MIN_CAPABILITY = 80;

    private static final Object INIT_LOCK = new Object();
    private static Integer initStatus;

    private CudaProbe() {
    }

    /**
     * Probes the driver {@code library} (normally {@link CudaDriver#LIBRARY}; another name only
     * checks that the library is present, for tests) and its devices. Never throws for a missing
     * driver or device: those become {@link Probe#unavailable} reasons.
     */
    public static Probe probe(String library) {
        var problem = CudaDriver.libraryProblem(library);
        if (problem.isPresent()) {
            return Probe.unavailable(problem.get());
        }
        if (!library.equals(CudaDriver.LIBRARY)) {
            return Probe.unavailable("the CUDA bindings use " + CudaDriver.LIBRARY + "; run with -Dds4j.cuda.library="
                    + library + " to use " + library);
        }
        int rc = initialize();
        if (rc != CudaDriver.CUDA_SUCCESS) {
            CudaException e = CudaDriver.error(rc, "cuInit");
            return Probe.unavailable("CUDA driver found, but no usable device: " + e.getMessage());
        }
        int version = CudaDriver.driverVersion();
        int count = CudaDriver.deviceCount();
        if (count == 0) {
            return Probe.unavailable("CUDA driver " + CudaBackend.versionString(version) + " found, but no CUDA device");
        }
        List<DeviceInfo> devices = new ArrayList<>();
        List<String> details = new ArrayList<>();
        details.add("driver: CUDA " + CudaBackend.versionString(version) + " (" + CudaDriver.LIBRARY + ")");
        details.add(KernelImages.describe());
        for (int i = 0; i < count; i++) {
            DeviceProperties p = DeviceProperties.read(i);
            String capability = p.smName() + (p.computeCapability() < MIN_CAPABILITY ? " (unsupported: ds4j needs sm_80 or newer)" : "");
            devices.add(new DeviceInfo(Device.cuda(i), p.name(), p.totalMemory(), capability));
            details.add(String.format(Locale.ROOT, "cuda:%d: %s, %.1f GiB, %s, %d SMs, %d MiB L2, %d KiB shared memory per block",
                    i, p.name(), p.totalMemory() / (double) (1L << 30), p.smName(), p.multiprocessors(),
                    p.l2Bytes() >> 20, p.maxSharedPerBlockOptin() >> 10));
        }
        return Probe.available(devices, details);
    }

    /** cuInit once per process; later calls return the first status. */
    public static int initialize() {
        synchronized (INIT_LOCK) {
            if (initStatus == null) {
                initStatus = CudaDriver.init();
            }
            return initStatus;
        }
    }
}

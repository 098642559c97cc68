package io.github.ds4j.cuda;

import io.github.ds4j.BackendUnavailableException;
import io.github.ds4j.Backends;
import io.github.ds4j.Compute;
import io.github.ds4j.Device;
import io.github.ds4j.DeviceKind;
import io.github.ds4j.cuda.internal.CudaDriver;
import io.github.ds4j.spi.BackendProvider;
import io.github.ds4j.spi.Probe;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What a machine without the CUDA driver sees: clear reasons, no crash, the CPU still works. */
class CudaProviderWithoutDriverTest {
    private static final String ABSENT = "libds4j-absent-cuda-driver.so.1";

    private static boolean driverAbsent() {
        return CudaDriver.unavailableReason().isPresent();
    }

    @Test
    void probeOfAMissingLibraryNamesIt() {
        Probe p = new CudaProvider(ABSENT).probe();
        assertFalse(p.isAvailable());
        assertTrue(p.devices().isEmpty());
        assertEquals("no CUDA driver (" + ABSENT + " not found)", p.reason());
    }

    @Test
    void probeWithoutLibcudaSaysExactlyWhy() {
        assumeTrue(driverAbsent(), "libcuda.so.1 is present on this machine");
        assertEquals("no CUDA driver (libcuda.so.1 not found)", new CudaProvider().probe().reason());
    }

    @Test
    void computeOpenCudaThrowsTheProbeReasonAndTheCpuStillWorks() {
        assumeTrue(driverAbsent(), "libcuda.so.1 is present on this machine");
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Compute.open("cuda"));
        assertTrue(e.getMessage().contains("no CUDA driver (libcuda.so.1 not found)"), e.getMessage());
        assertThrows(BackendUnavailableException.class, () -> Compute.open("cuda:1"));
        assertEquals(Device.CPU, Backends.best());
        try (Compute cpu = Compute.open("auto")) {
            assertEquals(Device.CPU, cpu.device());
        }
    }

    @Test
    void openOfAMissingDriverThrowsTheReason() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> new CudaProvider(ABSENT).open(0));
        assertEquals("cuda:0 is not available: no CUDA driver (" + ABSENT + " not found)", e.getMessage());
    }

    @Test
    void openRejectsANegativeOrdinalBeforeProbing() {
        assertThrows(IllegalArgumentException.class, () -> new CudaProvider(ABSENT).open(-1));
    }

    @Test
    void driverCallsWithoutTheLibraryThrowTheReasonInsteadOfCrashing() {
        assumeTrue(driverAbsent(), "libcuda.so.1 is present on this machine");
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, CudaDriver::deviceCount);
        assertEquals("no CUDA driver (libcuda.so.1 not found)", e.getMessage());
        assertThrows(BackendUnavailableException.class, () -> CudaDriver.memAlloc(16));
    }

    @Test
    void theProviderIsFoundThroughServiceLoader() {
        BackendProvider p = Backends.providers().stream().filter(q -> q.kind() == DeviceKind.CUDA).findFirst().orElseThrow();
        assertTrue(p instanceof CudaProvider, p.getClass().getName());
        // whatever the machine has, probing never throws
        Probe probe = Backends.probeAll().get(DeviceKind.CUDA);
        assertTrue(probe.isAvailable() || probe.reason() != null);
    }
}

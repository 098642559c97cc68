package io.github.ds4j;

import io.github.ds4j.spi.BackendProvider;
import io.github.ds4j.spi.Probe;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Only ds4j-api is on this module's test class path: the CPU backend and nothing else. */
class BackendsTest {
    @Test
    void theCpuBackendIsAlwaysFoundAndOpens() {
        assertTrue(Backends.providers().stream().map(BackendProvider::kind).anyMatch(k -> k == DeviceKind.CPU));
        Map<DeviceKind, Probe> probes = Backends.probeAll();
        assertEquals(DeviceKind.values().length, probes.size(), "every kind is reported");
        assertTrue(probes.get(DeviceKind.CPU).isAvailable());
        assertEquals(Device.CPU, Backends.best());
        try (Compute cpu = Compute.open("cpu"); Compute auto = Compute.open(" AUTO ")) {
            assertEquals(Device.CPU, cpu.device());
            assertEquals(Device.CPU, auto.device());
            assertTrue(cpu.description().startsWith("CPU"), cpu.description());
        }
    }

    @Test
    void absentBackendsSayWhyInsteadOfFallingBack() {
        Probe cuda = Backends.probeAll().get(DeviceKind.CUDA);
        assertFalse(cuda.isAvailable());
        assertTrue(cuda.reason().contains("ds4j-cuda"), cuda.reason());
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Compute.open("cuda:1"));
        assertTrue(e.getMessage().contains("no cuda backend") && e.getMessage().contains("ds4j-cuda"), e.getMessage());
        assertThrows(BackendUnavailableException.class, () -> Backends.open(new Device(DeviceKind.ASCEND, 0)));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Compute.open("tpu"));
        assertTrue(bad.getMessage().contains("\"tpu\""), bad.getMessage());
    }
}

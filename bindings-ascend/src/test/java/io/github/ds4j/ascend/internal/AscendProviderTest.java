package io.github.ds4j.ascend.internal;

import io.github.ds4j.BackendUnavailableException;
import io.github.ds4j.Backends;
import io.github.ds4j.Compute;
import io.github.ds4j.DeviceKind;
import io.github.ds4j.spi.BackendProvider;
import io.github.ds4j.spi.Probe;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AscendProviderTest {
    private static final String MISSING = "libascendcl-ds4j-test-missing.so";

    @Test
    void absentRuntimeIsReportedAsAReasonNotAnError() {
        AscendProvider p = new AscendProvider(List.of(MISSING, "/nonexistent/lib64/libascendcl.so"), AscendProvider.PROBE_SYMBOL);
        Probe probe = p.probe();
        assertFalse(probe.isAvailable());
        assertTrue(probe.devices().isEmpty());
        assertEquals("no Ascend runtime (libascendcl.so not found)", probe.reason());
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> p.open(0));
        assertEquals("ascend:0 is not available: no Ascend runtime (libascendcl.so not found)", e.getMessage());
    }

    @Test
    void aLibraryWithoutAclInitIsNotTakenForTheRuntime() {
        // libc loads but exports no aclInit: still no runtime.
        AscendProvider p = new AscendProvider(List.of("libc.so.6"), AscendProvider.PROBE_SYMBOL);
        assertEquals(AscendProvider.ABSENT, p.probe().reason());
    }

    @Test
    void presentRuntimeSaysPlainlyThatThereAreNoKernels() {
        // Stand-in for libascendcl.so: a library that loads and exports the probe symbol.
        AscendProvider p = new AscendProvider(List.of(MISSING, "libc.so.6"), "malloc");
        Probe probe = p.probe();
        assertFalse(probe.isAvailable());
        assertTrue(probe.reason().contains("libc.so.6") && probe.reason().contains("no Ascend kernels yet"), probe.reason());
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> p.open(1));
        assertTrue(e.getMessage().startsWith("ascend:1 is not available: ") && e.getMessage().contains("no Ascend kernels yet"), e.getMessage());
    }

    @Test
    void serviceLoaderFindsTheProviderAndAscendIsNeverOffered() {
        BackendProvider p = Backends.providers().stream().filter(q -> q.kind() == DeviceKind.ASCEND).findFirst().orElseThrow();
        assertInstanceOf(AscendProvider.class, p);
        Probe probe = Backends.probeAll().get(DeviceKind.ASCEND);
        assertFalse(probe.isAvailable());
        assertTrue(probe.reason().equals(AscendProvider.ABSENT) || probe.reason().contains("no Ascend kernels yet"), probe.reason());
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Compute.open("ascend"));
        assertTrue(e.getMessage().contains(probe.reason()), e.getMessage());
        assertEquals(DeviceKind.CPU, Backends.best().kind());
    }
}

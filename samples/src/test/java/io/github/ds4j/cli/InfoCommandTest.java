package io.github.ds4j.cli;

import io.github.ds4j.Backends;
import io.github.ds4j.DeviceKind;
import io.github.ds4j.internal.cpu.CpuPath;
import io.github.ds4j.spi.Probe;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InfoCommandTest {
    @Test
    void listsEveryDeviceKindWithDevicesOrTheReasonItIsAbsent() {
        Cli r = Cli.run("info");
        assertEquals(0, r.code(), r.toString());
        for (Map.Entry<DeviceKind, Probe> e : Backends.probeAll().entrySet()) {
            String line = "  " + e.getKey().id() + ": ";
            String expected = e.getValue().isAvailable() ? line + e.getValue().devices().size() + " device" : line + "absent: " + e.getValue().reason();
            assertTrue(r.out().contains(expected), expected + " missing from:\n" + r.out());
        }
        assertTrue(r.out().contains("ascend: absent: "), r.out());
        assertTrue(r.out().contains("    cpu: "), r.out());
    }

    @Test
    void showsTheCpuPathWithItsThreadsOnceAndTheVersion() {
        Cli r = Cli.run("info");
        assertTrue(r.out().lines().anyMatch(("cpu path: " + CpuPath.describe())::equals), r.out());
        assertEquals(1, r.out().split(Pattern.quote(CpuPath.describe()), -1).length - 1, "the CPU path is printed once:\n" + r.out());
        assertTrue(CpuPath.describe().contains(CpuPath.threads() + " threads"), CpuPath.describe());
        if (CpuPath.simd()) {
            assertTrue(CpuPath.describe().contains(CpuPath.vectorBits() + "-bit vectors"), CpuPath.describe());
        } else {
            assertTrue(r.out().contains("--add-modules jdk.incubator.vector") || r.out().contains("-Dds4j.cpu.simd=false"), r.out());
        }
        assertTrue(r.out().lines().findFirst().orElse("").matches("ds4j \\S+"), r.out());
        assertTrue(r.lastLine().startsWith("ok: info: "), r.toString());
    }

    @Test
    void versionFlagPrintsTheVersion() {
        Cli r = Cli.run("--version");
        assertEquals(0, r.code());
        assertTrue(r.out().startsWith("ds4j "), r.out());
    }
}

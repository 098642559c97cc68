package io.github.ds4j.cli;

import io.github.ds4j.Backends;
import io.github.ds4j.Device;
import io.github.ds4j.DeviceKind;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.internal.cpu.CpuPath;
import io.github.ds4j.spi.DeviceInfo;
import io.github.ds4j.spi.Probe;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ds4j info}: backends, devices, the CPU path, versions; for every absent backend, why. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show the backends and devices found (or why each is absent), the CPU path and versions.")
public final class InfoCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.println("ds4j " + Ds4jCommand.version());
        out.println("java: " + Runtime.version() + " (" + System.getProperty("java.vendor") + "), "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        Map<DeviceKind, Probe> probes = Backends.probeAll();
        List<String> present = new ArrayList<>();
        out.println("backends:");
        for (Map.Entry<DeviceKind, Probe> e : probes.entrySet()) {
            String kind = e.getKey().id();
            Probe p = e.getValue();
            if (p.isAvailable()) {
                present.add(kind);
                out.println("  " + kind + ": " + p.devices().size() + " device" + (p.devices().size() == 1 ? "" : "s"));
                for (DeviceInfo d : p.devices()) {
                    out.println("    " + d.device() + ": " + d.name() + ", " + memory(d) + ", " + d.capability());
                }
            } else {
                out.println("  " + kind + ": absent: " + p.reason());
            }
            for (String detail : p.details()) {
                out.println("    " + detail);
            }
        }
        out.println("cpu path: " + (CpuBackend.shared().isFast() ? CpuPath.describe() : "the scalar reference, one thread (-Dds4j.cpu.path=scalar)"));
        Device best = Backends.best();
        out.println("auto device: " + best);
        out.println("ok: info: " + present.size() + " of " + probes.size() + " device kinds available (" + String.join(", ", present)
                + "), --device auto uses " + best);
        return 0;
    }

    private static String memory(DeviceInfo d) {
        if (d.device().isHost()) {
            return String.format(Locale.ROOT, "%.1f GiB JVM heap", d.memoryBytes() / (double) (1L << 30));
        }
        return String.format(Locale.ROOT, "%.1f GiB", d.memoryBytes() / (double) (1L << 30));
    }
}

package io.github.ds4j;

import io.github.ds4j.spi.Backend;
import io.github.ds4j.spi.BackendProvider;
import io.github.ds4j.spi.Probe;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * The backends on the class or module path, found with {@link ServiceLoader}. The CPU backend is
 * always present. Nothing here falls back silently: opening an absent device fails with the reason.
 */
public final class Backends {
    private Backends() {
    }

    /** Every provider found, best device kind first. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> out = new ArrayList<>();
        ServiceLoader<BackendProvider> loader = ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader());
        var it = loader.iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                BackendProvider p = it.next();
                if (out.stream().noneMatch(q -> q.kind() == p.kind())) {
                    out.add(p);
                }
            } catch (ServiceConfigurationError e) {
                System.getLogger("io.github.ds4j").log(System.Logger.Level.WARNING, "ds4j: a backend failed to load: " + e.getMessage());
            }
        }
        out.sort(Comparator.comparing(BackendProvider::kind));
        return out;
    }

    /** Probes every kind; kinds without an artifact on the path say so. */
    public static Map<DeviceKind, Probe> probeAll() {
        Map<DeviceKind, Probe> out = new LinkedHashMap<>();
        List<BackendProvider> ps = providers();
        for (DeviceKind k : DeviceKind.values()) {
            BackendProvider p = ps.stream().filter(q -> q.kind() == k).findFirst().orElse(null);
            out.put(k, p == null ? Probe.unavailable("backend artifact ds4j-" + k.id() + " is not on the class path") : safeProbe(p));
        }
        return out;
    }

    /** The best device present: the first CUDA device, else the first Ascend device, else the CPU. */
    public static Device best() {
        for (Map.Entry<DeviceKind, Probe> e : probeAll().entrySet()) {
            if (e.getValue().isAvailable()) {
                return e.getValue().devices().get(0).device();
            }
        }
        return Device.CPU;
    }

    /** Opens {@code device}, or throws {@link BackendUnavailableException} with the reason. */
    public static Backend open(Device device) {
        BackendProvider p = providers().stream().filter(q -> q.kind() == device.kind()).findFirst()
                .orElseThrow(() -> new BackendUnavailableException("no " + device.kind().id()
                        + " backend: the artifact ds4j-" + device.kind().id() + " is not on the class path"));
        Probe probe = safeProbe(p);
        if (!probe.isAvailable()) {
            throw new BackendUnavailableException(device + " is not available: " + probe.reason());
        }
        if (probe.devices().stream().noneMatch(d -> d.device().equals(device))) {
            throw new BackendUnavailableException(device + " is not available: " + probe.devices().size() + " "
                    + device.kind().id() + " device(s) present");
        }
        return p.open(device.ordinal());
    }

    private static Probe safeProbe(BackendProvider p) {
        try {
            return p.probe();
        } catch (RuntimeException | LinkageError e) {
            return Probe.unavailable("probe failed: " + e);
        }
    }
}

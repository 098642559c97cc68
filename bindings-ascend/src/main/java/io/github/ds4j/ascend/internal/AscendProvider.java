package io.github.ds4j.ascend.internal;

import io.github.ds4j.BackendUnavailableException;
import io.github.ds4j.DeviceKind;
import io.github.ds4j.spi.Backend;
import io.github.ds4j.spi.BackendProvider;
import io.github.ds4j.spi.Probe;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The Ascend provider. It looks for the AscendCL runtime ({@code libascendcl.so}) without ever
 * crashing: a missing library is a reason, not an error. ds4j has no Ascend kernels yet, so even
 * with the runtime present no device is offered and {@link #open} says why.
 */
public final class AscendProvider implements BackendProvider {
    static final String LIBRARY = "libascendcl.so";
    static final String ABSENT = "no Ascend runtime (" + LIBRARY + " not found)";
    /** A symbol every AscendCL runtime exports; a library without it is something else. */
    static final String PROBE_SYMBOL = "aclInit";

    private final List<String> candidates;
    private final String symbol;

    /** The provider ServiceLoader creates: the loader's search path, then the usual CANN install places. */
    public AscendProvider() {
        this(defaultCandidates(), PROBE_SYMBOL);
    }

    /** For tests: libraries to try (names or paths) and the symbol that proves one is AscendCL. */
    AscendProvider(List<String> candidates, String symbol) {
        this.candidates = List.copyOf(candidates);
        this.symbol = symbol;
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.ASCEND;
    }

    @Override
    public Probe probe() {
        return Probe.unavailable(reason());
    }

    @Override
    public Backend open(int ordinal) {
        throw new BackendUnavailableException("ascend:" + ordinal + " is not available: " + reason());
    }

    /** Why there is no Ascend device: no runtime, or a runtime but no ds4j kernels for it. */
    String reason() {
        String found;
        try {
            found = findRuntime();
        } catch (IllegalCallerException e) {
            return "cannot look for " + LIBRARY + ": native access is not enabled (run with --enable-native-access=ALL-UNNAMED)";
        }
        if (found == null) {
            return ABSENT;
        }
        return "Ascend runtime found (" + found + "), but ds4j has no Ascend kernels yet: the Ascend backend is not implemented";
    }

    /** The first candidate that loads and exports the probe symbol, or null. */
    private String findRuntime() {
        for (String c : candidates) {
            try (Arena arena = Arena.ofConfined()) {
                SymbolLookup lib = c.contains("/") ? SymbolLookup.libraryLookup(Path.of(c), arena)
                        : SymbolLookup.libraryLookup(c, arena);
                if (lib.find(symbol).isPresent()) {
                    return c;
                }
            } catch (IllegalArgumentException e) {
                // Not there (dlopen failed); try the next place.
            }
        }
        return null;
    }

    private static List<String> defaultCandidates() {
        List<String> out = new ArrayList<>();
        out.add(LIBRARY);
        for (String env : List.of("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME")) {
            String home = System.getenv(env);
            if (home != null && !home.isBlank()) {
                out.add(Path.of(home, "lib64", LIBRARY).toString());
            }
        }
        for (String p : List.of("/usr/local/Ascend/ascend-toolkit/latest/lib64/" + LIBRARY, "/usr/local/Ascend/latest/lib64/" + LIBRARY)) {
            if (Files.exists(Path.of(p))) {
                out.add(p);
            }
        }
        return out;
    }
}

package io.github.ds4j.cuda.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The extern "C" entry points of kernels/cuda/*.cu as their source declares them: parameter kinds
 * in order and the __launch_bounds__ thread count. Lets tests check every Java launch against the
 * C signature it must match, without a GPU.
 */
final class KernelSignatures {
    enum Kind { PTR, I32, I64, F32 }

    record Signature(String family, String name, List<Kind> params, int launchBounds) {
    }

    private static final Pattern ENTRY = Pattern.compile(
            "extern \"C\" __global__ void\\s+(?:__launch_bounds__\\((\\w+)\\)\\s*)?(ds4j_\\w+)\\s*\\(([^)]*)\\)");
    private static final Pattern CONSTANT = Pattern.compile("constexpr int (\\w+) = (\\d+);");

    private KernelSignatures() {
    }

    /** The kernels/cuda folder: -Dds4j.kernels.dir, else found from the module or repository root. */
    static Path kernelDir() {
        String p = System.getProperty("ds4j.kernels.dir");
        if (p != null) {
            return Path.of(p);
        }
        for (String c : new String[] {"../kernels/cuda", "kernels/cuda"}) {
            if (Files.isDirectory(Path.of(c))) {
                return Path.of(c);
            }
        }
        throw new IllegalStateException("kernels/cuda not found from " + Path.of("").toAbsolutePath()
                + "; set -Dds4j.kernels.dir");
    }

    /** The {@code constexpr int} constants of the family's .cu file, by name. */
    static Map<String, Integer> constants(String family) {
        Path file = kernelDir().resolve(family + ".cu");
        String src;
        try {
            src = Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, Integer> constants = new LinkedHashMap<>();
        Matcher c = CONSTANT.matcher(src);
        while (c.find()) {
            constants.put(c.group(1), Integer.parseInt(c.group(2)));
        }
        return constants;
    }

    /** Every entry point of the family's .cu file, by name. */
    static Map<String, Signature> of(String family) {
        Path file = kernelDir().resolve(family + ".cu");
        String src;
        try {
            src = Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, Integer> constants = new LinkedHashMap<>();
        Matcher c = CONSTANT.matcher(src);
        while (c.find()) {
            constants.put(c.group(1), Integer.parseInt(c.group(2)));
        }
        Map<String, Signature> out = new LinkedHashMap<>();
        Matcher m = ENTRY.matcher(src);
        while (m.find()) {
            int bounds = 1024;
            if (m.group(1) != null) {
                String b = m.group(1);
                bounds = b.chars().allMatch(Character::isDigit) ? Integer.parseInt(b) : constants.getOrDefault(b, -1);
                if (bounds < 0) {
                    throw new IllegalStateException(file + ": unknown launch bound " + b);
                }
            }
            out.put(m.group(2), new Signature(family, m.group(2), params(file, m.group(2), m.group(3)), bounds));
        }
        return out;
    }

    private static List<Kind> params(Path file, String kernel, String list) {
        List<Kind> kinds = new ArrayList<>();
        if (list.isBlank()) {
            return kinds;
        }
        for (String raw : list.split(",")) {
            String p = raw.strip().replaceAll("\\s+", " ");
            if (p.contains("*")) {
                kinds.add(Kind.PTR);
            } else if (p.startsWith("long long ") || p.startsWith("int64_t ")) {
                kinds.add(Kind.I64);
            } else if (p.startsWith("int ") || p.startsWith("unsigned ")) {
                kinds.add(Kind.I32);
            } else if (p.startsWith("float ")) {
                kinds.add(Kind.F32);
            } else {
                throw new IllegalStateException(file + ": " + kernel + ": unsupported parameter type in \"" + p + "\"");
            }
        }
        return kinds;
    }

    static Kind kindOf(KernelArgs.Arg a) {
        return switch (a) {
            case KernelArgs.Ptr p -> Kind.PTR;
            case KernelArgs.I32 i -> Kind.I32;
            case KernelArgs.I64 l -> Kind.I64;
            case KernelArgs.F32 f -> Kind.F32;
        };
    }
}

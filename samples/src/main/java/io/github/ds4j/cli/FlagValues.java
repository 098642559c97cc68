package io.github.ds4j.cli;

import io.github.ds4j.DType;
import io.github.ds4j.v4.KvCache;

import java.util.Locale;

/** Parsers of the flag values several commands take; messages name the flag and the choices. */
public final class FlagValues {
    private FlagValues() {
    }

    /** {@code --out-dtype}: bf16 or f32. */
    public static DType outDtype(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "bf16" -> DType.BF16;
            case "f32" -> DType.F32;
            default -> throw new IllegalArgumentException("--out-dtype: expected bf16 or f32, got \"" + s + "\"");
        };
    }

    /** {@code --kv-cache}: bf16 or fp8. */
    public static KvCache.Format kvCache(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "bf16" -> KvCache.Format.BF16;
            case "fp8" -> KvCache.Format.FP8;
            default -> throw new IllegalArgumentException("--kv-cache: expected bf16 or fp8, got \"" + s + "\"");
        };
    }
}

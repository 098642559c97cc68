package io.github.ds4j;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types a tensor can hold. Sizes are in bits because {@link #FP4_E2M1} packs two
 * elements per byte (element 2i in the low nibble of byte i).
 */
public enum DType {
    F32(32, "F32", true),
    F16(16, "F16", true),
    BF16(16, "BF16", true),
    /** FP8 E4M3 "fn": no infinities, 0x7F/0xFF are NaN, max finite 448. */
    F8_E4M3(8, "F8_E4M3", false),
    /** FP8 E5M2: IEEE-like with infinities. */
    F8_E5M2(8, "F8_E5M2", false),
    /** Unsigned power-of-two scale 2^(e-127); 0xFF is NaN. */
    F8_E8M0(8, "F8_E8M0", false),
    /** MXFP4 element, two per byte, low nibble first. Checkpoints store it as I8 [rows, cols/2]. */
    FP4_E2M1(4, null, false),
    I8(8, "I8", false),
    U8(8, "U8", false),
    I32(32, "I32", false),
    I64(64, "I64", false);

    private final int bits;
    private final String safetensorsName;
    private final boolean floating;

    DType(int bits, String safetensorsName, boolean floating) {
        this.bits = bits;
        this.safetensorsName = safetensorsName;
        this.floating = floating;
    }

    /** Bits per element (4 for packed FP4). */
    public int bits() {
        return bits;
    }

    /** True for F32, F16 and BF16: the types real-valued inputs and outputs may use. */
    public boolean isReal() {
        return floating;
    }

    /** Bytes taken by {@code elements} elements; for FP4 the count must be even. */
    public long byteSize(long elements) {
        if (bits == 4) {
            if ((elements & 1) != 0) {
                throw new IllegalArgumentException(this + ": an odd element count (" + elements + ") does not fill whole bytes");
            }
            return elements / 2;
        }
        return elements * (bits / 8);
    }

    /** The dtype name used in safetensors headers; FP4 has none (it is stored as I8). */
    public Optional<String> safetensorsName() {
        return Optional.ofNullable(safetensorsName);
    }

    /** Parses a safetensors dtype name ("F8_E4M3", "BF16", ...). */
    public static DType fromSafetensorsName(String name) {
        if (name == null) {
            throw new IllegalArgumentException("safetensors dtype: must not be null");
        }
        for (DType t : values()) {
            if (name.equals(t.safetensorsName)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown safetensors dtype \"" + name + "\"");
    }

    /** Parses a user-facing name, case-insensitive: "f32", "bf16", "fp8", "e4m3", "fp4", ... */
    public static DType parse(String name) {
        if (name == null) {
            throw new IllegalArgumentException("dtype: must not be null");
        }
        String n = name.trim().toUpperCase(Locale.ROOT);
        return switch (n) {
            case "FP8", "E4M3", "F8_E4M3", "FP8_E4M3" -> F8_E4M3;
            case "E5M2", "F8_E5M2", "FP8_E5M2" -> F8_E5M2;
            case "UE8M0", "E8M0", "F8_E8M0" -> F8_E8M0;
            case "FP4", "E2M1", "FP4_E2M1", "MXFP4" -> FP4_E2M1;
            case "FLOAT", "FLOAT32" -> F32;
            case "HALF", "FLOAT16", "FP16" -> F16;
            case "BFLOAT16" -> BF16;
            default -> {
                try {
                    yield valueOf(n);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("unknown dtype \"" + name + "\": expected one of f32, f16, bf16, "
                            + "fp8 (e4m3), e5m2, ue8m0, fp4 (e2m1), i8, u8, i32, i64");
                }
            }
        };
    }
}

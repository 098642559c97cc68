package io.github.ds4j.format;

/** bfloat16: the upper half of an f32. Conversion rounds to nearest even; NaN becomes 0x7FC0. */
public final class BF16 {
    private BF16() {
    }

    /** Rounds an f32 to bfloat16 bits, ties to even. Overflow goes to infinity as in IEEE. */
    public static short encode(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) 0x7FC0;
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** The f32 value of bfloat16 bits (exact). */
    public static float decode(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Rounds an f32 to the nearest bfloat16 value and returns it as f32. */
    public static float round(float x) {
        return decode(encode(x));
    }
}

package io.github.ds4j.format;

/** IEEE half precision, through the JDK's exact round-to-nearest-even conversions. */
public final class F16 {
    private F16() {
    }

    /** Rounds an f32 to half-precision bits, ties to even. */
    public static short encode(float x) {
        return Float.floatToFloat16(x);
    }

    /** The f32 value of half-precision bits (exact). */
    public static float decode(short bits) {
        return Float.float16ToFloat(bits);
    }
}

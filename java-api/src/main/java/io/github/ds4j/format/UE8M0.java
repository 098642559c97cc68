package io.github.ds4j.format;

/**
 * UE8M0: an unsigned 8-bit exponent, value 2^(e-127); 0xFF is NaN. V4 stores every block scale in
 * this format.
 */
public final class UE8M0 {
    /** Code of NaN. */
    public static final byte NAN = (byte) 0xFF;

    private UE8M0() {
    }

    /** The value 2^(code-127), or NaN for 0xFF. Code 0 is 2^-127, an f32 subnormal. */
    public static float decode(byte code) {
        int e = code & 0xFF;
        if (e == 0xFF) {
            return Float.NaN;
        }
        return e == 0 ? 0x1p-127f : Float.intBitsToFloat(e << 23);
    }

    /** The code of 2^exponent; exponent in [-127, 127]. */
    public static byte fromExponent(int exponent) {
        if (exponent < -127 || exponent > 127) {
            throw new IllegalArgumentException("UE8M0 exponent out of range [-127, 127]: " + exponent);
        }
        return (byte) (exponent + 127);
    }

    /** The exponent e with value = 2^e; 0xFF (NaN) has none. */
    public static int exponent(byte code) {
        if (code == NAN) {
            throw new IllegalArgumentException("UE8M0 NaN has no exponent");
        }
        return (code & 0xFF) - 127;
    }

    /**
     * Encodes a positive power of two exactly. Other values are rejected: V4 scales are always
     * powers of two; use {@link #encodeCeil(float)} to round up to one.
     */
    public static byte encode(float powerOfTwo) {
        if (Float.isNaN(powerOfTwo)) {
            return NAN;
        }
        int bits = Float.floatToRawIntBits(powerOfTwo);
        if (powerOfTwo == 0x1p-127f) {
            return 0;
        }
        if (bits <= 0 || (bits & 0x7F_FFFF) != 0 || bits >= 0x7F80_0000) {
            throw new IllegalArgumentException("not a UE8M0 power of two: " + powerOfTwo);
        }
        return (byte) (bits >>> 23);
    }

    /**
     * Rounds a positive value up to a power of two: 2^ceil(log2(v)), computed exactly from the
     * f32 exponent (plus one when any mantissa bit is set). Clamped to the range [2^-127, 2^127].
     */
    public static byte encodeCeil(float v) {
        if (Float.isNaN(v)) {
            return NAN;
        }
        return fromExponent(Math.max(-127, Math.min(127, ceilLog2(v))));
    }

    /**
     * ceil(log2(v)) for a positive finite float, exact: the f32 exponent, plus one if any mantissa
     * bit is set. Subnormals are handled through their leading bit.
     */
    public static int ceilLog2(float v) {
        if (!(v > 0) || Float.isInfinite(v)) {
            throw new IllegalArgumentException("ceilLog2 needs a positive finite value, got " + v);
        }
        int bits = Float.floatToRawIntBits(v);
        int exp = bits >>> 23;
        int man = bits & 0x7F_FFFF;
        if (exp == 0) { // subnormal: value = man * 2^-149
            int top = 31 - Integer.numberOfLeadingZeros(man);
            return -149 + top + ((man & (man - 1)) != 0 ? 1 : 0);
        }
        return exp - 127 + (man != 0 ? 1 : 0);
    }
}

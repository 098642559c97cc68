package io.github.ds4j.format;

/**
 * FP8 E5M2: 1 sign, 5 exponent (bias 15), 2 mantissa bits, IEEE-like: exponent 31 holds the
 * infinities (mantissa 0) and NaNs. The largest finite value is 57344.
 */
public final class E5M2 {
    /** Largest finite magnitude. */
    public static final float MAX = 57344f;

    private static final float[] DECODED = new float[256];

    static {
        for (int code = 0; code < 256; code++) {
            DECODED[code] = decodeSlow(code);
        }
    }

    private E5M2() {
    }

    /** The value of an E5M2 code. */
    public static float decode(byte code) {
        return DECODED[code & 0xFF];
    }

    private static float decodeSlow(int code) {
        int exp = (code >>> 2) & 0x1F;
        int man = code & 0x3;
        float sign = (code & 0x80) != 0 ? -1f : 1f;
        if (exp == 0x1F) {
            return man == 0 ? sign * Float.POSITIVE_INFINITY : Float.NaN;
        }
        if (exp == 0) {
            return sign * man * 0x1p-16f;
        }
        return sign * (1f + man / 4f) * Math.scalb(1f, exp - 15);
    }

    /** Rounds to nearest, ties to even; overflow gives infinity, NaN gives NaN (0x7F, sign kept). */
    public static byte encode(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = (bits >>> 24) & 0x80;
        int abs = bits & 0x7FFF_FFFF;
        if (abs > 0x7F80_0000) {
            return (byte) (sign | 0x7F);
        }
        if (abs == 0x7F80_0000) {
            return (byte) (sign | 0x7C);
        }
        int code;
        if (abs < 0x3880_0000) { // below 2^-14: the subnormal grid has step 2^-16
            code = (int) Math.rint(Float.intBitsToFloat(abs) * 65536.0);
        } else {
            int rounded = abs + 0xFFFFF + ((abs >>> 21) & 1);
            code = (rounded >>> 21) - ((127 - 15) << 2);
            if (code > 0x7C) {
                code = 0x7C;
            }
        }
        return (byte) (sign | code);
    }

    /** Clamps to [-57344, 57344] then rounds to nearest even; NaN stays NaN. */
    public static byte encodeSaturating(float x) {
        return encode(Math.max(-MAX, Math.min(MAX, x)));
    }
}

package io.github.ds4j.format;

/**
 * FP8 E4M3 "fn": 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities, {@code 0x7F} and
 * {@code 0xFF} are NaN, the largest finite value is 448.
 */
public final class E4M3 {
    /** Largest finite magnitude. */
    public static final float MAX = 448f;
    /** Canonical NaN code. */
    public static final byte NAN = 0x7F;

    private static final float[] DECODED = new float[256];

    static {
        for (int code = 0; code < 256; code++) {
            DECODED[code] = decodeSlow(code);
        }
    }

    private E4M3() {
    }

    /** The value of an E4M3 code. */
    public static float decode(byte code) {
        return DECODED[code & 0xFF];
    }

    /** A copy of the 256-entry decode table, indexed by the unsigned code. */
    public static float[] decodeTable() {
        return DECODED.clone();
    }

    private static float decodeSlow(int code) {
        int exp = (code >>> 3) & 0xF;
        int man = code & 0x7;
        float sign = (code & 0x80) != 0 ? -1f : 1f;
        if (exp == 0xF && man == 0x7) {
            return Float.NaN;
        }
        if (exp == 0) {
            return sign * man * 0x1p-9f;
        }
        return sign * (1f + man / 8f) * Math.scalb(1f, exp - 7);
    }

    /**
     * Rounds to the nearest E4M3 value, ties to even, as a non-saturating cast does: NaN and
     * infinities give NaN, and so does any magnitude that rounds above 448 (from 464 exclusive).
     * The V4 quantizers clamp to ±448 first; see {@link #encodeSaturating(float)}.
     */
    public static byte encode(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = (bits >>> 24) & 0x80;
        int abs = bits & 0x7FFF_FFFF;
        if (abs >= 0x7F80_0000) {
            return (byte) (sign | NAN);
        }
        int code;
        if (abs < 0x3C80_0000) { // below 2^-6: the subnormal grid has step 2^-9
            code = (int) Math.rint(Float.intBitsToFloat(abs) * 512.0);
        } else {
            // Round the 23-bit mantissa to 3 bits, ties to even; a carry moves into the exponent.
            int rounded = abs + 0x7FFFF + ((abs >>> 20) & 1);
            code = (rounded >>> 20) - ((127 - 7) << 3);
            if (code > 0x7E) {
                code = NAN;
            }
        }
        return (byte) (sign | code);
    }

    /** Clamps to [-448, 448] and rounds to nearest even; NaN stays NaN. */
    public static byte encodeSaturating(float x) {
        return encode(Math.max(-MAX, Math.min(MAX, x)));
    }

    /** True for the two NaN codes. */
    public static boolean isNaN(byte code) {
        return (code & 0x7F) == 0x7F;
    }
}

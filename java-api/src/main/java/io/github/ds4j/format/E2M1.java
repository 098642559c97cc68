package io.github.ds4j.format;

/**
 * FP4 E2M1, the MXFP4 element: 1 sign, 2 exponent (bias 1), 1 mantissa bit. The magnitudes are
 * {0, 0.5, 1, 1.5, 2, 3, 4, 6}; there is no infinity and no NaN. Two codes share a byte, element
 * 2i in the low nibble of byte i.
 */
public final class E2M1 {
    /** Largest magnitude. */
    public static final float MAX = 6f;

    private static final float[] DECODED = {
        0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f,
        -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f,
    };

    private E2M1() {
    }

    /** The value of a 4-bit code (only the low nibble of {@code code} is read). */
    public static float decode(int code) {
        return DECODED[code & 0xF];
    }

    /** A copy of the 16-entry decode table. */
    public static float[] decodeTable() {
        return DECODED.clone();
    }

    /**
     * Rounds to the nearest E2M1 value, ties to the even code; magnitudes past 6 saturate to 6
     * and NaN encodes as +0 (the format has no NaN, and the V4 quantizers clamp first).
     */
    public static int encode(float x) {
        if (Float.isNaN(x)) {
            return 0;
        }
        int sign = (Float.floatToRawIntBits(x) >>> 28) & 0x8;
        float a = Math.abs(x);
        int code;
        // Midpoints between neighbours; at a midpoint the even code wins (<= or < accordingly).
        if (a <= 0.25f) {
            code = 0;
        } else if (a < 0.75f) {
            code = 1;
        } else if (a <= 1.25f) {
            code = 2;
        } else if (a < 1.75f) {
            code = 3;
        } else if (a <= 2.5f) {
            code = 4;
        } else if (a < 3.5f) {
            code = 5;
        } else if (a <= 5f) {
            code = 6;
        } else {
            code = 7;
        }
        return sign | code;
    }

    /** Packs two codes into a byte: {@code even} in the low nibble, {@code odd} in the high one. */
    public static byte pack(int even, int odd) {
        return (byte) ((even & 0xF) | ((odd & 0xF) << 4));
    }

    /** The code of element {@code index} in a packed array. */
    public static int unpack(byte[] packed, long index) {
        int b = packed[(int) (index >>> 1)];
        return (index & 1) == 0 ? b & 0xF : (b >>> 4) & 0xF;
    }
}

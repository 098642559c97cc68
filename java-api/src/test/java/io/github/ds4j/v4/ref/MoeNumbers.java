package io.github.ds4j.v4.ref;

/**
 * Number formats for the float64 references, written from spec §2 without the library's
 * converters: decoders of the stored codes and round-to-nearest-even of a double to bf16 / E4M3,
 * and the FP8 1x128 activation quantize-dequantize that precedes every FP8/FP4 GEMM.
 */
public final class MoeNumbers {
    private static final double[] E2M1 = {0, 0.5, 1, 1.5, 2, 3, 4, 6};

    private MoeNumbers() {
    }

    /** v rounded to the nearest bfloat16 (ties to even), as a double. */
    public static double bf16(double v) {
        if (v == 0 || !Double.isFinite(v)) {
            return v;
        }
        int e = Math.max(Math.getExponent(v), -126);
        double ulp = Math.scalb(1.0, e - 7);
        return Math.rint(v / ulp) * ulp;
    }

    /** v rounded to the nearest E4M3 value (ties to even); |v| must be at most 448. */
    public static double e4m3(double v) {
        if (v == 0) {
            return 0;
        }
        int e = Math.max(Math.getExponent(v), -6);
        double ulp = Math.scalb(1.0, e - 3);
        double r = Math.rint(v / ulp) * ulp;
        return Math.max(-448, Math.min(448, r));
    }

    /** The value of an E4M3 "fn" code. */
    public static double decodeE4m3(int code) {
        int sign = (code & 0x80) != 0 ? -1 : 1;
        int exp = (code >>> 3) & 0xF;
        int man = code & 7;
        if (exp == 15 && man == 7) {
            return Double.NaN;
        }
        double mag = exp == 0 ? man / 8.0 * Math.scalb(1.0, -6) : (1 + man / 8.0) * Math.scalb(1.0, exp - 7);
        return sign * mag;
    }

    /** The value of a 4-bit E2M1 code. */
    public static double decodeE2m1(int code) {
        double mag = E2M1[code & 7];
        return (code & 8) != 0 ? -mag : mag;
    }

    /** The value of a UE8M0 scale code: 2^(code - 127). */
    public static double decodeE8m0(int code) {
        return Math.scalb(1.0, (code & 0xFF) - 127);
    }

    /**
     * FP8 activation quantize-dequantize of one row, 128-column blocks: amax = max(|x|, 1e-4),
     * s = 2^ceil(log2(amax / 448)), value = e4m3(clamp(x / s, -448, 448)) * s.
     */
    public static double[] fp8Activations(double[] row) {
        double[] out = new double[row.length];
        for (int b = 0; b < row.length; b += 128) {
            int end = Math.min(row.length, b + 128);
            double amax = 1e-4;
            for (int c = b; c < end; c++) {
                amax = Math.max(amax, Math.abs(row[c]));
            }
            double r = amax / 448;
            int e = Math.getExponent(r);
            if (r != Math.scalb(1.0, e)) {
                e++;
            }
            double s = Math.scalb(1.0, e);
            for (int c = b; c < end; c++) {
                out[c] = e4m3(Math.max(-448, Math.min(448, row[c] / s))) * s;
            }
        }
        return out;
    }

    public static double dot(double[] a, double[] b) {
        double acc = 0;
        for (int i = 0; i < a.length; i++) {
            acc += a[i] * b[i];
        }
        return acc;
    }
}

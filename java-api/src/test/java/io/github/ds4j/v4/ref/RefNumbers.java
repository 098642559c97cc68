package io.github.ds4j.v4.ref;

/**
 * Number formats and the quantization simulations of spec §2 in float64, written from the spec
 * alone (no ds4j code): bf16, E4M3 and E2M1 rounding to nearest even, UE8M0 power-of-two scales.
 */
public final class RefNumbers {
    private static final double[] E2M1 = {0, 0.5, 1, 1.5, 2, 3, 4, 6};

    private RefNumbers() {
    }

    /** x rounded to bfloat16 (8 significant bits, ties to even). */
    public static double bf16(double x) {
        return round(x, 8, -126);
    }

    /** x rounded to FP8 E4M3 "fn" after clamping to ±448. */
    public static double e4m3(double x) {
        return round(Math.max(-448, Math.min(448, x)), 4, -6);
    }

    /** x rounded to FP4 E2M1 after clamping to ±6. */
    public static double e2m1(double x) {
        return round(Math.max(-6, Math.min(6, x)), 2, 0);
    }

    /**
     * Round to nearest even with {@code bits} significant bits and smallest normal exponent
     * {@code minExp} (below it the spacing stays 2^(minExp - bits + 1)).
     */
    private static double round(double x, int bits, int minExp) {
        if (x == 0 || !Double.isFinite(x)) {
            return x;
        }
        int e = Math.max(Math.getExponent(x), minExp);
        double ulp = Math.scalb(1.0, e - bits + 1);
        return Math.rint(x / ulp) * ulp;
    }

    /** The value of an E4M3 code. */
    public static double decodeE4m3(byte code) {
        int b = code & 0xFF;
        int exp = (b >>> 3) & 0xF;
        int man = b & 7;
        if (exp == 15 && man == 7) {
            return Double.NaN;
        }
        double mag = exp == 0 ? man * Math.scalb(1.0, -9) : (1 + man / 8.0) * Math.scalb(1.0, exp - 7);
        return (b & 0x80) != 0 ? -mag : mag;
    }

    /** The value of a 4-bit E2M1 code (sign in bit 3). */
    public static double decodeE2m1(int code) {
        double mag = E2M1[code & 7];
        return (code & 8) != 0 ? -mag : mag;
    }

    /** The value of a UE8M0 code: 2^(code − 127). */
    public static double decodeUe8m0(byte code) {
        return Math.scalb(1.0, (code & 0xFF) - 127);
    }

    /** The smallest power of two >= v (v > 0), as an exponent: ceil(log2(v)). */
    public static int ceilLog2(double v) {
        int e = Math.getExponent(v);
        return Math.scalb(1.0, e) == v ? e : e + 1;
    }

    /**
     * FP8 quantize-dequantize of {@code x[from..to)} in blocks of {@code block} (the last may be
     * shorter): amax = max(|x|, 1e-4), s = 2^ceil(log2(amax/448)), x = e4m3(x/s) * s.
     */
    public static void fp8Simulate(double[] x, int from, int to, int block) {
        for (int b = from; b < to; b += block) {
            int end = Math.min(to, b + block);
            double amax = 1e-4;
            for (int i = b; i < end; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            double s = Math.scalb(1.0, ceilLog2(amax / 448));
            for (int i = b; i < end; i++) {
                x[i] = e4m3(x[i] / s) * s;
            }
        }
    }

    /** FP4 quantize-dequantize in blocks of 32: amax = max(|x|, 6*2^-126), s = 2^ceil(log2(amax/6)). */
    public static void fp4Simulate(double[] x, int from, int to, int block) {
        for (int b = from; b < to; b += block) {
            int end = Math.min(to, b + block);
            double amax = 6 * Math.scalb(1.0, -126);
            for (int i = b; i < end; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            double s = Math.scalb(1.0, ceilLog2(amax / 6));
            for (int i = b; i < end; i++) {
                x[i] = e2m1(x[i] / s) * s;
            }
        }
    }

    /** Every element rounded to bf16, in place; returns x. */
    public static double[] bf16(double[] x) {
        for (int i = 0; i < x.length; i++) {
            x[i] = bf16(x[i]);
        }
        return x;
    }

    /** The FP8 1x128 activation quantize-dequantize that precedes every FP8/FP4 GEMM, as a new row. */
    public static double[] fp8Activations(double[] row) {
        double[] out = row.clone();
        fp8Simulate(out, 0, out.length, 128);
        return out;
    }

    /** The dot product, in float64. */
    public static double dot(double[] a, double[] b) {
        double acc = 0;
        for (int i = 0; i < a.length; i++) {
            acc += a[i] * b[i];
        }
        return acc;
    }
}

package io.github.ds4j.v4.ref;

/**
 * The building blocks of spec §2, §3 and §6 in float64: the FP8 GEMM of the reference (activations
 * quantized per 128 columns first), RMSNorm, interleaved RoPE with YaRN, the normalized
 * Walsh-Hadamard transform.
 */
public final class RefOps {
    private RefOps() {
    }

    /**
     * y = x @ w^T after the FP8 activation quantization of x (per 128 columns, spec §2), with w
     * already dequantized; the result is rounded to bf16 as the reference writes it.
     */
    public static double[] fp8Linear(double[] x, double[][] w) {
        double[] xq = x.clone();
        RefNumbers.fp8Simulate(xq, 0, xq.length, 128);
        return RefNumbers.bf16(matVec(xq, w));
    }

    /** y = x @ w^T, no rounding. */
    public static double[] matVec(double[] x, double[][] w) {
        double[] y = new double[w.length];
        for (int j = 0; j < w.length; j++) {
            double acc = 0;
            for (int k = 0; k < x.length; k++) {
                acc += x[k] * w[j][k];
            }
            y[j] = acc;
        }
        return y;
    }

    /** x * rsqrt(mean(x^2) + eps) * weight (weight may be null) over x[from..to), in place. */
    public static void rmsNorm(double[] x, int from, int to, double[] weight, double eps) {
        double ss = 0;
        for (int i = from; i < to; i++) {
            ss += x[i] * x[i];
        }
        double inv = 1 / Math.sqrt(ss / (to - from) + eps);
        for (int i = from; i < to; i++) {
            x[i] = x[i] * inv * (weight == null ? 1 : weight[i - from]);
        }
    }

    /**
     * The RoPE frequencies of spec §6 for {@code dims} rotated values: base^(-2i/dims), stretched by
     * YaRN when {@code factor > 0} (ramp between the correction dims of betaFast and betaSlow).
     */
    public static double[] frequencies(int dims, double base, double factor, long original, double betaFast, double betaSlow) {
        double[] f = new double[dims / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = Math.pow(base, -2.0 * i / dims);
        }
        if (factor > 0) {
            double low = Math.floor(dims * Math.log(original / (betaFast * 2 * Math.PI)) / (2 * Math.log(base)));
            double high = Math.ceil(dims * Math.log(original / (betaSlow * 2 * Math.PI)) / (2 * Math.log(base)));
            low = Math.max(low, 0);
            high = Math.min(high, dims - 1);
            if (high == low) {
                high += 0.001;
            }
            for (int i = 0; i < f.length; i++) {
                double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
                double smooth = 1 - ramp;
                f[i] = f[i] / factor * (1 - smooth) + f[i] * smooth;
            }
        }
        return f;
    }

    /** Rotates the pairs (2i, 2i+1) of x[from..from+2*f.length) by pos*f_i (conjugate when inverse). */
    public static void rope(double[] x, int from, double[] f, long pos, boolean inverse) {
        for (int i = 0; i < f.length; i++) {
            double angle = pos * f[i];
            double c = Math.cos(angle);
            double s = inverse ? -Math.sin(angle) : Math.sin(angle);
            double re = x[from + 2 * i];
            double im = x[from + 2 * i + 1];
            x[from + 2 * i] = re * c - im * s;
            x[from + 2 * i + 1] = re * s + im * c;
        }
    }

    /** The normalized Walsh-Hadamard transform of x[from..from+d): y_i = sum_j (−1)^popcount(i&j) x_j / sqrt(d). */
    public static void hadamard(double[] x, int from, int d) {
        double[] y = new double[d];
        for (int i = 0; i < d; i++) {
            double acc = 0;
            for (int j = 0; j < d; j++) {
                acc += (Integer.bitCount(i & j) % 2 == 0 ? 1 : -1) * x[from + j];
            }
            y[i] = acc / Math.sqrt(d);
        }
        System.arraycopy(y, 0, x, from, d);
    }

    /** Rounds x[from..to) to bf16 in place. */
    public static void bf16(double[] x, int from, int to) {
        for (int i = from; i < to; i++) {
            x[i] = RefNumbers.bf16(x[i]);
        }
    }
}

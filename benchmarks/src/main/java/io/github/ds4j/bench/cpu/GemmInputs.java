package io.github.ds4j.bench.cpu;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.RandomWeights;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.Backend;

/**
 * The operands of one benchmarked GEMM on the CPU, its float64 reference (the spec's semantics)
 * and the check the benchmarks run on their output.
 */
final class GemmInputs implements AutoCloseable {
    /** FP8 x FP8, FP8 x MXFP4 and BF16 linear. */
    enum Format { FP8, FP4, BF16 }

    final Format format;
    final int m;
    final int n;
    final int k;
    final Tensor y;
    private final BlockScaled a;
    private final BlockScaled w;
    private final Tensor x;
    private final Tensor wReal;

    GemmInputs(Format format, int m, int n, int k, long seed) {
        this.format = format;
        this.m = m;
        this.n = n;
        this.k = k;
        RandomWeights rw = new RandomWeights(seed);
        Backend cpu = CpuBackend.shared();
        Tensor xf = rw.real(DType.F32, Shape.of(m, k), 1.0);
        if (format == Format.BF16) {
            x = Tensor.allocate(DType.BF16, Shape.of(m, k));
            cpu.convert(xf, x);
            wReal = rw.real(DType.BF16, Shape.of(n, k), 1.0 / Math.sqrt(k));
            a = null;
            w = null;
        } else {
            Tensor q = Tensor.allocate(DType.F8_E4M3, Shape.of(m, k));
            Tensor s = Tensor.allocate(DType.F8_E8M0, Shape.of(m, k / 128));
            cpu.quantizeActivations(xf, q, s, 128);
            a = BlockScaled.fp8Activations(q, s, 128);
            if (format == Format.FP8) {
                Tensor[] t = rw.fp8(n, k, 1.0 / Math.sqrt(k));
                w = BlockScaled.fp8Weight(t[0], t[1]);
            } else {
                Tensor[] t = rw.mxfp4(n, k, 1.0 / Math.sqrt(k));
                w = BlockScaled.mxfp4Weight(t[0].viewAs(DType.FP4_E2M1, Shape.of(n, k)), t[1]);
            }
            x = null;
            wReal = null;
        }
        xf.close();
        y = Tensor.allocate(DType.F32, Shape.of(m, n));
    }

    /** One GEMM through the backend SPI. */
    void run(Backend backend) {
        switch (format) {
            case FP8 -> backend.fp8Gemm(a, w, y);
            case FP4 -> backend.fp4Gemm(a, w, y);
            case BF16 -> backend.linear(x, wReal, y);
        }
    }

    /** Bytes of weight (values and scales) one GEMM reads. */
    static long weightBytes(Format format, long n, long k) {
        return switch (format) {
            case FP8 -> n * k + ((n + 127) / 128) * ((k + 127) / 128);
            case FP4 -> n * k / 2 + n * k / 32;
            case BF16 -> 2 * n * k;
        };
    }

    /**
     * Checks rows 0, m/2 and m-1 of y against the float64 reference: |y - ref| at most 2e-6 of
     * the sum of |terms| (f32 accumulation). Throws when a value is off.
     */
    void verify() {
        float[] got = y.toFloatArray();
        float[] qa = format == Format.BF16 ? x.toFloatArray() : a.values().toFloatArray();
        float[] sa = format == Format.BF16 ? null : a.scales().toFloatArray();
        float[] qw = format == Format.BF16 ? wReal.toFloatArray() : w.values().toFloatArray();
        float[] sw = format == Format.BF16 ? null : w.scales().toFloatArray();
        int block = format == Format.FP4 ? 32 : format == Format.FP8 ? 128 : k;
        int saCols = k / 128;
        int swCols = format == Format.BF16 ? 0 : (int) w.scales().shape().last();
        for (int i : new int[] {0, m / 2, m - 1}) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                double mag = 0;
                for (int kb = 0; kb < k / block; kb++) {
                    double part = 0;
                    double partMag = 0;
                    for (int c = kb * block; c < kb * block + block; c++) {
                        double p = (double) qa[i * k + c] * qw[j * k + c];
                        part += p;
                        partMag += Math.abs(p);
                    }
                    double s = switch (format) {
                        case FP8 -> (double) sa[i * saCols + kb] * sw[(j / 128) * swCols + kb];
                        case FP4 -> (double) sa[i * saCols + kb * 32 / 128] * sw[j * swCols + kb];
                        case BF16 -> 1.0;
                    };
                    acc += part * s;
                    mag += partMag * Math.abs(s);
                }
                double err = Math.abs(got[i * n + j] - acc);
                if (!(err <= 2e-6 * mag + 1e-30)) {
                    throw new IllegalStateException(format + " " + m + "x" + n + "x" + k + ": y[" + i + "," + j + "] = "
                            + got[i * n + j] + " but the float64 reference is " + acc);
                }
            }
        }
    }

    @Override
    public void close() {
        y.close();
        if (a != null) {
            a.close();
            w.close();
        } else {
            x.close();
            wReal.close();
        }
    }
}

package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.RandomWeights;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The linear (F32/BF16 x F32/BF16) fast paths against a float64 reference and the scalar
 * reference backend, on ragged shapes and row-strided operands.
 */
class GemmLinearTest {
    private static final int[] MS = {1, 3, 17, 133};
    /** 100 and 1027 are not multiples of any vector width (scalar tails), 4096 is a real K. */
    private static final int[] KS = {100, 1027, 4096};
    private static final int N = 203;

    /** x [m, k] and w [n, k], each possibly a column slice of a wider tensor. */
    record Inputs(Tensor x, Tensor w, Tensor xWide, Tensor wWide, long seed) implements AutoCloseable {
        @Override
        public void close() {
            xWide.close();
            wWide.close();
        }
    }

    @Test
    void linearMatchesFloat64ReferenceOnRaggedShapes() {
        int caseNo = 0;
        for (int m : MS) {
            for (int k : KS) {
                long seed = new SplittableRandom().nextLong();
                DType xt = (caseNo & 1) == 0 ? DType.BF16 : DType.F32;
                DType wt = (caseNo / 2 & 1) == 0 ? DType.BF16 : DType.F32;
                DType out = caseNo % 3 == 0 ? DType.BF16 : DType.F32;
                caseNo++;
                try (Inputs in = inputs(m, N, k, xt, wt, seed)) {
                    check(in, out, run(in, out, true), "m=" + m + " k=" + k + " x " + xt + " w " + wt + " y " + out);
                }
            }
        }
    }

    @Test
    void scalarFastPathMatchesScalarOpsBitForBit() {
        for (DType t : new DType[] {DType.F32, DType.BF16}) {
            for (int m : new int[] {1, 17}) {
                long seed = new SplittableRandom().nextLong();
                try (Inputs in = inputs(m, N, 300, t, t, seed)) {
                    float[] fast = run(in, DType.F32, false);
                    float[] ref = run(in, DType.F32, null);
                    assertEquals(0, Arrays.compare(fast, ref), t + " m=" + m + " seed=" + seed + ": not bit-identical to ScalarOps");
                    check(in, DType.F32, fast, "scalar " + t + " m=" + m);
                }
            }
        }
    }

    @Test
    void fastPathAgreesWithScalarReferenceBackend() {
        for (int m : new int[] {1, 2, 5, 64}) {
            long seed = new SplittableRandom().nextLong();
            try (Inputs in = inputs(m, 77, 520, DType.BF16, DType.BF16, seed)) {
                float[] fast = run(in, DType.F32, true);
                float[] ref = run(in, DType.F32, null);
                double[][] exact = reference(in);
                for (int i = 0; i < fast.length; i++) {
                    if (!(Math.abs(fast[i] - ref[i]) <= 4e-6 * exact[1][i] + 1e-30)) {
                        fail("m=" + m + " seed=" + seed + " element " + i + ": fast " + fast[i] + " vs scalar " + ref[i]);
                    }
                }
            }
        }
    }

    /**
     * Runs linear into a NaN-poisoned column slice of a wider output, checks nothing outside it
     * was written, and returns the slice; {@code simd} null runs the scalar reference backend.
     */
    static float[] run(Inputs in, DType out, Boolean simd) {
        int m = (int) in.x.dim(0);
        int n = (int) in.w.dim(0);
        int pad = 3;
        float[] poison = new float[m * (n + pad)];
        Arrays.fill(poison, Float.NaN);
        try (Tensor wide = Tensor.fromFloats(poison, out, Shape.of(m, n + pad))) {
            Tensor y = wide.slice(1, 1, 1 + n);
            if (simd == null) {
                CpuBackend.scalarReference().linear(in.x, in.w, y);
            } else {
                Gemm.linear(in.x, in.w, y, simd);
            }
            float[] all = wide.toFloatArray();
            float[] got = new float[m * n];
            for (int i = 0; i < m; i++) {
                for (int c = 0; c < n + pad; c++) {
                    float v = all[i * (n + pad) + c];
                    if (c >= 1 && c < 1 + n) {
                        got[i * n + c - 1] = v;
                    } else if (!Float.isNaN(v)) {
                        fail("wrote outside y: row " + i + " column " + c + " (seed " + in.seed + ")");
                    }
                }
            }
            return got;
        }
    }

    static void check(Inputs in, DType out, float[] y, String what) {
        double[][] ref = reference(in);
        double rounding = out == DType.BF16 ? 0x1p-8 : 0;
        for (int i = 0; i < y.length; i++) {
            double err = Math.abs(y[i] - ref[0][i]);
            double tol = 2e-6 * ref[1][i] + rounding * Math.abs(ref[0][i]) + 1e-30;
            if (!(err <= tol)) {
                int n = (int) in.w.dim(0);
                fail(what + " seed=" + in.seed + ": y[" + i / n + "," + i % n + "] = " + y[i] + ", float64 reference "
                        + ref[0][i] + " (error " + err + " > " + tol + ")");
            }
        }
    }

    /** {y = x w^T in float64, sum of |x w| per element}. */
    static double[][] reference(Inputs in) {
        int m = (int) in.x.dim(0);
        int n = (int) in.w.dim(0);
        int k = (int) in.x.dim(1);
        float[] x = in.x.toFloatArray();
        float[] w = in.w.toFloatArray();
        double[] y = new double[m * n];
        double[] mag = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                double abs = 0;
                for (int c = 0; c < k; c++) {
                    double p = (double) x[i * k + c] * w[j * k + c];
                    acc += p;
                    abs += Math.abs(p);
                }
                y[i * n + j] = acc;
                mag[i * n + j] = abs;
            }
        }
        return new double[][] {y, mag};
    }

    /** Gaussian x and w as column slices of wider tensors (so both are row-strided). */
    static Inputs inputs(int m, int n, int k, DType xt, DType wt, long seed) {
        RandomWeights rw = new RandomWeights(seed);
        Tensor xWide = rw.real(xt, Shape.of(m, k + 9), 1.0);
        Tensor wWide = rw.real(wt, Shape.of(n, k + 4), 1.0 / Math.sqrt(k));
        return new Inputs(xWide.slice(1, 9, 9 + k), wWide.slice(1, 4, 4 + k), xWide, wWide, seed);
    }
}

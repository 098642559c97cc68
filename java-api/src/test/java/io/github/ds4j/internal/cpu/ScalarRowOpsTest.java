package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.format.BF16;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;

import static io.github.ds4j.internal.cpu.RowsTestTensors.nonZeros;
import static io.github.ds4j.internal.cpu.RowsTestTensors.random;
import static io.github.ds4j.internal.cpu.ScalarQuantizationTest.poison;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The scalar reference row ops against float64 implementations of the spec written here. */
class ScalarRowOpsTest {
    private static final CpuBackend REFERENCE = CpuBackend.scalarReference();
    private static final RopeSpec V4_YARN = new RopeSpec(64, 160000, new RopeSpec.Yarn(16, 65536, 32, 1));

    private static void assertNear(double expected, float actual, double tol, String what) {
        if (!(Math.abs(actual - expected) <= tol)) {
            fail(what + ": expected " + expected + ", got " + actual + " (tolerance " + tol + ")");
        }
    }

    private static Tensor run(float[] x, Shape shape, java.util.function.BiConsumer<Tensor, Tensor> op) {
        try (Tensor xt = Tensor.fromFloats(x, DType.F32, shape)) {
            Tensor y = Tensor.allocate(DType.F32, shape);
            poison(y);
            op.accept(xt, y);
            return y;
        }
    }

    // ---- rmsNorm ----

    @Test
    void rmsNormMatchesFloat64WithAndWithoutWeight() {
        Random rnd = random("rmsNormMatchesFloat64WithAndWithoutWeight");
        int rows = 4;
        int cols = 300;
        float eps = 1e-6f;
        float[] x = nonZeros(rnd, rows * cols, 0.01f, 5f);
        float[] w = nonZeros(rnd, cols, 0.5f, 1.5f);
        for (boolean weighted : new boolean[] {false, true}) {
            try (Tensor wt = Tensor.fromFloats(w, DType.F32, Shape.of(cols));
                 Tensor y = run(x, Shape.of(rows, cols), (a, b) -> REFERENCE.rmsNorm(a, weighted ? wt : null, eps, b))) {
                float[] got = y.toFloatArray();
                for (int r = 0; r < rows; r++) {
                    double ss = 0;
                    for (int c = 0; c < cols; c++) {
                        ss += (double) x[r * cols + c] * x[r * cols + c];
                    }
                    double inv = 1 / Math.sqrt(ss / cols + eps);
                    for (int c = 0; c < cols; c++) {
                        double want = x[r * cols + c] * inv * (weighted ? w[c] : 1);
                        assertNear(want, got[r * cols + c], 1e-6 * Math.abs(want), "rmsNorm weighted=" + weighted + " (" + r + ", " + c + ")");
                    }
                }
            }
        }
    }

    // ---- rope ----

    /** f_i = base^(-2i/dims) in f32, then YaRN per spec §6 in float64 (rounded to f32, as the reference keeps them). */
    private static float[] frequencies(RopeSpec spec) {
        int half = spec.dims() / 2;
        double[] f = new double[half];
        for (int i = 0; i < half; i++) {
            f[i] = Math.pow(spec.base(), -2.0 * i / spec.dims());
        }
        if (spec.yarn() != null) {
            RopeSpec.Yarn y = spec.yarn();
            double lowD = spec.dims() * Math.log(y.originalMaxPositions() / (y.betaFast() * 2 * Math.PI)) / (2 * Math.log(spec.base()));
            double highD = spec.dims() * Math.log(y.originalMaxPositions() / (y.betaSlow() * 2 * Math.PI)) / (2 * Math.log(spec.base()));
            double low = Math.max(0, Math.floor(lowD));
            double high = Math.min(spec.dims() - 1, Math.ceil(highD));
            for (int i = 0; i < half; i++) {
                double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
                double smooth = 1 - ramp;
                f[i] = f[i] / y.factor() * (1 - smooth) + f[i] * smooth;
            }
        }
        float[] out = new float[half];
        for (int i = 0; i < half; i++) {
            out[i] = (float) f[i];
        }
        return out;
    }

    @Test
    void yarnFrequenciesFollowTheSpecRamp() {
        float[] want = frequencies(V4_YARN);
        float[] got = V4_YARN.frequencies();
        for (int i = 0; i < want.length; i++) {
            assertNear(want[i], got[i], 2e-7 * want[i], "YaRN f_" + i);
        }
        // base 160000: low = floor(15.46) = 15, high = ceil(24.71) = 25
        float[] plain = RopeSpec.plain(64, 160000).frequencies();
        for (int i = 0; i <= 15; i++) {
            assertEquals(plain[i], got[i], 1e-7 * plain[i], "unstretched high frequency f_" + i);
        }
        for (int i = 25; i < 32; i++) {
            assertEquals(plain[i] / 16, got[i], 1e-7 * plain[i], "fully stretched low frequency f_" + i);
        }
        assertTrue(got[20] < plain[20] && got[20] > plain[20] / 16, "ramp between");
    }

    @Test
    void ropeRotatesPairsByPositionTimesFrequencyForEveryTokenAndHead() {
        Random rnd = random("ropeRotatesPairsByPositionTimesFrequencyForEveryTokenAndHead");
        int s = 3;
        int h = 2;
        for (RopeSpec spec : new RopeSpec[] {RopeSpec.plain(64, 10000), V4_YARN, RopeSpec.plain(6, 10000)}) {
            for (long start : new long[] {0, 17, 1_048_000}) {
                for (boolean inverse : new boolean[] {false, true}) {
                    int r = spec.dims();
                    float[] x = nonZeros(rnd, s * h * r, 0.1f, 2f);
                    // with YaRN the test's float64 frequencies may differ from the f32 chain by an ulp:
                    // compare at large positions only with plain RoPE, whose f32 frequencies are the same
                    float[] f = spec.yarn() != null && start > 1000 ? spec.frequencies() : frequencies(spec);
                    try (Tensor y = run(x, Shape.of(s, h, r), (a, b) -> REFERENCE.rope(a, b, spec, start, inverse))) {
                        float[] got = y.toFloatArray();
                        for (int t = 0; t < s; t++) {
                            for (int head = 0; head < h; head++) {
                                int base = (t * h + head) * r;
                                for (int i = 0; i < r / 2; i++) {
                                    double angle = (float) (start + t) * f[i]; // the reference's f32 angle
                                    double cos = Math.cos(angle);
                                    double sin = inverse ? -Math.sin(angle) : Math.sin(angle);
                                    double re = x[base + 2 * i];
                                    double im = x[base + 2 * i + 1];
                                    double tol = 1e-6 * Math.hypot(re, im);
                                    String what = "rope " + spec + " start " + start + " inverse " + inverse + " token " + t + " head " + head + " pair " + i;
                                    assertNear(re * cos - im * sin, got[base + 2 * i], tol, what + " re");
                                    assertNear(re * sin + im * cos, got[base + 2 * i + 1], tol, what + " im");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void inverseRopeUndoesRope() {
        Random rnd = random("inverseRopeUndoesRope");
        float[] x = nonZeros(rnd, 5 * 4 * 64, 0.1f, 2f);
        Shape shape = Shape.of(5, 4, 64);
        try (Tensor y = run(x, shape, (a, b) -> REFERENCE.rope(a, b, V4_YARN, 123_456, false));
             Tensor z = run(y.toFloatArray(), shape, (a, b) -> REFERENCE.rope(a, b, V4_YARN, 123_456, true))) {
            float[] back = z.toFloatArray();
            float[] rotated = y.toFloatArray();
            boolean moved = false;
            for (int i = 0; i < x.length; i++) {
                assertNear(x[i], back[i], 1e-6 * (Math.abs(x[i]) + Math.abs(x[i ^ 1])), "inverse(rope(x)) element " + i);
                moved |= Math.abs(rotated[i] - x[i]) > 1e-3;
            }
            assertTrue(moved, "rope changed nothing");
        }
    }

    // ---- hadamard ----

    @Test
    void hadamardEqualsNormalizedSylvesterMatrixAndIsItsOwnInverse() {
        Random rnd = random("hadamardEqualsNormalizedSylvesterMatrixAndIsItsOwnInverse");
        for (int d : new int[] {1, 2, 8, 128, 512}) {
            int rows = 3;
            float[] x = nonZeros(rnd, rows * d, 0.1f, 2f);
            try (Tensor y = run(x, Shape.of(rows, d), REFERENCE::hadamard);
                 Tensor z = run(y.toFloatArray(), Shape.of(rows, d), REFERENCE::hadamard)) {
                float[] got = y.toFloatArray();
                float[] back = z.toFloatArray();
                for (int r = 0; r < rows; r++) {
                    double norm = 0;
                    for (int c = 0; c < d; c++) {
                        norm += (double) x[r * d + c] * x[r * d + c];
                    }
                    norm = Math.sqrt(norm);
                    for (int i = 0; i < d; i++) {
                        double want = 0;
                        for (int j = 0; j < d; j++) {
                            want += ((Integer.bitCount(i & j) & 1) == 0 ? 1 : -1) * (double) x[r * d + j];
                        }
                        want /= Math.sqrt(d);
                        assertNear(want, got[r * d + i], 1e-6 * norm, "H x, d = " + d + ", (" + r + ", " + i + ")");
                        assertNear(x[r * d + i], back[r * d + i], 1e-6 * norm, "H H x, d = " + d + ", (" + r + ", " + i + ")");
                    }
                }
            }
        }
    }

    // ---- swiglu ----

    private static double silu(double g) {
        return g / (1 + Math.exp(-g));
    }

    @Test
    void swigluClampsGateFromAboveAndUpOnBothSides() {
        Random rnd = random("swigluClampsGateFromAboveAndUpOnBothSides");
        int n = 400;
        float[] g = nonZeros(rnd, n, 0.01f, 30f);
        float[] u = nonZeros(rnd, n, 0.01f, 30f);
        for (float limit : new float[] {0f, 10f}) {
            try (Tensor gt = Tensor.fromFloats(g, DType.F32, Shape.of(4, 100));
                 Tensor ut = Tensor.fromFloats(u, DType.F32, Shape.of(4, 100));
                 Tensor y = Tensor.allocate(DType.F32, Shape.of(4, 100))) {
                poison(y);
                REFERENCE.swiglu(gt, ut, limit, y);
                float[] got = y.toFloatArray();
                for (int i = 0; i < n; i++) {
                    double gg = limit > 0 ? Math.min(g[i], limit) : g[i];
                    double uu = limit > 0 ? Math.max(-limit, Math.min(limit, u[i])) : u[i];
                    double want = silu(gg) * uu;
                    assertNear(want, got[i], 1e-6 * Math.abs(want) + 1e-30, "swiglu limit " + limit + " element " + i);
                }
            }
        }
        // the named cases: gate below -limit is not clamped; above +limit it is; up both ways; 0 = none
        assertEquals((float) (silu(-15) * 2), ScalarOps.swiglu(-15f, 2f, 10f), 1e-12);
        assertEquals((float) (silu(10) * 2), ScalarOps.swiglu(15f, 2f, 10f), 1e-5);
        assertEquals((float) (silu(1) * -10), ScalarOps.swiglu(1f, -15f, 10f), 1e-5);
        assertEquals((float) (silu(1) * 10), ScalarOps.swiglu(1f, 15f, 10f), 1e-5);
        assertEquals((float) (silu(15) * 15), ScalarOps.swiglu(15f, 15f, 0f), 1e-4);
    }

    // ---- softmax ----

    @Test
    void softmaxMatchesFloat64AndSumsToOne() {
        Random rnd = random("softmaxMatchesFloat64AndSumsToOne");
        for (int cols : new int[] {1, 7, 300}) {
            int rows = 3;
            float[] x = nonZeros(rnd, rows * cols, 0.01f, 20f);
            try (Tensor y = run(x, Shape.of(rows, cols), REFERENCE::softmax)) {
                float[] got = y.toFloatArray();
                for (int r = 0; r < rows; r++) {
                    double m = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < cols; c++) {
                        m = Math.max(m, x[r * cols + c]);
                    }
                    double sum = 0;
                    for (int c = 0; c < cols; c++) {
                        sum += Math.exp(x[r * cols + c] - m);
                    }
                    double total = 0;
                    for (int c = 0; c < cols; c++) {
                        double want = Math.exp(x[r * cols + c] - m) / sum;
                        // x - max is an f32 difference: its rounding moves exp by up to |x - max| * 2^-24
                        double tol = want * (1e-6 + Math.abs(x[r * cols + c] - m) * 0x1p-23);
                        assertNear(want, got[r * cols + c], tol, "softmax cols " + cols + " (" + r + ", " + c + ")");
                        total += got[r * cols + c];
                    }
                    assertEquals(1.0, total, 1e-5, "row sum");
                }
            }
        }
    }

    // ---- topK ----

    /** Indexes ordered as the contract says: larger first, NaN after every number, ties by index. */
    static int[] referenceTopK(float[] row, int k) {
        Comparator<Integer> order = (a, b) -> {
            float va = row[a];
            float vb = row[b];
            boolean na = Float.isNaN(va);
            boolean nb = Float.isNaN(vb);
            if (na != nb) {
                return na ? 1 : -1;
            }
            if (!na && va != vb) {
                return va > vb ? -1 : 1;
            }
            return Integer.compare(a, b);
        };
        return IntStream.range(0, row.length).boxed().sorted(order).limit(k).mapToInt(Integer::intValue).toArray();
    }

    @Test
    void topKIsDescendingWithTiesToLowerIndexAndNanLast() {
        Random rnd = random("topKIsDescendingWithTiesToLowerIndexAndNanLast");
        float[] pool = {-2f, -1f, -0f, 0f, 1f, 2f, Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 0.5f};
        for (int cols : new int[] {1, 9, 64}) {
            int rows = 3;
            float[] x = new float[rows * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = pool[rnd.nextInt(pool.length)];
            }
            for (int k : new int[] {1, Math.min(3, cols), cols}) {
                try (Tensor xt = Tensor.fromFloats(x, DType.F32, Shape.of(rows, cols));
                     Tensor v = Tensor.allocate(DType.F32, Shape.of(rows, k));
                     Tensor idx = Tensor.allocate(DType.I32, Shape.of(rows, k))) {
                    poison(v);
                    REFERENCE.topK(xt, k, v, idx);
                    float[] vs = v.toFloatArray();
                    long[] is = idx.toLongArray();
                    for (int r = 0; r < rows; r++) {
                        float[] row = Arrays.copyOfRange(x, r * cols, (r + 1) * cols);
                        int[] want = referenceTopK(row, k);
                        for (int i = 0; i < k; i++) {
                            String what = "topK cols " + cols + " k " + k + " row " + r + " rank " + i + " of " + Arrays.toString(row);
                            assertEquals(want[i], is[r * k + i], what + ": index");
                            assertEquals(Float.floatToIntBits(row[want[i]]), Float.floatToIntBits(vs[r * k + i]), what + ": value");
                        }
                    }
                }
            }
        }
    }

    // ---- convert ----

    /** Nearest bfloat16 by comparing the two neighbours in double; ties to the even one. */
    private static float bf16Nearest(float x) {
        if (Float.isNaN(x) || Float.isInfinite(x)) {
            return x;
        }
        int bits = Float.floatToRawIntBits(x);
        float down = Float.intBitsToFloat(bits & 0xFFFF_0000);
        float up = Float.intBitsToFloat((bits & 0xFFFF_0000) + 0x1_0000);
        // past the largest bfloat16 the next value up is infinity, as if it were 2^128
        double upValue = Float.isInfinite(up) ? Math.copySign(0x1p128, x) : up;
        double dd = Math.abs((double) x - down);
        double du = Math.abs(upValue - x);
        if (dd != du) {
            return dd < du ? down : up;
        }
        return ((bits >>> 16) & 1) == 0 ? down : up;
    }

    @Test
    void convertRoundsF32ToBf16NearestEvenAndWidensExactly() {
        Random rnd = random("convertRoundsF32ToBf16NearestEvenAndWidensExactly");
        int n = 512;
        float[] x = nonZeros(rnd, n, 1e-3f, 1e3f);
        for (int i = 0; i < 64; i++) { // exact ties between two bfloat16 values
            x[i] = Float.intBitsToFloat((Float.floatToRawIntBits(x[i]) & 0xFFFF_0000) | 0x8000);
        }
        x[100] = Float.MAX_VALUE;
        x[101] = -Float.MAX_VALUE;
        x[102] = Float.NaN;
        try (Tensor xt = Tensor.fromFloats(x, DType.F32, Shape.of(4, 128));
             Tensor b = Tensor.allocate(DType.BF16, Shape.of(4, 128));
             Tensor back = Tensor.allocate(DType.F32, Shape.of(4, 128))) {
            poison(b, back);
            REFERENCE.convert(xt, b);
            REFERENCE.convert(b, back);
            float[] got = back.toFloatArray();
            assertArrayEquals(b.toFloatArray(), got, "widening is exact");
            for (int i = 0; i < n; i++) {
                float want = bf16Nearest(x[i]);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[i]), "bf16(" + x[i] + ")");
            }
            assertEquals((short) 0x7FC0, BF16.encode(Float.NaN));
        }
    }
}

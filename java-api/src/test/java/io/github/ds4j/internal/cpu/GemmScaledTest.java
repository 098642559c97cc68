package io.github.ds4j.internal.cpu;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.format.UE8M0;
import io.github.ds4j.internal.checkpoint.RandomWeights;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The FP8 x FP8 and FP8 x MXFP4 GEMM fast paths (SIMD when the Vector API is loaded, and the
 * multi-threaded scalar loops) against a float64 implementation of the spec's semantics, and
 * against the scalar reference backend.
 */
class GemmScaledTest {
    private static final int[] MS = {1, 3, 17, 133};
    private static final int[] KS = {128, 384, 4096};
    /** Not a multiple of 128 (a partial weight-scale band) nor of any vector width. */
    private static final int N = 203;

    enum Op { FP8, FP4 }

    /** One GEMM's inputs; the activations may be a column slice of a wider tensor. */
    record Inputs(BlockScaled a, BlockScaled w, Tensor aWide, long seed) implements AutoCloseable {
        @Override
        public void close() {
            a.close();
            w.close();
            if (aWide != null) {
                aWide.close();
            }
        }
    }

    @Test
    void fp8GemmMatchesFloat64ReferenceOnRaggedShapes() {
        matchesReferenceOnRaggedShapes(Op.FP8, true);
    }

    @Test
    void fp4GemmMatchesFloat64ReferenceOnRaggedShapes() {
        matchesReferenceOnRaggedShapes(Op.FP4, true);
    }

    @Test
    void fp4GemmWithKNotAMultipleOf128MatchesFloat64Reference() {
        // MXFP4 blocks are 32 wide: K may end inside an activation block and inside a 128-code load.
        for (int k : new int[] {32, 160, 4000}) {
            for (int m : new int[] {1, 2, 9}) {
                long seed = new SplittableRandom().nextLong();
                try (Inputs in = inputs(Op.FP4, m, N, k, seed, (k & 64) != 0, false, m == 2)) {
                    check(in, Op.FP4, DType.F32, run(in, Op.FP4, DType.F32, true), "FP4 m=" + m + " k=" + k);
                }
            }
        }
    }

    @Test
    void scalarFastPathMatchesFloat64ReferenceAndScalarOpsBitForBit() {
        // The path that runs without jdk.incubator.vector: same arithmetic order as ScalarOps.
        for (Op op : Op.values()) {
            for (int m : new int[] {1, 17}) {
                long seed = new SplittableRandom().nextLong();
                try (Inputs in = inputs(op, m, N, 384, seed, m == 1, true, false)) {
                    float[] fast = run(in, op, DType.F32, false);
                    float[] ref = run(in, op, DType.F32, null);
                    assertEquals(0, Arrays.compare(fast, ref), op + " m=" + m + " seed=" + seed + ": not bit-identical to ScalarOps");
                    check(in, op, DType.F32, fast, "scalar " + op + " m=" + m);
                }
            }
        }
    }

    @Test
    void fastPathAgreesWithScalarReferenceBackend() {
        for (Op op : Op.values()) {
            for (int m : new int[] {1, 4, 5, 40}) {
                long seed = new SplittableRandom().nextLong();
                try (Inputs in = inputs(op, m, 131, 512, seed, (m & 1) == 0, false, false)) {
                    float[] fast = run(in, op, DType.F32, true);
                    float[] ref = run(in, op, DType.F32, null);
                    double[][] exact = reference(in, op);
                    for (int i = 0; i < fast.length; i++) {
                        double tol = 4e-6 * exact[1][i] + 1e-30;
                        if (!(Math.abs(fast[i] - ref[i]) <= tol)) {
                            fail(op + " m=" + m + " seed=" + seed + " element " + i + ": fast " + fast[i] + " vs scalar " + ref[i]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void everyFp8CodeAndWideScaleRangeDecodeLikeTheReference() {
        // Codes drawn uniformly over all non-NaN E4M3 values (subnormals included) and scales over
        // 2^-40..2^10, instead of the narrow range quantized Gaussians give.
        for (int m : new int[] {1, 9}) {
            long seed = new SplittableRandom().nextLong();
            SplittableRandom rng = new SplittableRandom(seed);
            int n = 70;
            int k = 256;
            try (Inputs in = new Inputs(
                    new BlockScaled(randomCodes(rng, m, k), randomE8m0(rng, m, k / 128, -40, 0), 1, 128),
                    new BlockScaled(randomCodes(rng, n, k), randomE8m0(rng, (n + 127) / 128, k / 128, -20, 7), 128, 128),
                    null, seed)) {
                check(in, Op.FP8, DType.F32, run(in, Op.FP8, DType.F32, true), "all codes m=" + m);
            }
        }
    }

    @Test
    void nanWeightCodeOrScaleMakesItsWholeOutputColumnNan() {
        for (Op op : Op.values()) {
            for (int m : new int[] {1, 2, 33}) {
                long seed = new SplittableRandom().nextLong();
                try (Inputs in = inputs(op, m, 150, 256, seed, true, false, false)) {
                    int col = 131;
                    if (op == Op.FP8) {
                        in.w.values().storage().segment().set(java.lang.foreign.ValueLayout.JAVA_BYTE,
                                in.w.values().byteOffset() + (long) col * 256 + 77, (byte) 0xFF);
                    } else {
                        in.w.scales().storage().segment().set(java.lang.foreign.ValueLayout.JAVA_BYTE,
                                in.w.scales().byteOffset() + (long) col * 8 + 5, UE8M0.NAN);
                    }
                    float[] y = run(in, op, DType.F32, true);
                    float[] ref = run(in, op, DType.F32, null);
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < 150; j++) {
                            float v = y[i * 150 + j];
                            String where = op + " seed=" + seed + " y[" + i + "," + j + "]=" + v;
                            if (j == col) {
                                assertTrue(Float.isNaN(v), where + ": expected NaN");
                            } else {
                                assertTrue(Math.abs(v - ref[i * 150 + j]) <= 1e-3f * Math.abs(ref[i * 150 + j]) + 1e-6f, where);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void nanActivationCodeMakesItsWholeOutputRowNan() {
        for (Op op : Op.values()) {
            for (int m : new int[] {1, 3, 33}) {
                long seed = new SplittableRandom().nextLong();
                try (Inputs in = inputs(op, m, 90, 256, seed, false, false, false)) {
                    int row = m / 2;
                    in.a.values().storage().segment().set(java.lang.foreign.ValueLayout.JAVA_BYTE,
                            in.a.values().byteOffset() + (long) row * 256 + 200, E4M3.NAN);
                    float[] y = run(in, op, DType.F32, true);
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < 90; j++) {
                            float v = y[i * 90 + j];
                            assertEquals(i == row, Float.isNaN(v), op + " seed=" + seed + " y[" + i + "," + j + "]=" + v);
                        }
                    }
                }
            }
        }
    }

    @Test
    void outputOtherThanF32OrBf16IsRejected() {
        try (Inputs in = inputs(Op.FP8, 2, 16, 128, 1, false, false, false);
             Tensor y = Tensor.allocate(DType.F16, Shape.of(2, 16))) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Gemm.fp8(in.a, in.w, y));
            assertEquals("y: expected F32 or BF16, got F16", e.getMessage());
        }
    }

    @Test
    void extremeWeightScalesStillMatchTheReference() {
        // 2^9 (FP8) and 2^3 (FP4) weight scales overflow the power of two the SIMD decode folds
        // in, and 2^-127 would make products subnormal: those columns take the exact path.
        // Both ops use E8M0 scales here: in.w.scales() holds one byte per block.
        for (Op op : Op.values()) {
            for (int m : new int[] {1, 20}) {
                long seed = new SplittableRandom().nextLong();
                try (Inputs in = inputs(op, m, 140, 256, seed, false, false, false)) {
                    var seg = in.w.scales().storage().segment();
                    long at = in.w.scales().byteOffset();
                    seg.set(java.lang.foreign.ValueLayout.JAVA_BYTE, at, UE8M0.fromExponent(op == Op.FP8 ? 9 : 3));
                    seg.set(java.lang.foreign.ValueLayout.JAVA_BYTE, at + 1, UE8M0.fromExponent(-127));
                    if (op == Op.FP8) {
                        // 2^7 on band 1 with a 2^2 activation scale: x * 2^120 * sW overflows, so
                        // the GEMV applies the factors per block instead of folding them into x.
                        seg.set(java.lang.foreign.ValueLayout.JAVA_BYTE, at + 2, UE8M0.fromExponent(7));
                        in.a.scales().storage().segment().set(java.lang.foreign.ValueLayout.JAVA_BYTE,
                                in.a.scales().byteOffset(), UE8M0.fromExponent(2));
                    }
                    check(in, op, DType.F32, run(in, op, DType.F32, true), "extreme scales m=" + m);
                }
            }
        }
    }

    // ---- the sweep ----

    private static void matchesReferenceOnRaggedShapes(Op op, boolean simd) {
        int caseNo = 0;
        for (int m : MS) {
            for (int k : KS) {
                long seed = new SplittableRandom().nextLong();
                // Cycle the dtypes and layouts over the cases so each shape class sees several.
                boolean f32Scales = (caseNo & 1) == 1;
                DType out = (caseNo / 2 & 1) == 0 ? DType.F32 : DType.BF16;
                boolean stridedA = caseNo % 3 == 0;
                caseNo++;
                try (Inputs in = inputs(op, m, N, k, seed, f32Scales, f32Scales, stridedA)) {
                    check(in, op, out, run(in, op, out, simd), op + " m=" + m + " k=" + k + " " + out
                            + (f32Scales ? " f32 scales" : " e8m0 scales") + (stridedA ? " strided a" : ""));
                }
            }
        }
    }

    /**
     * Runs the op into a NaN-poisoned column slice of a wider output; checks the poison outside
     * the slice survived and returns the slice. {@code simd} null runs the scalar reference backend.
     */
    static float[] run(Inputs in, Op op, DType out, Boolean simd) {
        int m = (int) in.a.rows();
        int n = (int) in.w.rows();
        int pad = 5;
        float[] poison = new float[m * (n + pad)];
        Arrays.fill(poison, Float.NaN);
        try (Tensor wide = Tensor.fromFloats(poison, out, Shape.of(m, n + pad))) {
            Tensor y = wide.slice(1, 2, 2 + n);
            if (simd == null) {
                if (op == Op.FP8) {
                    CpuBackend.scalarReference().fp8Gemm(in.a, in.w, y);
                } else {
                    CpuBackend.scalarReference().fp4Gemm(in.a, in.w, y);
                }
            } else if (op == Op.FP8) {
                Gemm.fp8(in.a, in.w, y, simd);
            } else {
                Gemm.fp4(in.a, in.w, y, simd);
            }
            float[] all = wide.toFloatArray();
            float[] got = new float[m * n];
            for (int i = 0; i < m; i++) {
                for (int c = 0; c < n + pad; c++) {
                    float v = all[i * (n + pad) + c];
                    if (c >= 2 && c < 2 + n) {
                        got[i * n + c - 2] = v;
                    } else if (!Float.isNaN(v)) {
                        fail("wrote outside y: row " + i + " column " + c + " (seed " + in.seed + ")");
                    }
                }
            }
            return got;
        }
    }

    /** Compares y with the float64 reference: f32 accumulation error, plus BF16 rounding. */
    static void check(Inputs in, Op op, DType out, float[] y, String what) {
        double[][] ref = reference(in, op);
        double rounding = out == DType.BF16 ? 0x1p-8 : 0;
        for (int i = 0; i < y.length; i++) {
            double err = Math.abs(y[i] - ref[0][i]);
            double tol = 2e-6 * ref[1][i] + rounding * Math.abs(ref[0][i]) + 1e-30;
            if (!(err <= tol)) {
                int n = (int) in.w.rows();
                fail(what + " seed=" + in.seed + ": y[" + i / n + "," + i % n + "] = " + y[i] + ", float64 reference "
                        + ref[0][i] + " (error " + err + " > " + tol + ")");
            }
        }
    }

    /**
     * The spec in float64: y[m,n] = sum over K blocks of (sum of qa*qw in the block) * sA * sW;
     * FP8 blocks of 128 with sW[n/128, kb], FP4 blocks of 32 with sW[n, k/32] and sA[m, k/128].
     * Returns {y, sum of |terms|} (the second sizes the f32 error bound).
     */
    static double[][] reference(Inputs in, Op op) {
        int m = (int) in.a.rows();
        int n = (int) in.w.rows();
        int k = (int) in.a.cols();
        float[] qa = in.a.values().toFloatArray();
        float[] sa = in.a.scales().toFloatArray();
        float[] qw = in.w.values().toFloatArray();
        float[] sw = in.w.scales().toFloatArray();
        int saCols = (int) in.a.scales().shape().last();
        int swCols = (int) in.w.scales().shape().last();
        int block = op == Op.FP8 ? 128 : 32;
        double[] y = new double[m * n];
        double[] mag = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                double abs = 0;
                for (int kb = 0; kb < k / block; kb++) {
                    double part = 0;
                    double partAbs = 0;
                    for (int c = kb * block; c < kb * block + block; c++) {
                        double p = (double) qa[i * k + c] * qw[j * k + c];
                        part += p;
                        partAbs += Math.abs(p);
                    }
                    double s = (double) sa[i * saCols + kb * block / 128]
                            * (op == Op.FP8 ? sw[(j / 128) * swCols + kb] : sw[j * swCols + kb]);
                    acc += part * s;
                    abs += partAbs * Math.abs(s);
                }
                y[i * n + j] = acc;
                mag[i * n + j] = abs;
            }
        }
        return new double[][] {y, mag};
    }

    // ---- inputs ----

    /**
     * Gaussian activations quantized like the model does (1x128, E8M0 or F32 scales; F32 scales
     * are then perturbed off powers of two) and random checkpoint-style weights.
     */
    static Inputs inputs(Op op, int m, int n, int k, long seed, boolean f32ActScales, boolean f32WeightScales, boolean stridedA) {
        RandomWeights rw = new RandomWeights(seed);
        SplittableRandom rng = new SplittableRandom(seed ^ 0x5DEECE66DL);
        try (Tensor x = rw.real(DType.F32, Shape.of(m, k), 1.0)) {
            Tensor q = Tensor.allocate(DType.F8_E4M3, Shape.of(m, k));
            Tensor sa = Tensor.allocate(f32ActScales ? DType.F32 : DType.F8_E8M0, Shape.of(m, (k + 127) / 128));
            CpuBackend.scalarReference().quantizeActivations(x, q, sa, 128);
            if (f32ActScales) {
                perturb(sa, rng);
            }
            Tensor aWide = null;
            Tensor aValues = q;
            if (stridedA) {
                aWide = Tensor.allocate(DType.F8_E4M3, Shape.of(m, k + 64));
                aValues = aWide.slice(1, 64, 64 + k);
                aValues.copyFrom(q);
                q.close();
            }
            BlockScaled a = new BlockScaled(aValues, sa, 1, 128);
            BlockScaled w;
            if (op == Op.FP8) {
                Tensor[] t = rw.fp8(n, k, 1.0 / Math.sqrt(k));
                w = new BlockScaled(t[0], f32WeightScales ? toF32(t[1], rng) : t[1], 128, 128);
            } else {
                Tensor[] t = rw.mxfp4(n, k, 1.0 / Math.sqrt(k));
                Tensor values = t[0].viewAs(DType.FP4_E2M1, Shape.of(n, k));
                w = new BlockScaled(ownedCopy(values), f32WeightScales ? toF32(t[1], rng) : t[1], 1, 32);
                t[0].close();
            }
            return new Inputs(a, w, aWide, seed);
        }
    }

    /** F32 copies of E8M0 scales times random factors in [0.5, 2): not powers of two. */
    private static Tensor toF32(Tensor e8m0, SplittableRandom rng) {
        float[] v = e8m0.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= (float) rng.nextDouble(0.5, 2.0);
        }
        Shape shape = e8m0.shape();
        e8m0.close();
        return Tensor.fromFloats(v, DType.F32, shape);
    }

    private static void perturb(Tensor f32, SplittableRandom rng) {
        float[] v = f32.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= (float) rng.nextDouble(0.5, 2.0);
        }
        f32.copyFrom(v);
    }

    private static Tensor ownedCopy(Tensor view) {
        Tensor t = Tensor.allocate(view.dtype(), view.shape());
        t.copyFrom(view);
        return t;
    }

    private static Tensor randomCodes(SplittableRandom rng, int rows, int cols) {
        byte[] b = new byte[rows * cols];
        for (int i = 0; i < b.length; i++) {
            do {
                b[i] = (byte) rng.nextInt(256);
            } while (E4M3.isNaN(b[i]));
        }
        return Tensor.fromBytes(b, DType.F8_E4M3, Shape.of(rows, cols));
    }

    private static Tensor randomE8m0(SplittableRandom rng, int rows, int cols, int minExp, int maxExp) {
        byte[] b = new byte[rows * cols];
        for (int i = 0; i < b.length; i++) {
            b[i] = UE8M0.fromExponent(rng.nextInt(minExp, maxExp + 1));
        }
        return Tensor.fromBytes(b, DType.F8_E8M0, Shape.of(rows, cols));
    }
}

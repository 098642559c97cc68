package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static io.github.ds4j.internal.cpu.RowsTestTensors.nonZero;
import static io.github.ds4j.internal.cpu.RowsTestTensors.random;
import static io.github.ds4j.internal.cpu.RowsTestTensors.rounded;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The scalar reference quantizers against a float64 implementation of spec §2 written here from
 * the format definitions: amax floors, s = 2^ceil(log2(amax/qmax)) with amax/qmax an f32 ratio,
 * clamping, and round-to-nearest-even onto the E4M3 and E2M1 grids.
 */
class ScalarQuantizationTest {
    private static final CpuBackend REFERENCE = CpuBackend.scalarReference();

    /** Non-negative finite E4M3 values in code order (code = index), from the format definition. */
    private static final double[] E4M3_GRID = e4m3Grid();
    /** Non-negative E2M1 values in code order. */
    private static final double[] E2M1_GRID = {0, 0.5, 1, 1.5, 2, 3, 4, 6};

    private static double[] e4m3Grid() {
        double[] g = new double[127];
        for (int code = 0; code < 127; code++) {
            int exp = code >> 3;
            int man = code & 7;
            g[code] = exp == 0 ? man / 8.0 * Math.pow(2, -6) : (1 + man / 8.0) * Math.pow(2, exp - 7);
        }
        return g;
    }

    /** Index of the grid value nearest to |v| (v already clamped into the grid's range); ties to the even index. */
    private static int nearest(double[] grid, double v) {
        double a = Math.abs(v);
        int best = 0;
        for (int i = 1; i < grid.length; i++) {
            double di = Math.abs(grid[i] - a);
            double db = Math.abs(grid[best] - a);
            if (di < db || (di == db && (i & 1) == 0)) {
                best = i;
            }
        }
        return best;
    }

    /** ceil(log2(v)) for the f32 ratio v, via the double exponent and an exactness check. */
    private static int ceilLog2(float ratio) {
        double v = ratio;
        int e = Math.getExponent(v);
        return Math.scalb(1.0, e) == v ? e : e + 1;
    }

    private static int scaleExponent(float[] x, int from, int to, float floor, float qmax) {
        double amax = 0;
        for (int c = from; c < to; c++) {
            amax = Math.max(amax, Math.abs((double) x[c]));
        }
        float ratio = (float) (Math.max(amax, floor) / qmax); // the reference divides in f32
        return ceilLog2(ratio);
    }

    /** Spec FP8 activation quantization of a row: codes (sign bit 0x80 | grid index) and scale exponents. */
    private static void referenceQuantize(float[] x, int block, byte[] codes, int[] exps) {
        for (int b = 0, from = 0; from < x.length; b++, from += block) {
            int to = Math.min(x.length, from + block);
            int e = scaleExponent(x, from, to, 1e-4f, 448f);
            exps[b] = e;
            double s = Math.scalb(1.0, e);
            for (int c = from; c < to; c++) {
                double v = Math.max(-448, Math.min(448, x[c] / s));
                codes[c] = (byte) ((x[c] < 0 ? 0x80 : 0) | nearest(E4M3_GRID, v));
            }
        }
    }

    /** Spec quantize-dequantize of a row: FP8 (qmax 448, floor 1e-4) or FP4 (qmax 6, floor 6*2^-126). */
    private static double[] referenceSimulate(float[] x, int block, boolean fp4) {
        double[] y = new double[x.length];
        double qmax = fp4 ? 6 : 448;
        for (int from = 0; from < x.length; from += block) {
            int to = Math.min(x.length, from + block);
            int e = fp4 ? scaleExponent(x, from, to, (float) (6 * Math.pow(2, -126)), 6f) : scaleExponent(x, from, to, 1e-4f, 448f);
            double s = Math.scalb(1.0, e);
            for (int c = from; c < to; c++) {
                double v = Math.max(-qmax, Math.min(qmax, x[c] / s));
                double q = (fp4 ? E2M1_GRID : E4M3_GRID)[nearest(fp4 ? E2M1_GRID : E4M3_GRID, v)];
                y[c] = (x[c] < 0 ? -q : q) * s;
            }
        }
        return y;
    }

    /**
     * Rows of blocks at random magnitudes (2^-40 .. 2^40, and around the amax floor), and blocks
     * whose first element is qmax * 2^k exactly followed by midpoints of the grid times 2^k, so
     * that every rounding tie is hit.
     */
    private static float[] quantInput(Random rnd, int n, int block, double[] grid, double qmax, int minExp) {
        float[] x = new float[n];
        for (int from = 0; from < n; from += block) {
            int to = Math.min(n, from + block);
            if (rnd.nextInt(3) == 0) {
                int k = minExp + rnd.nextInt(30 - minExp);
                x[from] = (float) Math.scalb(rnd.nextBoolean() ? qmax : -qmax, k);
                for (int c = from + 1; c < to; c++) {
                    int i = rnd.nextInt(grid.length - 1);
                    double mid = (grid[i] + grid[i + 1]) / 2;
                    double v = rnd.nextInt(4) == 0 ? grid[i + 1] : mid;
                    x[c] = (float) Math.scalb(rnd.nextBoolean() ? v : -v, k);
                    if (x[c] == 0) {
                        x[c] = (float) Math.scalb(grid[1] / 3, k);
                    }
                }
            } else {
                // wide magnitudes, or around the amax floor (FP8 1e-4 ~ 2^-13.3, FP4 6*2^-126 ~ 2^-123.4)
                int floorExp = qmax == 6 ? -123 : -13;
                int k = rnd.nextBoolean() ? -40 + rnd.nextInt(80) : floorExp - 3 + rnd.nextInt(7);
                for (int c = from; c < to; c++) {
                    x[c] = (float) Math.scalb(nonZero(rnd, 0.01f, 1f), k);
                }
            }
        }
        return x;
    }

    @Test
    void quantizeActivationsMatchesFloat64SpecWithBothScaleTypesAndBlockSizes() {
        Random rnd = random("quantizeActivationsMatchesFloat64SpecWithBothScaleTypesAndBlockSizes");
        int[][] cases = {{3, 384, 128}, {4, 320, 64}, {2, 200, 128}, {1, 128, 128}, {3, 100, 64}};
        for (int[] cs : cases) {
            int rows = cs[0];
            int cols = cs[1];
            int block = cs[2];
            int blocks = (cols + block - 1) / block;
            for (DType in : new DType[] {DType.F32, DType.BF16}) {
                float[] x = rounded(quantInput(rnd, rows * cols, block, E4M3_GRID, 448, -20), in);
                try (Tensor xt = Tensor.fromFloats(x, in, Shape.of(rows, cols));
                     Tensor q = Tensor.allocate(DType.F8_E4M3, Shape.of(rows, cols));
                     Tensor su = Tensor.allocate(DType.F8_E8M0, Shape.of(rows, blocks));
                     Tensor sf = Tensor.allocate(DType.F32, Shape.of(rows, blocks));
                     Tensor q2 = Tensor.allocate(DType.F8_E4M3, Shape.of(rows, cols))) {
                    poison(q, su, sf, q2);
                    REFERENCE.quantizeActivations(xt, q, su, block);
                    REFERENCE.quantizeActivations(xt, q2, sf, block);
                    byte[] codes = q.toByteArray();
                    byte[] codes2 = q2.toByteArray();
                    byte[] ue8m0 = su.toByteArray();
                    float[] f32 = sf.toFloatArray();
                    for (int r = 0; r < rows; r++) {
                        float[] row = java.util.Arrays.copyOfRange(x, r * cols, (r + 1) * cols);
                        byte[] want = new byte[cols];
                        int[] exps = new int[blocks];
                        referenceQuantize(row, block, want, exps);
                        String what = in + " [" + rows + ", " + cols + "] block " + block + " row " + r;
                        for (int c = 0; c < cols; c++) {
                            if (want[c] != codes[r * cols + c] || want[c] != codes2[r * cols + c]) {
                                fail(what + " col " + c + ": x = " + row[c] + ", scale 2^" + exps[c / block] + ": expected code 0x"
                                        + Integer.toHexString(want[c] & 0xFF) + ", got 0x" + Integer.toHexString(codes[r * cols + c] & 0xFF));
                            }
                        }
                        for (int b = 0; b < blocks; b++) {
                            assertEquals(exps[b] + 127, ue8m0[r * blocks + b] & 0xFF, what + " block " + b + ": UE8M0 scale code");
                            assertEquals(Math.scalb(1.0, exps[b]), f32[r * blocks + b], what + " block " + b + ": F32 scale");
                        }
                    }
                }
            }
        }
    }

    @Test
    void scaleIsTheSmallestPowerOfTwoThatBringsAmaxWithinQmax() {
        // amax exactly qmax * 2^k gives 2^k; one ulp above gives 2^(k+1); the floor bounds tiny blocks
        assertEquals(5, ScalarOps.blockExponent(448f * 32, false));
        assertEquals(6, ScalarOps.blockExponent(Math.nextUp(448f * 32), false));
        assertEquals(-3, ScalarOps.blockExponent(6f / 8, true));
        assertEquals(-2, ScalarOps.blockExponent(Math.nextUp(6f / 8), true));
        assertEquals(ceilLog2(1e-4f / 448f), ScalarOps.blockExponent(1e-30f, false));
        assertEquals(-126, ScalarOps.blockExponent(0x1p-140f, true));
        assertEquals(-126, ScalarOps.blockExponent(6f * 0x1p-126f, true));
        assertEquals(-125, ScalarOps.blockExponent(Math.nextUp(6f * 0x1p-126f), true));
    }

    @Test
    void fp8AndFp4SimulationMatchFloat64Spec() {
        Random rnd = random("fp8AndFp4SimulationMatchFloat64Spec");
        int[][] cases = {{3, 192, 64}, {2, 256, 128}, {4, 96, 32}, {2, 70, 32}};
        for (int[] cs : cases) {
            int rows = cs[0];
            int cols = cs[1];
            int block = cs[2];
            for (boolean fp4 : new boolean[] {false, true}) {
                for (DType in : new DType[] {DType.F32, DType.BF16}) {
                    float[] x = rounded(fp4
                            ? quantInput(rnd, rows * cols, block, E2M1_GRID, 6, -128)
                            : quantInput(rnd, rows * cols, block, E4M3_GRID, 448, -20), in);
                    for (DType out : new DType[] {DType.F32, DType.BF16}) {
                        try (Tensor xt = Tensor.fromFloats(x, in, Shape.of(rows, cols));
                             Tensor y = Tensor.allocate(out, Shape.of(rows, cols))) {
                            poison(y);
                            if (fp4) {
                                REFERENCE.fp4Simulate(xt, y, block);
                            } else {
                                REFERENCE.fp8Simulate(xt, y, block);
                            }
                            float[] got = y.toFloatArray();
                            for (int r = 0; r < rows; r++) {
                                double[] want = referenceSimulate(java.util.Arrays.copyOfRange(x, r * cols, (r + 1) * cols), block, fp4);
                                for (int c = 0; c < cols; c++) {
                                    // every simulated value is exact in f32 and bf16; the sign of zero too
                                    float w = (float) want[c];
                                    if (Float.floatToIntBits(w) != Float.floatToIntBits(got[r * cols + c])) {
                                        fail((fp4 ? "fp4" : "fp8") + " " + in + "->" + out + " [" + rows + ", " + cols + "] block " + block
                                                + " at (" + r + ", " + c + "): x = " + x[r * cols + c] + ", expected " + w + ", got " + got[r * cols + c]);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void blockWithNanOrInfinityBecomesNanAndLeavesOtherBlocksAlone() {
        Random rnd = random("blockWithNanOrInfinityBecomesNanAndLeavesOtherBlocksAlone");
        int block = 64;
        float[] x = RowsTestTensors.nonZeros(rnd, 3 * block, 0.1f, 3f);
        x[5] = Float.NaN;
        x[block + 7] = Float.NEGATIVE_INFINITY;
        try (Tensor xt = Tensor.fromFloats(x, DType.F32, Shape.of(1, 3 * block));
             Tensor q = Tensor.allocate(DType.F8_E4M3, Shape.of(1, 3 * block));
             Tensor su = Tensor.allocate(DType.F8_E8M0, Shape.of(1, 3));
             Tensor q2 = Tensor.allocate(DType.F8_E4M3, Shape.of(1, 3 * block));
             Tensor sf = Tensor.allocate(DType.F32, Shape.of(1, 3));
             Tensor y = Tensor.allocate(DType.F32, Shape.of(1, 3 * block));
             Tensor y4 = Tensor.allocate(DType.BF16, Shape.of(1, 3 * block))) {
            poison(q, su, q2, sf, y, y4);
            REFERENCE.quantizeActivations(xt, q, su, block);
            REFERENCE.quantizeActivations(xt, q2, sf, block);
            REFERENCE.fp8Simulate(xt, y, block);
            REFERENCE.fp4Simulate(xt, y4, block);
            byte[] codes = q.toByteArray();
            byte[] ue = su.toByteArray();
            float[] sfs = sf.toFloatArray();
            float[] sim = y.toFloatArray();
            float[] sim4 = y4.toFloatArray();
            for (int b = 0; b < 2; b++) {
                assertEquals(0xFF, ue[b] & 0xFF, "UE8M0 scale of non-finite block " + b);
                assertTrue(Float.isNaN(sfs[b]), "F32 scale of non-finite block " + b);
                for (int c = b * block; c < (b + 1) * block; c++) {
                    assertEquals(0x7F, codes[c] & 0x7F, "code " + c + " of non-finite block");
                    assertTrue(Float.isNaN(sim[c]) && Float.isNaN(sim4[c]), "simulated " + c + " of non-finite block");
                }
            }
            byte[] want = new byte[block];
            int[] exps = new int[1];
            referenceQuantize(java.util.Arrays.copyOfRange(x, 2 * block, 3 * block), block, want, exps);
            assertEquals(exps[0] + 127, ue[2] & 0xFF, "finite block's scale");
            for (int c = 0; c < block; c++) {
                assertEquals(want[c], codes[2 * block + c], "finite block's code " + c);
                assertTrue(!Float.isNaN(sim[2 * block + c]) && !Float.isNaN(sim4[2 * block + c]), "finite block's simulated " + c);
            }
        }
    }

    static void poison(Tensor... ts) {
        for (Tensor t : ts) {
            float[] nan = new float[Math.toIntExact(t.numel())];
            java.util.Arrays.fill(nan, Float.NaN);
            t.copyFrom(nan);
        }
    }
}

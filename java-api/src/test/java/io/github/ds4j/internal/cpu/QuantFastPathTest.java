package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.format.E2M1;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.internal.cpu.RowsFastPathTest.Path;
import io.github.ds4j.internal.cpu.RowsTestTensors.Held;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static io.github.ds4j.internal.cpu.RowsFastPathTest.fastPaths;
import static io.github.ds4j.internal.cpu.RowsTestTensors.assertOutsideUnchanged;
import static io.github.ds4j.internal.cpu.RowsTestTensors.assertSameBits;
import static io.github.ds4j.internal.cpu.RowsTestTensors.nonZero;
import static io.github.ds4j.internal.cpu.RowsTestTensors.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The fast block quantizers against the scalar reference, bit for bit: FP8 codes and scales
 * (UE8M0 and F32) for 1x128 and 1x64 blocks, and FP8/FP4 quantize-dequantize, on ragged shapes,
 * strided inputs, in place, with rounding ties, amax floors and non-finite blocks.
 */
class QuantFastPathTest {
    private static final CpuBackend REFERENCE = CpuBackend.scalarReference();

    /** [rows, cols, block]: whole blocks, a partial last block, widths below one vector, odd blocks. */
    private static final int[][] CASES = {
        {1, 128, 128}, {3, 384, 128}, {2, 448, 64}, {1, 200, 128}, {4, 100, 64},
        {2, 96, 32}, {3, 70, 32}, {2, 60, 20}, {1, 7, 64}, {200, 128, 64}, {600, 128, 128},
    };

    /**
     * Blocks at random magnitudes (2^-45 .. 2^40, so the FP8 and FP4 amax floors are hit), blocks
     * of exact E4M3 and E2M1 midpoints at a power-of-two scale (every rounding tie), and with
     * {@code specials} a NaN or an infinity in some blocks.
     */
    private static float[] input(Random rnd, int n, int block, boolean specials) {
        float[] x = new float[n];
        float[] e4m3 = positiveGrid(true);
        float[] e2m1 = positiveGrid(false);
        for (int from = 0; from < n; from += block) {
            int to = Math.min(n, from + block);
            int kind = rnd.nextInt(4);
            if (kind <= 1) {
                float[] grid = kind == 0 ? e4m3 : e2m1;
                int k = -20 + rnd.nextInt(40);
                x[from] = Math.scalb(rnd.nextBoolean() ? grid[grid.length - 1] : -grid[grid.length - 1], k);
                for (int c = from + 1; c < to; c++) {
                    int i = rnd.nextInt(grid.length - 1);
                    float v = rnd.nextBoolean() ? (grid[i] + grid[i + 1]) / 2 : grid[i + 1];
                    x[c] = Math.scalb(rnd.nextBoolean() ? v : -v, k);
                }
            } else {
                int k = kind == 2 ? -45 + rnd.nextInt(85) : -126 + rnd.nextInt(10);
                for (int c = from; c < to; c++) {
                    x[c] = Math.scalb(nonZero(rnd, 0.01f, 1f), k);
                }
            }
            if (specials && rnd.nextInt(4) == 0) {
                float[] pool = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
                x[from + rnd.nextInt(to - from)] = pool[rnd.nextInt(pool.length)];
            }
        }
        for (int i = 0; i < n; i++) {
            if (x[i] == 0) {
                x[i] = 0x1p-20f;
            }
        }
        return x;
    }

    private static float[] positiveGrid(boolean fp8) {
        float[] g = new float[fp8 ? 127 : 8];
        for (int code = 0; code < g.length; code++) {
            g[code] = fp8 ? E4M3.decode((byte) code) : E2M1.decode(code);
        }
        return g;
    }

    @Test
    void quantizeActivationsFastPathsMatchScalarReferenceBitForBit() {
        Random rnd = random("quantizeActivationsFastPathsMatchScalarReferenceBitForBit");
        for (int[] cs : CASES) {
            for (boolean specials : new boolean[] {false, true}) {
                float[] x = input(rnd, cs[0] * cs[1], cs[2], specials);
                for (DType in : new DType[] {DType.F32, DType.BF16}) {
                    for (DType scaleType : new DType[] {DType.F8_E8M0, DType.F32}) {
                        for (boolean strided : new boolean[] {false, true}) {
                            String what = "quantize " + in + " " + Arrays.toString(cs) + " scales " + scaleType
                                    + (strided ? " strided" : "") + (specials ? " with NaN/inf" : "");
                            byte[][] want = quantizeOn(Path.REFERENCE, x, in, cs, scaleType, strided, rnd);
                            for (Path p : fastPaths()) {
                                byte[][] got = quantizeOn(p, x, in, cs, scaleType, strided, rnd);
                                assertArrayEquals(want[0], got[0], what + ": codes on " + p);
                                assertArrayEquals(want[1], got[1], what + ": scales on " + p);
                            }
                        }
                    }
                }
            }
        }
    }

    private static byte[][] quantizeOn(Path p, float[] x, DType in, int[] cs, DType scaleType, boolean strided, Random rnd) {
        int rows = cs[0];
        int cols = cs[1];
        int block = cs[2];
        try (Held xh = Held.of(in, new long[] {rows, cols}, strided ? 7 : 0, 5).fill(x, rnd);
             Tensor q = Tensor.allocate(DType.F8_E4M3, Shape.of(rows, cols));
             Tensor s = Tensor.allocate(scaleType, Shape.of(rows, (cols + block - 1) / block))) {
            ScalarQuantizationTest.poison(q, s);
            switch (p) {
                case REFERENCE -> REFERENCE.quantizeActivations(xh.view(), q, s, block);
                case THREADS_SCALAR -> Quant.quantizeActivations(xh.view(), q, s, block, false);
                case THREADS_SIMD -> Quant.quantizeActivations(xh.view(), q, s, block, true);
            }
            return new byte[][] {q.toByteArray(), s.toByteArray()};
        }
    }

    @Test
    void fp8AndFp4SimulateFastPathsMatchScalarReferenceBitForBit() {
        Random rnd = random("fp8AndFp4SimulateFastPathsMatchScalarReferenceBitForBit");
        for (int[] cs : CASES) {
            for (boolean specials : new boolean[] {false, true}) {
                float[] x = input(rnd, cs[0] * cs[1], cs[2], specials);
                for (boolean fp4 : new boolean[] {false, true}) {
                    for (DType in : new DType[] {DType.F32, DType.BF16}) {
                        for (DType out : new DType[] {DType.F32, DType.BF16}) {
                            for (int layout = 0; layout < 3; layout++) { // contiguous, strided, strided in place
                                if (layout == 2 && in != out) {
                                    continue;
                                }
                                String what = (fp4 ? "fp4" : "fp8") + "Simulate " + in + "->" + out + " " + Arrays.toString(cs)
                                        + " layout " + layout + (specials ? " with NaN/inf" : "");
                                float[] want = simulateOn(Path.REFERENCE, fp4, x, in, out, cs, layout, rnd, what);
                                for (Path p : fastPaths()) {
                                    assertSameBits(want, simulateOn(p, fp4, x, in, out, cs, layout, rnd, what), what + " on " + p);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static float[] simulateOn(Path p, boolean fp4, float[] x, DType in, DType out, int[] cs, int layout, Random rnd, String what) {
        long[] shape = {cs[0], cs[1]};
        int block = cs[2];
        int pad = layout == 0 ? 0 : 3;
        try (Held xh = Held.of(in, shape, pad, 1).fill(x, rnd);
             Held fresh = layout == 2 ? null : Held.of(out, shape, pad, 2).poison()) {
            Held yh = layout == 2 ? xh : fresh;
            float[] before = yh.all();
            Tensor xv = xh.view();
            Tensor yv = yh.view();
            switch (p) {
                case REFERENCE -> {
                    if (fp4) {
                        REFERENCE.fp4Simulate(xv, yv, block);
                    } else {
                        REFERENCE.fp8Simulate(xv, yv, block);
                    }
                }
                case THREADS_SCALAR -> {
                    if (fp4) {
                        Quant.fp4Simulate(xv, yv, block, false);
                    } else {
                        Quant.fp8Simulate(xv, yv, block, false);
                    }
                }
                case THREADS_SIMD -> {
                    if (fp4) {
                        Quant.fp4Simulate(xv, yv, block, true);
                    } else {
                        Quant.fp8Simulate(xv, yv, block, true);
                    }
                }
            }
            assertOutsideUnchanged(yh, before, what + " on " + p);
            return yh.values();
        }
    }
}

package io.github.ds4j.cuda.internal;

import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Tensor;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.format.UE8M0;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every non-GEMM CUDA op against the CPU scalar reference on fresh random inputs: ragged shapes,
 * row-strided inputs and outputs, F32 and BF16 in and out. Quantized results and the ops whose
 * arithmetic is the reference's (Hadamard, conversions) must match bit for bit; the others within
 * a bound for their output dtype. Skipped, with the reason, where there is no CUDA device.
 */
class CudaOpsTest extends GpuTestBase {
    private static final DType[] REAL = {DType.F32, DType.BF16};
    /** Norm-relative bounds: f32 results differ from the CPU only by summation order or one rounding. */
    private static final double F32_TOLERANCE = 1e-6;
    /** One bf16 rounding step is 2^-8 relative; results differ by at most one, rarely. */
    private static final double BF16_TOLERANCE = 4e-3;

    private static double tolerance(DType out) {
        return out == DType.BF16 ? BF16_TOLERANCE : F32_TOLERANCE;
    }

    /** A device input [rows, cols], row-strided when pad > 0, and the same values on the host. */
    private record In(Tensor host, Tensor device) {
    }

    private In input(float[] values, DType dtype, long rows, long cols, int pad) {
        float[] wide = new float[Math.toIntExact(rows * (cols + pad))];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < pad; c++) {
                wide[(int) (r * (cols + pad) + c)] = (float) rng.nextGaussian() * 1e6f; // must never be read
            }
            System.arraycopy(values, (int) (r * cols), wide, (int) (r * (cols + pad) + pad), (int) cols);
        }
        Tensor hostParent = hostOf(wide, dtype, rows, cols + pad);
        Tensor deviceParent = upload(hostParent);
        return new In(lastColumns(hostParent, cols), lastColumns(deviceParent, cols));
    }

    // ---- quantization ----

    @Test
    void activationQuantizationMatchesCpuBitForBitOnRaggedStridedRows() {
        int[][] shapes = {{1, 1}, {7, 3}, {33, 5}, {2, 56}};
        for (int block : new int[] {128, 64, 32}) {
            for (DType in : REAL) {
                for (DType scaleType : new DType[] {DType.F8_E8M0, DType.F32}) {
                    for (int[] s : shapes) {
                        int rows = s[0];
                        int cols = s[1] * block;
                        float[] v = gaussianRows(rows, cols, 40);
                        v[0] = 3e-7f; // with its row tiny or not, exercises the 1e-4 amax floor
                        In x = input(v, in, rows, cols, rng.nextInt(3) * 8);
                        Out q = output(DType.F8_E4M3, rows, cols, 0);
                        Out sc = output(scaleType, rows, cols / block, 0);
                        gpu.quantizeActivations(x.device(), q.view(), sc.view(), block);
                        Tensor qRef = cpuOut(DType.F8_E4M3, rows, cols);
                        Tensor sRef = cpuOut(scaleType, rows, cols / block);
                        cpu.quantizeActivations(x.host(), qRef, sRef, block);
                        String what = "quantize " + in + " [" + rows + ", " + cols + "] block " + block + " " + scaleType;
                        assertSameBytes(qRef.toByteArray(), q.bytes(), what + " codes");
                        assertSameBytes(sRef.toByteArray(), sc.bytes(), what + " scales");
                    }
                }
            }
        }
    }

    @Test
    void blocksWithNanOrInfinityGetNanScalesAndNanCodes() {
        assumeKernels(); // the CPU reference of this branch rejects non-finite blocks
        int block = 32;
        float[] v = gaussianRows(2, 3 * block, 0);
        v[5] = Float.NaN;                 // row 0, block 0
        v[block + 1] = Float.POSITIVE_INFINITY; // row 0, block 1
        v[3 * block + 2 * block] = Float.NEGATIVE_INFINITY; // row 1, block 2
        In x = input(v, DType.F32, 2, 3 * block, 0);
        Out q = output(DType.F8_E4M3, 2, 3 * block, 0);
        Out sc = output(DType.F8_E8M0, 2, 3, 0);
        gpu.quantizeActivations(x.device(), q.view(), sc.view(), block);
        byte[] codes = q.bytes();
        byte[] scales = sc.bytes();
        // the finite blocks against the CPU on the same values with the bad ones replaced
        float[] finite = v.clone();
        finite[5] = finite[block + 1] = finite[5 * block] = 1f;
        Tensor qRef = cpuOut(DType.F8_E4M3, 2, 3 * block);
        Tensor sRef = cpuOut(DType.F8_E8M0, 2, 3);
        cpu.quantizeActivations(hostOf(finite, DType.F32, 2, 3 * block), qRef, sRef, block);
        byte[] wantCodes = qRef.toByteArray();
        byte[] wantScales = sRef.toByteArray();
        boolean[] bad = {true, true, false, false, false, true};
        for (int b = 0; b < 6; b++) {
            assertEquals(bad[b] ? UE8M0.NAN : wantScales[b], scales[b], "scale of block " + b);
            for (int c = 0; c < block; c++) {
                int i = b * block + c;
                assertEquals(bad[b] ? E4M3.NAN : wantCodes[i], codes[i], "code " + i);
            }
        }
        Out y = output(DType.F32, 2, 3 * block, 0);
        gpu.fp4Simulate(x.device(), y.view(), block);
        float[] sim = y.values();
        for (int i = 0; i < sim.length; i++) {
            assertEquals(bad[i / block], Float.isNaN(sim[i]), "fp4 sim element " + i);
        }
    }

    @Test
    void fp8AndFp4SimulationMatchCpuBitForBit() {
        int[][] shapes = {{1, 1}, {5, 3}, {40, 7}};
        for (boolean fp4 : new boolean[] {false, true}) {
            for (int block : fp4 ? new int[] {32, 16} : new int[] {64, 128}) {
                for (DType in : REAL) {
                    for (DType out : REAL) {
                        for (int[] s : shapes) {
                            int rows = s[0];
                            int cols = s[1] * block;
                            In x = input(gaussianRows(rows, cols, 60), in, rows, cols, rng.nextInt(2) * 5);
                            Out y = output(out, rows, cols, rng.nextInt(2) * 3);
                            Tensor ref = cpuOut(out, rows, cols);
                            if (fp4) {
                                gpu.fp4Simulate(x.device(), y.view(), block);
                                cpu.fp4Simulate(x.host(), ref, block);
                            } else {
                                gpu.fp8Simulate(x.device(), y.view(), block);
                                cpu.fp8Simulate(x.host(), ref, block);
                            }
                            assertSameFloats(ref.toFloatArray(), y.values(), (fp4 ? "fp4" : "fp8") + " sim " + in + "->" + out
                                    + " [" + rows + ", " + cols + "] block " + block);
                        }
                    }
                }
            }
        }
    }

    @Test
    void simulationInPlaceEqualsSimulationIntoANewTensor() {
        int rows = 9;
        int cols = 448;
        float[] v = gaussianRows(rows, cols, 10);
        Tensor host = hostOf(v, DType.BF16, rows, cols);
        Tensor x = upload(host);
        gpu.fp8Simulate(x, x, 64);
        Tensor ref = cpuOut(DType.BF16, rows, cols);
        cpu.fp8Simulate(host, ref, 64);
        assertSameFloats(ref.toFloatArray(), x.toFloatArray(), "fp8 sim in place");
    }

    // ---- element-wise and per-row ops ----

    @Test
    void conversionsBetweenRealDtypesMatchCpuExactly() {
        DType[] all = {DType.F32, DType.BF16, DType.F16};
        for (DType in : all) {
            for (DType out : all) {
                int rows = 1 + rng.nextInt(20);
                int cols = 1 + rng.nextInt(300);
                float[] v = gaussianRows(rows, cols, 20); // past the F16 range and into its subnormals
                In x = input(v, in, rows, cols, rng.nextInt(3));
                Out y = output(out, rows, cols, rng.nextInt(3));
                gpu.convert(x.device(), y.view());
                Tensor ref = cpuOut(out, rows, cols);
                cpu.convert(x.host(), ref);
                assertSameFloats(ref.toFloatArray(), y.values(), "convert " + in + " -> " + out);
            }
        }
    }

    @Test
    void rmsNormMatchesCpuWithAndWithoutWeight() {
        int[][] shapes = {{1, 1}, {3, 37}, {17, 512}, {5, 7168}};
        for (DType in : REAL) {
            for (DType out : REAL) {
                for (int[] s : shapes) {
                    for (DType weightType : new DType[] {null, DType.F32, DType.BF16}) {
                        int rows = s[0];
                        int cols = s[1];
                        In x = input(gaussianRows(rows, cols, 30), in, rows, cols, rng.nextInt(2) * 4);
                        Tensor wHost = weightType == null ? null : hostOf(gaussianRows(1, cols, 0), weightType, cols);
                        Tensor w = wHost == null ? null : upload(wHost);
                        Out y = output(out, rows, cols, rng.nextInt(2));
                        gpu.rmsNorm(x.device(), w, 1e-6f, y.view());
                        Tensor ref = cpuOut(out, rows, cols);
                        cpu.rmsNorm(x.host(), wHost, 1e-6f, ref);
                        assertClose(ref.toFloatArray(), y.values(), tolerance(out),
                                "rmsnorm " + in + "->" + out + " [" + rows + ", " + cols + "] weight " + weightType);
                    }
                }
            }
        }
    }

    @Test
    void softmaxMatchesCpuOnWideRangesAndMinusInfinity() {
        int[][] shapes = {{1, 1}, {4, 33}, {9, 384}, {3, 4099}};
        for (DType in : REAL) {
            for (DType out : REAL) {
                for (int[] s : shapes) {
                    int rows = s[0];
                    int cols = s[1];
                    float[] v = gaussianRows(rows, cols, 0);
                    for (int i = 0; i < v.length; i++) {
                        v[i] *= 30f;
                        if (cols > 1 && rng.nextInt(10) == 0) {
                            v[i] = Float.NEGATIVE_INFINITY; // masked entries
                        }
                    }
                    In x = input(v, in, rows, cols, rng.nextInt(2) * 2);
                    Out y = output(out, rows, cols, rng.nextInt(2));
                    gpu.softmax(x.device(), y.view());
                    Tensor ref = cpuOut(out, rows, cols);
                    cpu.softmax(x.host(), ref);
                    assertClose(ref.toFloatArray(), y.values(), tolerance(out), "softmax " + in + "->" + out + " " + rows + "x" + cols);
                }
            }
        }
    }

    @Test
    void softmaxOfAnAllMinusInfinityRowIsNanAsOnTheCpu() {
        // The output starts at zero (not the NaN poison) so that an unwritten row would show.
        for (DType in : REAL) {
            int cols = 1 + rng.nextInt(700);
            float[] v = gaussianRows(3, cols, 0);
            java.util.Arrays.fill(v, cols, 2 * cols, Float.NEGATIVE_INFINITY);
            In x = input(v, in, 3, cols, 0);
            Tensor y = upload(hostOf(new float[3 * cols], DType.F32, 3, cols));
            gpu.softmax(x.device(), y);
            Tensor ref = cpuOut(DType.F32, 3, cols);
            cpu.softmax(x.host(), ref);
            float[] got;
            try (Tensor back = y.toHost()) {
                got = back.toFloatArray();
            }
            float[] want = ref.toFloatArray();
            for (int c = 0; c < cols; c++) {
                org.junit.jupiter.api.Assertions.assertTrue(Float.isNaN(want[cols + c]), "CPU softmax of an all -inf row");
                org.junit.jupiter.api.Assertions.assertTrue(Float.isNaN(got[cols + c]),
                        "softmax " + in + " all -inf row, column " + c + ": " + got[cols + c]);
            }
            assertClose(want, got, F32_TOLERANCE, "softmax " + in + " rows around an all -inf row");
        }
    }

    @Test
    void ropeOfOneVectorMatchesCpu() {
        // A rank-1 x is one row at position start.
        RopeSpec spec = new RopeSpec(64, 160000, new RopeSpec.Yarn(16, 65536, 32, 1));
        for (DType in : REAL) {
            for (boolean inverse : new boolean[] {false, true}) {
                long start = rng.nextInt(1 << 20);
                Tensor host = hostOf(gaussianRows(1, 64, 2), in, 64);
                Tensor dev = upload(host);
                Tensor y = upload(hostOf(new float[64], in, 64));
                gpu.rope(dev, y, spec, start, inverse);
                Tensor ref = cpuOut(in, 64);
                cpu.rope(host, ref, spec, start, inverse);
                try (Tensor back = y.toHost()) {
                    assertClose(ref.toFloatArray(), back.toFloatArray(), tolerance(in),
                            "rope of one vector " + in + " start " + start + (inverse ? " inverse" : ""));
                }
            }
        }
    }

    @Test
    void swigluMatchesCpuWithAndWithoutClamp() {
        for (DType in : REAL) {
            for (DType out : REAL) {
                for (float limit : new float[] {0f, 10f}) {
                    int rows = 1 + rng.nextInt(12);
                    int cols = 1 + rng.nextInt(3072);
                    float[] g = gaussianRows(rows, cols, 0);
                    float[] u = gaussianRows(rows, cols, 0);
                    for (int i = 0; i < g.length; i++) {
                        g[i] *= 12f; // past the clamp both ways
                        u[i] *= 12f;
                    }
                    In gate = input(g, in, rows, cols, rng.nextInt(2));
                    In up = input(u, in, rows, cols, rng.nextInt(2) * 3);
                    Out y = output(out, rows, cols, rng.nextInt(2));
                    gpu.swiglu(gate.device(), up.device(), limit, y.view());
                    Tensor ref = cpuOut(out, rows, cols);
                    cpu.swiglu(gate.host(), up.host(), limit, ref);
                    assertClose(ref.toFloatArray(), y.values(), tolerance(out), "swiglu " + in + "->" + out + " limit " + limit);
                }
            }
        }
    }

    @Test
    void ropeMatchesCpuForwardAndInverseOnStridedHeads() {
        RopeSpec[] specs = {RopeSpec.plain(64, 10000), new RopeSpec(64, 160000, new RopeSpec.Yarn(16, 65536, 32, 1)),
            RopeSpec.plain(6, 10000)};
        for (RopeSpec spec : specs) {
            for (DType in : REAL) {
                for (boolean inverse : new boolean[] {false, true}) {
                    for (long start : new long[] {0, 987_654}) {
                        int seq = 1 + rng.nextInt(9);
                        int heads = 1 + rng.nextInt(4);
                        int r = spec.dims();
                        int width = r + 16 * rng.nextInt(3); // the rope dims are the last r of each head
                        float[] v = gaussianRows((long) seq * heads, width, 2);
                        Tensor hostHead = hostOf(v, in, seq, heads, width);
                        Tensor devHead = upload(hostHead);
                        Tensor xh = hostHead.slice(2, width - r, width);
                        Tensor xd = devHead.slice(2, width - r, width);
                        Out y = output(in, (long) seq * heads, r, rng.nextInt(2) * 2);
                        Tensor yv = reshapeView(y, seq, heads, r);
                        gpu.rope(xd, yv, spec, start, inverse);
                        Tensor ref = cpuOut(in, seq, heads, r);
                        cpu.rope(xh, ref, spec, start, inverse);
                        assertClose(ref.toFloatArray(), y.values(), tolerance(in),
                                "rope " + in + " dims " + r + " start " + start + (inverse ? " inverse" : ""));
                        // in place on the strided columns
                        gpu.rope(xd, xd, spec, start, inverse);
                        try (Tensor back = devHead.toHost()) {
                            assertClose(ref.toFloatArray(), back.slice(2, width - r, width).toFloatArray(), tolerance(in),
                                    "rope in place " + in);
                        }
                    }
                }
            }
        }
    }

    /** The output view [seq*heads, r] of a poisoned parent, seen as [seq, heads, r]. */
    private static Tensor reshapeView(Out y, int seq, int heads, int r) {
        Tensor parent = y.parent();
        long width = parent.dim(-1);
        return parent.reshape(seq, heads, width).slice(2, width - r, width);
    }

    @Test
    void hadamardMatchesCpuBitForBitIncludingRowsPastSharedMemory() {
        int[][] cases = {{5, 1}, {3, 2}, {7, 8}, {33, 128}, {4, 512}, {3, 16384}, {2, 1 << 16}};
        for (int[] c : cases) {
            for (DType in : REAL) {
                DType out = rng.nextBoolean() ? DType.F32 : DType.BF16;
                int rows = c[0];
                int d = c[1];
                In x = input(gaussianRows(rows, d, 5), in, rows, d, rng.nextInt(2) * 2);
                Out y = output(out, rows, d, rng.nextInt(2));
                gpu.hadamard(x.device(), y.view());
                Tensor ref = cpuOut(out, rows, d);
                cpu.hadamard(x.host(), ref);
                assertSameFloats(ref.toFloatArray(), y.values(), "hadamard " + in + "->" + out + " d " + d);
            }
        }
    }

    @Test
    void topKMatchesCpuWithTiesNanAndSignedZeros() {
        int[][] cases = {{3, 1, 1}, {5, 7, 3}, {11, 300, 6}, {4, 2049, 64}, {2, 512, 512}, {6, 384, 6}, {3, 9000, 5000}};
        for (int[] c : cases) {
            for (DType in : REAL) {
                int rows = c[0];
                int cols = c[1];
                int k = c[2];
                float[] v = new float[rows * cols];
                for (int i = 0; i < v.length; i++) {
                    int pick = rng.nextInt(40);
                    v[i] = pick == 0 ? Float.NaN : pick == 1 ? -0f : pick == 2 ? 0f
                            : Math.round(rng.nextGaussian() * 6) / 4f; // few distinct values: many ties
                }
                In x = input(v, in, rows, cols, rng.nextInt(2) * 3);
                Out values = output(DType.F32, rows, k, 0);
                Out indices = output(DType.I32, rows, k, 0);
                gpu.topK(x.device(), k, values.view(), indices.view());
                Tensor vRef = cpuOut(DType.F32, rows, k);
                Tensor iRef = cpuOut(DType.I32, rows, k);
                cpu.topK(x.host(), k, vRef, iRef);
                String what = "topk " + in + " [" + rows + ", " + cols + "] k " + k;
                assertSameBytes(iRef.toByteArray(), indices.bytes(), what + " indices");
                assertSameFloats(vRef.toFloatArray(), values.values(), what + " values");
            }
        }
    }

    // ---- linear ----

    @Test
    void linearMatchesCpuOnRaggedShapesForEveryDtypeMix() {
        int[][] shapes = {{1, 1, 1}, {3, 70, 33}, {130, 257, 100}, {64, 128, 512}, {200, 64, 1000}, {1, 300, 4096}};
        DType[][] mixes = {
            {DType.F32, DType.F32, DType.F32}, {DType.BF16, DType.BF16, DType.F32}, {DType.BF16, DType.BF16, DType.BF16},
            {DType.BF16, DType.F32, DType.F32}, {DType.F32, DType.BF16, DType.BF16}};
        for (int[] s : shapes) {
            for (DType[] mix : mixes) {
                int m = s[0];
                int n = s[1];
                int k = s[2];
                In x = input(gaussianRows(m, k, 0), mix[0], m, k, rng.nextInt(2) * 8);
                In w = input(gaussianRows(n, k, 0), mix[1], n, k, rng.nextInt(2) * 2);
                Out y = output(mix[2], m, n, rng.nextInt(2) * 4);
                gpu.linear(x.device(), w.device(), y.view());
                Tensor ref = cpuOut(mix[2], m, n);
                cpu.linear(x.host(), w.host(), ref);
                // f32 sums in another order: error grows like sqrt(K) roundings
                double tol = mix[2] == DType.BF16 ? BF16_TOLERANCE : 5e-6 * Math.sqrt(k);
                assertClose(ref.toFloatArray(), y.values(), tol, "linear " + mix[0] + "x" + mix[1] + "->" + mix[2]
                        + " M " + m + " N " + n + " K " + k);
            }
        }
    }

    // ---- copies ----

    @Test
    void copiesBetweenStridedDeviceViewsKeepEveryRow() {
        for (DType t : new DType[] {DType.F32, DType.BF16, DType.F8_E4M3}) {
            int rows = 1 + rng.nextInt(30);
            int cols = 1 + rng.nextInt(200);
            float[] v = gaussianRows(rows, cols, 3);
            Tensor hostSrc = hostOf(v, t, rows, cols);
            Tensor src = upload(hostSrc);
            Out dst = output(t, rows, cols, 1 + rng.nextInt(5));
            gpu.copy(src, dst.view());
            assertSameFloats(hostSrc.toFloatArray(), dst.values(), "copy " + t + " into a strided view");
            Tensor back = poisoned(t, rows, cols);
            gpu.copy(dst.view(), back);
            assertSameFloats(hostSrc.toFloatArray(), back.toFloatArray(), "copy " + t + " out of a strided view");
        }
    }
}

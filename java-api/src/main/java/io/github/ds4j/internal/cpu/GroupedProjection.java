package io.github.ds4j.internal.cpu;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.format.BF16;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.internal.HostMemory;
import io.github.ds4j.spi.AttentionKernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The attention's grouped output projection on the CPU ({@link AttentionKernels#groupedProjection}):
 * real activations times an FP8 weight used as its bf16 dequantization. The weight stays FP8 in
 * memory (half the bytes of the bf16 copy the reference keeps):
 * <ul>
 *   <li>the reference, and the fast path of a prefill (more than {@link GemmSimd#STREAM_MAX_M}
 *       rows), dequantize it to bf16 for the call and run the linear op per group, exactly as a
 *       stored bf16 copy would (the GEMM reuses each weight for many rows, so the dequantization
 *       costs little there);</li>
 *   <li>the fast path of a decode step streams the FP8 codes once per row ({@link AttentionSimd#fp8Rows}),
 *       with each 128x128 block's scale folded into the activations. Bands whose scales are not
 *       moderate, and rows that hold a NaN code, are computed with the reference's arithmetic.</li>
 * </ul>
 */
final class GroupedProjection {
    /** Weight scales folded into the activations are below this (with 2^120, the factor stays finite). */
    private static final float MAX_FOLDED_SCALE = 0x1p7f;

    private GroupedProjection() {
    }

    static void run(Tensor o, BlockScaled w, int groups, Tensor z, boolean fast) {
        int rows = Math.toIntExact(o.shape().rows());
        if (rows == 0) {
            return;
        }
        if (fast && CpuPath.simd() && rows <= GemmSimd.STREAM_MAX_M && w.values().dtype() == DType.F8_E4M3) {
            stream(o, w, groups, z);
            return;
        }
        try (Tensor wb = dequantize(w)) {
            long r = w.rows() / groups;
            long in = w.cols();
            for (int g = 0; g < groups; g++) {
                Tensor og = o.slice(-1, g * in, (g + 1) * in);
                Tensor wg = wb.slice(0, g * r, (g + 1) * r);
                Tensor zg = z.slice(-1, g * r, (g + 1) * r);
                if (fast) {
                    Gemm.linear(og, wg, zg);
                } else {
                    ScalarOps.linear(og, wg, zg);
                }
            }
        }
    }

    /** The weight as bf16 [N, I]: each E4M3 value times its block's scale, rounded to bf16. */
    static Tensor dequantize(BlockScaled w) {
        int n = Math.toIntExact(w.rows());
        int in = Math.toIntExact(w.cols());
        float[] scales = w.scales().toFloatArray();
        int scaleCols = Math.toIntExact(w.scales().shape().last());
        float[] table = E4M3.decodeTable();
        MemorySegment codes = w.values().storage().segment();
        long codeAt = w.values().byteOffset();
        long codeRow = w.values().rowStride();
        Tensor out = Tensor.allocate(DType.BF16, Shape.of(n, in));
        MemorySegment dst = out.storage().segment();
        long dstAt = out.offset();
        Parallel.forRange(n, 64, (lo, hi) -> {
            for (long j = lo; j < hi; j++) {
                long row = codeAt + j * codeRow;
                int sAt = (int) (j >>> 7) * scaleCols;
                for (int c = 0; c < in; c++) {
                    float v = table[codes.get(ValueLayout.JAVA_BYTE, row + c) & 0xFF] * scales[sAt + (c >>> 7)];
                    dst.setAtIndex(HostMemory.I16, dstAt + j * in + c, BF16.encode(v));
                }
            }
        });
        return out;
    }

    /** The decode path: few rows, each weight code read once per row. */
    private static void stream(Tensor o, BlockScaled w, int groups, Tensor z) {
        RowAccess os = new RowAccess(o);
        RowAccess zs = new RowAccess(z);
        int rows = Math.toIntExact(os.rows);
        int n = Math.toIntExact(w.rows());
        int r = n / groups;
        int in = Math.toIntExact(w.cols());
        float[] scales = w.scales().toFloatArray();
        int scaleCols = Math.toIntExact(w.scales().shape().last());
        MemorySegment codes = w.values().storage().segment();
        long codeAt = w.values().byteOffset();
        long codeRow = w.values().rowStride();
        float[][] x = new float[rows][];
        float[][] y = new float[rows][n];
        for (int i = 0; i < rows; i++) {
            x[i] = new float[os.cols];
            RowsSimd.read(os, i, x[i]);
        }
        Weights wt = new Weights(codes, codeAt, codeRow, scales, scaleCols, in);
        // Pieces of whole 128-row bands (one folding of the activations each).
        Gemm.dynamic(n, 128, (n0, n1) -> {
            float[] xs = new float[in];
            for (int i = 0; i < rows; i++) {
                int j = n0;
                while (j < n1) {
                    int g = j / r;
                    int band = j >>> 7;
                    int end = Math.min(n1, Math.min((band + 1) << 7, (g + 1) * r));
                    boolean folded = in % 128 == 0 && fold(x[i], g * in, in, scales, band * scaleCols, xs);
                    if (folded) {
                        j = AttentionSimd.fp8Rows(codes, codeAt, codeRow, xs, in, j, end, y[i]);
                    }
                    for (; j < end; j++) {
                        y[i][j] = exact(wt, x[i], g * in, j);
                    }
                }
            }
        });
        // Rows whose codes hold a NaN were marked with NaN sums: recompute them exactly.
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < n; j++) {
                if (Float.isNaN(y[i][j])) {
                    y[i][j] = exact(wt, x[i], (j / r) * in, j);
                }
            }
            RowsSimd.write(zs, i, y[i]);
        }
    }

    /**
     * xs = x[at..at+in) times the band's block factors (scale * 2^120, so that shifted E4M3 codes
     * times xs are the scaled products); false when a scale is not a power of two in
     * [TINY_SCALE, 2^7) (an F32 scale may be anything; then E4M3 times scale may need rounding to
     * bf16) or a product is not finite. The band then takes the exact path.
     */
    private static boolean fold(float[] x, int at, int in, float[] scales, int sAt, float[] xs) {
        for (int b = 0; b < in / 128; b++) {
            float s = scales[sAt + b];
            if (!(s >= Gemm.TINY_SCALE && s < MAX_FOLDED_SCALE) || (Float.floatToRawIntBits(s) & 0x7F_FFFF) != 0) {
                return false;
            }
        }
        return AttentionSimd.fold(x, at, in, scales, sAt, GemmSimd.E4M3_UNIT, xs);
    }

    /** The codes and scales of the weight, for the exact path. */
    private record Weights(MemorySegment codes, long at, long rowBytes, float[] scales, int scaleCols, int in) {
    }

    /** Row j of the weight times x[at..at+in), as the reference computes it. */
    private static float exact(Weights w, float[] x, int at, int j) {
        long row = w.at + j * w.rowBytes;
        int sAt = (j >>> 7) * w.scaleCols;
        float acc = 0;
        for (int c = 0; c < w.in; c++) {
            float v = E4M3.decode(w.codes.get(ValueLayout.JAVA_BYTE, row + c)) * w.scales[sAt + (c >>> 7)];
            acc += x[at + c] * BF16.decode(BF16.encode(v));
        }
        return acc;
    }
}

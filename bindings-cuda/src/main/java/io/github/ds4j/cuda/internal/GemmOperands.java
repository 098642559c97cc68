package io.github.ds4j.cuda.internal;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Tensor;

import java.util.Arrays;

/**
 * The operands of one GEMM as the kernels see them: device addresses, sizes, the output row
 * stride and the flag bits of kernels/cuda/include/gemm_common.cuh.
 *
 * @param a         address of the E4M3 activations [m, k]
 * @param aScale    address of their scales [m, k/128]
 * @param w         address of the weights: E4M3 [n, k] or packed E2M1 [n, k/2 bytes]
 * @param wScale    address of the weight scales
 * @param y         address of the output [m, n]
 * @param yStride   elements between output rows
 * @param flags     FLAG_* bits
 * @param fp4       true for MXFP4 weights
 */
public record GemmOperands(long a, long aScale, long w, long wScale, long y, int m, int n, int k, long yStride,
                           int flags, boolean fp4) {
    /** a_scale is F32 (else UE8M0). */
    public static final int FLAG_A_SCALE_F32 = 1;
    /** w_scale is F32 (else UE8M0). */
    public static final int FLAG_W_SCALE_F32 = 2;
    /** y is BF16 (else F32). */
    public static final int FLAG_OUT_BF16 = 4;
    /** Columns per activation scale and per FP8 weight scale block. */
    public static final int SCALE_BLOCK = 128;
    /** Columns per MXFP4 weight scale. */
    public static final int FP4_SCALE_BLOCK = 32;
    /**
     * Largest M, N or K the kernels take: their 32-bit index math reaches up to a tile (128) past
     * the last row or column (e.g. {@code n0 + 127}), and the launch plans round up to whole tiles.
     */
    public static final int MAX_DIM = Integer.MAX_VALUE - 255;

    /**
     * Reads and checks the operands (the CUDA backend validated them already; these checks make
     * the kernels' assumptions explicit and cheap to trust).
     */
    public static GemmOperands of(BlockScaled a, BlockScaled w, Tensor y, boolean fp4) {
        if (a == null || w == null || y == null) {
            throw new IllegalArgumentException("a, w and y must not be null");
        }
        Tensor av = a.values();
        Tensor as = a.scales();
        Tensor wv = w.values();
        Tensor ws = w.scales();
        if (av.dtype() != DType.F8_E4M3 || av.rank() != 2 || !av.isContiguous()) {
            throw new IllegalArgumentException("a: expected contiguous F8_E4M3 [M, K], got " + av.dtype() + " " + av.shape()
                    + (av.isContiguous() ? "" : " (not contiguous)"));
        }
        if (a.blockRows() != 1 || a.blockCols() != SCALE_BLOCK) {
            throw new IllegalArgumentException("a: expected 1x128 scale blocks, got " + a.blockRows() + "x" + a.blockCols());
        }
        long m = av.dim(0);
        long k = av.dim(1);
        if (k % SCALE_BLOCK != 0) {
            throw new IllegalArgumentException("a: K must be a multiple of 128, got " + k);
        }
        DType wType = fp4 ? DType.FP4_E2M1 : DType.F8_E4M3;
        if (wv.dtype() != wType || wv.rank() != 2 || !wv.isContiguous()) {
            throw new IllegalArgumentException("w: expected contiguous " + wType + " [N, K], got " + wv.dtype() + " " + wv.shape()
                    + (wv.isContiguous() ? "" : " (not contiguous)"));
        }
        if (wv.dim(1) != k) {
            throw new IllegalArgumentException("w: expected K = " + k + " columns to match a, got " + wv.shape());
        }
        int wbr = fp4 ? 1 : SCALE_BLOCK;
        int wbc = fp4 ? FP4_SCALE_BLOCK : SCALE_BLOCK;
        if (w.blockRows() != wbr || w.blockCols() != wbc) {
            throw new IllegalArgumentException("w: expected " + wbr + "x" + wbc + " scale blocks, got " + w.blockRows() + "x" + w.blockCols());
        }
        if (fp4 && (wv.offset() & 1) != 0) {
            throw new IllegalArgumentException("w: packed FP4 values must start on a byte, got element offset " + wv.offset());
        }
        if (!as.isContiguous() || !ws.isContiguous()) {
            throw new IllegalArgumentException((as.isContiguous() ? "w" : "a") + ".scales: expected a contiguous tensor");
        }
        long n = wv.dim(0);
        if (y.rank() != 2 || y.dim(0) != m || y.dim(1) != n) {
            throw new IllegalArgumentException("y: expected shape [" + m + ", " + n + "], got " + y.shape());
        }
        int flags = 0;
        if (as.dtype() == DType.F32) {
            flags |= FLAG_A_SCALE_F32;
        }
        if (ws.dtype() == DType.F32) {
            flags |= FLAG_W_SCALE_F32;
        }
        switch (y.dtype()) {
            case F32 -> { }
            case BF16 -> flags |= FLAG_OUT_BF16;
            default -> throw new IllegalArgumentException("y: expected F32 or BF16, got " + y.dtype());
        }
        if (m > MAX_DIM || n > MAX_DIM || k > MAX_DIM) {
            throw new IllegalArgumentException("a, w: expected M, N and K <= " + MAX_DIM + " (the kernels index in 32 bits), got M = "
                    + m + ", N = " + n + ", K = " + k);
        }
        if (!y.hasRowLayout()) {
            throw new IllegalArgumentException("y: expected rows with a dense last dimension, got " + y.shape()
                    + " with strides " + Arrays.toString(y.strides()));
        }
        return new GemmOperands(address(av), address(as), address(wv), address(ws), address(y), (int) m, (int) n, (int) k,
                y.rowStride(), flags, fp4);
    }

    /** Device address of a tensor's first element. */
    static long address(Tensor t) {
        return t.storage().segment().address() + t.byteOffset();
    }

    /** Bytes per activation scale. */
    int aScaleBytes() {
        return (flags & FLAG_A_SCALE_F32) != 0 ? 4 : 1;
    }

    /** Bytes per output element. */
    int outBytes() {
        return (flags & FLAG_OUT_BF16) != 0 ? 2 : 4;
    }

    /** The operands of output rows [first, first + rows): a, its scales and y move, w stays. */
    GemmOperands rows(int first, int rows) {
        long kb = k / SCALE_BLOCK;
        return new GemmOperands(a + (long) first * k, aScale + (long) first * kb * aScaleBytes(), w, wScale,
                y + (long) first * yStride * outBytes(), rows, n, k, yStride, flags, fp4);
    }

    /** The kernel arguments, in the order of the C signature. */
    KernelArgs args() {
        return new KernelArgs().ptr(a).ptr(aScale).ptr(w).ptr(wScale).ptr(y).i32(m).i32(n).i32(k).i64(yStride).i32(flags);
    }
}

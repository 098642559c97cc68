package io.github.ds4j.internal.cpu;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The fast paths of the three GEMM ops (FP8 x FP8, FP8 x MXFP4, linear): resolves the tensors to
 * host memory, runs the SIMD kernels when the Vector API is there ({@link GemmSimd}, which loads
 * only then) or the multi-threaded scalar loops otherwise ({@link GemmScalar}). The SIMD kernels
 * fold the scales into the decoded values, which is the reference's arithmetic up to f32
 * rounding for finite, moderate scales; the columns and rows they cannot treat that way (NaN
 * weight codes, non-finite or extreme scales) are then recomputed with the reference's order.
 */
final class Gemm {
    /**
     * Scales the SIMD kernels fold into the values: within [TINY_SCALE, HUGE_SCALE] every product
     * of scaled codes is an f32 normal and the folding only reorders f32 rounding. Rows and
     * columns with a scale outside (or NaN) are recomputed exactly.
     */
    static final float TINY_SCALE = 0x1p-50f;
    static final float HUGE_SCALE = 0x1p100f;

    private Gemm() {
    }

    static void fp8(BlockScaled a, BlockScaled w, Tensor y) {
        fp8(a, w, y, CpuPath.simd());
    }

    static void fp4(BlockScaled a, BlockScaled w, Tensor y) {
        fp4(a, w, y, CpuPath.simd());
    }

    static void linear(Tensor x, Tensor w, Tensor y) {
        linear(x, w, y, CpuPath.simd());
    }

    /** As {@link #fp8(BlockScaled, BlockScaled, Tensor)}; {@code simd} false forces the scalar loops (for tests). */
    static void fp8(BlockScaled a, BlockScaled w, Tensor y, boolean simd) {
        run(scaled(GemmArgs.Kind.FP8, a, w, y), simd);
    }

    static void fp4(BlockScaled a, BlockScaled w, Tensor y, boolean simd) {
        run(scaled(GemmArgs.Kind.FP4, a, w, y), simd);
    }

    static void linear(Tensor x, Tensor w, Tensor y, boolean simd) {
        checkOutput(y);
        long xs = x.rowStride();
        long ws = w.rowStride();
        int k = Math.toIntExact(x.shape().last());
        GemmArgs g = new GemmArgs(GemmArgs.Kind.LINEAR, Math.toIntExact(x.shape().rows()), Math.toIntExact(w.shape().rows()), k,
                x.storage().segment(), x.byteOffset(), xs * bytes(x.dtype()), x.dtype(), null, 0,
                w.storage().segment(), w.byteOffset(), ws * bytes(w.dtype()), w.dtype(), null,
                null, 0, 0, false, 0,
                y.storage().segment(), y.offset(), y.rowStride(), y.dtype() == DType.BF16);
        run(g, simd);
    }

    private static GemmArgs scaled(GemmArgs.Kind kind, BlockScaled a, BlockScaled w, Tensor y) {
        checkOutput(y);
        Tensor av = a.values();
        Tensor wv = w.values();
        if (a.blockRows() != 1 || a.blockCols() != 128) {
            throw new IllegalArgumentException("a: expected 1x128 activation scale blocks, got " + a.blockRows() + "x" + a.blockCols());
        }
        int m = Math.toIntExact(a.rows());
        int n = Math.toIntExact(w.rows());
        int k = Math.toIntExact(a.cols());
        int aScaleCols = Math.toIntExact(a.scales().shape().last());
        float[] aScales = a.scales().toFloatArray();
        long wRowBytes;
        long wOffset;
        float[] wBlockScales = null;
        Tensor ws = w.scales();
        int wScaleCols = Math.toIntExact(ws.shape().last());
        if (kind == GemmArgs.Kind.FP8) {
            wRowBytes = wv.rowStride();
            wOffset = wv.byteOffset();
            wBlockScales = ws.toFloatArray();
        } else {
            // Packed nibbles: a row must start on a byte, which K % 32 == 0 and an even offset give.
            long stride = wv.rowStride();
            if ((wv.offset() & 1) != 0 || (stride & 1) != 0) {
                throw new IllegalArgumentException("w: FP4 rows must start on whole bytes (offset " + wv.offset()
                        + ", row stride " + stride + " nibbles)");
            }
            wRowBytes = stride / 2;
            wOffset = wv.offset() / 2;
        }
        return new GemmArgs(kind, m, n, k,
                av.storage().segment(), av.byteOffset(), av.rowStride(), av.dtype(), aScales, aScaleCols,
                wv.storage().segment(), wOffset, wRowBytes, wv.dtype(), wBlockScales,
                ws.storage().segment(), ws.offset(), ws.rowStride(), ws.dtype() == DType.F32, wScaleCols,
                y.storage().segment(), y.offset(), y.rowStride(), y.dtype() == DType.BF16);
    }

    private static void run(GemmArgs g, boolean simd) {
        if (g.m() == 0 || g.n() == 0) {
            return;
        }
        if (!simd || !CpuPath.simd() || !GemmSimd.supports(g)) {
            GemmScalar.run(g);
            return;
        }
        boolean[] exactColumns = new boolean[g.n()];
        GemmSimd.run(g, exactColumns);
        for (int j = 0; j < g.n(); j++) {
            if (exactColumns[j]) {
                GemmScalar.column(g, j);
            }
        }
        if (g.aScales() != null) {
            for (int i = 0; i < g.m(); i++) {
                if (needsExactRow(g, i)) {
                    GemmScalar.row(g, i);
                }
            }
        }
    }

    /** True when row i has an activation scale the SIMD kernels may not treat like the reference. */
    private static boolean needsExactRow(GemmArgs g, int i) {
        for (int b = 0; b < g.aScaleCols(); b++) {
            float s = Math.abs(g.aScale(i, b));
            if (!(s >= TINY_SCALE && s <= HUGE_SCALE)) {
                return true;
            }
        }
        return false;
    }

    /** Work on the index range [from, to). */
    interface Range {
        void run(int from, int to);
    }

    /** Work on the index range [from, to) with the calling worker's scratch space. */
    interface ScratchRange<S> {
        void run(S scratch, int from, int to);
    }

    /**
     * Runs {@code body} over [0, n) on all cores in pieces of {@code piece} indexes handed out one
     * at a time, so a thread slowed down by other work on the machine takes fewer pieces (a static
     * split would leave the others waiting for it).
     */
    static void dynamic(int n, int piece, Range body) {
        dynamic(n, piece, () -> null, (scratch, from, to) -> body.run(from, to));
    }

    /** As {@link #dynamic(int, int, Range)}, with one {@code scratch} object per worker (not per piece). */
    static <S> void dynamic(int n, int piece, Supplier<S> scratch, ScratchRange<S> body) {
        int pieces = (n + piece - 1) / piece;
        if (pieces <= 1 || Parallel.THREADS == 1) {
            body.run(scratch.get(), 0, n);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        Parallel.forRange(Math.min(Parallel.THREADS, pieces), 1, (w0, w1) -> {
            for (long w = w0; w < w1; w++) {
                S mine = scratch.get();
                for (int from = next.getAndAdd(piece); from < n; from = next.getAndAdd(piece)) {
                    body.run(mine, from, Math.min(n, from + piece));
                }
            }
        });
    }

    private static void checkOutput(Tensor y) {
        if (y.dtype() != DType.F32 && y.dtype() != DType.BF16) {
            throw new IllegalArgumentException("y: expected F32 or BF16, got " + y.dtype());
        }
    }

    private static long bytes(DType t) {
        return t.bits() / 8;
    }
}

package io.github.ds4j.cuda.internal;

import io.github.ds4j.RopeSpec;
import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/rope.cu. */
public final class RopeKernels {
    public static final String FAMILY = "rope";
    /** ROW_THREADS of rope.cu: eight warps, one row each. */
    static final int ROW_THREADS = 256;

    private RopeKernels() {
    }

    /**
     * Rejects what the kernel cannot take: a last dimension other than the spec's rope dims (the
     * kernel reads one frequency per pair from a table of {@code dims/2}), an output of another
     * shape, a negative position. Called before the frequency table is uploaded.
     */
    public static void check(Tensor x, Tensor y, RopeSpec rope, long startPos) {
        Rows a = Rows.real(x);
        Rows b = Rows.real(y);
        if (a.cols() != rope.dims()) {
            throw new IllegalArgumentException("x: expected last dimension " + rope.dims() + " (the rope dims), got " + x.shape());
        }
        Rows.requireSameRows("y", b, a, y, x);
        if (startPos < 0) {
            throw new IllegalArgumentException("startPos: expected a position >= 0, got " + startPos);
        }
    }

    /**
     * Rotates the interleaved pairs of x [S, ..., R] into y; row r (of x read as rows) has
     * position startPos + r / (rows / S), as the CPU reference (a rank-1 x is one row at startPos).
     * {@code frequencies} is the device address of the R/2 f32 frequencies of {@code rope}.
     */
    public static void rope(KernelLauncher k, Tensor x, Tensor y, RopeSpec rope, long frequencies, long startPos,
                            boolean inverse) {
        check(x, y, rope, startPos);
        Rows a = Rows.real(x);
        Rows b = Rows.real(y);
        if (a.isEmpty()) {
            return;
        }
        // rank 1: x.dim(0) is the rope dimension itself, and rows / dim(0) would be 0 (a division
        // by zero in the kernel)
        long rowsPerPos = x.rank() < 2 ? 1 : a.rows() / x.dim(0);
        KernelArgs args = b.pass(a.pass(new KernelArgs()))
                .i64(a.rows()).i32(a.cols() / 2).i64(rowsPerPos).i64(startPos)
                .ptr(frequencies).i32(inverse ? 1 : 0);
        k.launch(FAMILY, "ds4j_rope_rows", Grids.warpPerItem(k, a.rows(), ROW_THREADS), Dim3.of(ROW_THREADS), 0, args);
    }
}

package io.github.ds4j.cuda.internal;

import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/rope.cu. */
public final class RopeKernels {
    public static final String FAMILY = "rope";
    /** ROW_THREADS of rope.cu: eight warps, one row each. */
    static final int ROW_THREADS = 256;

    private RopeKernels() {
    }

    /**
     * Rotates the interleaved pairs of x [S, ..., R] into y; row r (of x read as rows) has
     * position startPos + r / (rows / S). {@code frequencies} is the device address of the R/2
     * f32 frequencies of the RopeSpec.
     */
    public static void rope(KernelLauncher k, Tensor x, Tensor y, long frequencies, long startPos, boolean inverse) {
        Rows a = Rows.real(x);
        Rows b = Rows.real(y);
        if (a.isEmpty()) {
            return;
        }
        if ((a.cols() & 1) != 0) {
            throw new IllegalArgumentException("x: the rope dimension must be even, got " + x.shape());
        }
        long rowsPerPos = a.rows() / x.dim(0);
        KernelArgs args = b.pass(a.pass(new KernelArgs()))
                .i64(a.rows()).i32(a.cols() / 2).i64(rowsPerPos).i64(startPos)
                .ptr(frequencies).i32(inverse ? 1 : 0);
        k.launch(FAMILY, "ds4j_rope_rows", Grids.warpPerItem(k, a.rows(), ROW_THREADS), Dim3.of(ROW_THREADS), 0, args);
    }
}

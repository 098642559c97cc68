package io.github.ds4j.cuda.internal;

import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/convert.cu. */
public final class ConvertKernels {
    public static final String FAMILY = "convert";
    /** ROW_THREADS of convert.cu: eight warps, one row each. */
    static final int ROW_THREADS = 256;

    private ConvertKernels() {
    }

    /** y = x converted between F32, BF16 and F16 (same shape, row layouts). */
    public static void convert(KernelLauncher k, Tensor x, Tensor y) {
        Rows a = Rows.real(x);
        Rows b = Rows.real(y);
        Rows.requireSameRows("y", b, a, y, x);
        if (a.isEmpty()) {
            return;
        }
        KernelArgs args = b.pass(a.pass(new KernelArgs())).i64(a.rows()).i32(a.cols());
        k.launch(FAMILY, "ds4j_convert_rows", Grids.warpPerItem(k, a.rows(), ROW_THREADS), Dim3.of(ROW_THREADS), 0, args);
    }
}

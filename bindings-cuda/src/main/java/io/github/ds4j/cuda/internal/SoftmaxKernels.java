package io.github.ds4j.cuda.internal;

import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/softmax.cu. */
public final class SoftmaxKernels {
    public static final String FAMILY = "softmax";
    /** ROW_THREADS of softmax.cu: eight warps, one row each. */
    static final int ROW_THREADS = 256;

    private SoftmaxKernels() {
    }

    /** y = softmax of each row of x (y may be x). */
    public static void softmax(KernelLauncher k, Tensor x, Tensor y) {
        Rows a = Rows.real(x);
        Rows b = Rows.real(y);
        Rows.requireSameRows("y", b, a, y, x);
        if (a.isEmpty()) {
            return;
        }
        KernelArgs args = b.pass(a.pass(new KernelArgs())).i64(a.rows()).i32(a.cols());
        k.launch(FAMILY, "ds4j_softmax_rows", Grids.warpPerItem(k, a.rows(), ROW_THREADS), Dim3.of(ROW_THREADS), 0, args);
    }
}

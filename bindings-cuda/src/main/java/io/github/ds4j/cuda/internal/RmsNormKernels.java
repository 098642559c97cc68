package io.github.ds4j.cuda.internal;

import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/rmsnorm.cu. */
public final class RmsNormKernels {
    public static final String FAMILY = "rmsnorm";
    /** ROW_THREADS of rmsnorm.cu: eight warps, one row each. */
    static final int ROW_THREADS = 256;

    private RmsNormKernels() {
    }

    /** y = x * rsqrt(mean(x^2) + eps) * weight; {@code weight} [cols] contiguous, or null. */
    public static void rmsNorm(KernelLauncher k, Tensor x, Tensor weight, float eps, Tensor y) {
        Rows a = Rows.real(x);
        Rows b = Rows.real(y);
        Rows.requireSameRows("y", b, a, y, x);
        if (weight != null) {
            // the kernel reads weight[c] for c < cols: one dense vector
            if (weight.numel() != a.cols() || !weight.isContiguous()) {
                throw new IllegalArgumentException("weight: expected a contiguous [" + a.cols() + "], got " + weight.shape()
                        + " with strides " + java.util.Arrays.toString(weight.strides()));
            }
            DTypeCodes.real(weight.dtype());
        }
        if (a.isEmpty()) {
            return;
        }
        long w = weight == null ? 0 : Rows.address(weight);
        int wdt = weight == null ? DTypeCodes.F32 : DTypeCodes.real(weight.dtype());
        KernelArgs args = a.pass(new KernelArgs()).ptr(w).i32(wdt).f32(eps);
        b.pass(args).i64(a.rows()).i32(a.cols());
        k.launch(FAMILY, "ds4j_rmsnorm_rows", Grids.warpPerItem(k, a.rows(), ROW_THREADS), Dim3.of(ROW_THREADS), 0, args);
    }
}

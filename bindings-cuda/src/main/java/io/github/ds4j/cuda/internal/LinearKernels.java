package io.github.ds4j.cuda.internal;

import io.github.ds4j.DType;
import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/linear.cu. */
public final class LinearKernels {
    public static final String FAMILY = "linear";
    /** FMA_BM, FMA_BN and FMA_THREADS of linear.cu. */
    static final int FMA_BM = 64;
    static final int FMA_BN = 64;
    static final int FMA_THREADS = 256;
    /** MMA_BM, MMA_BN and MMA_THREADS of linear.cu. */
    static final int MMA_BM = 128;
    static final int MMA_BN = 128;
    static final int MMA_THREADS = 256;

    private LinearKernels() {
    }

    /** True when the tensor-core kernel runs: both operands BF16 (sm_80 and newer). */
    static boolean usesTensorCores(Tensor x, Tensor w) {
        return x.dtype() == DType.BF16 && w.dtype() == DType.BF16;
    }

    /** y [M, N] = x [M, K] @ w [N, K]^T, f32 accumulation. */
    public static void linear(KernelLauncher k, Tensor x, Tensor w, Tensor y) {
        Rows a = Rows.real(x);
        Rows b = Rows.real(w);
        Rows c = Rows.real(y);
        if (b.cols() != a.cols()) {
            throw new IllegalArgumentException("w: expected K = " + a.cols() + ", got " + w.shape());
        }
        long m = a.rows();
        long n = b.rows();
        Rows.requireShape("y", y, m, n);
        if (m == 0 || n == 0) {
            return;
        }
        int nCols = Math.toIntExact(n);
        if (usesTensorCores(x, w)) {
            Dim3 grid = Dim3.of(Math.toIntExact(Grids.ceilDiv(n, MMA_BN)),
                    (int) Math.min(Grids.ceilDiv(m, MMA_BM), LaunchChecks.MAX_GRID_YZ));
            KernelArgs args = new KernelArgs().ptr(a.address()).i64(a.stride()).ptr(b.address()).i64(b.stride());
            c.pass(args).i64(m).i32(nCols).i32(a.cols());
            k.launch(FAMILY, "ds4j_linear_bf16_mma", grid, Dim3.of(MMA_THREADS), 0, args);
        } else {
            Dim3 grid = Dim3.of(Math.toIntExact(Grids.ceilDiv(n, FMA_BN)),
                    (int) Math.min(Grids.ceilDiv(m, FMA_BM), LaunchChecks.MAX_GRID_YZ));
            KernelArgs args = c.pass(b.pass(a.pass(new KernelArgs()))).i64(m).i32(nCols).i32(a.cols());
            k.launch(FAMILY, "ds4j_linear_fma", grid, Dim3.of(FMA_THREADS), 0, args);
        }
    }
}

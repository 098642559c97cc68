package io.github.ds4j.cuda.internal;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Tensor;

/**
 * Launchers of the block-scaled GEMM kernels (kernels/cuda/fp8_gemm.cu and fp4_gemm.cu). The CUDA
 * backend calls these with validated operands (see {@link io.github.ds4j.spi.Backend#fp8Gemm}).
 */
public final class GemmKernels {
    private GemmKernels() {
    }

    /** y [M, N] = a (E4M3 [M, K], 1x128 scales) times w^T (E4M3 [N, K], 128x128 scales). */
    public static void fp8Gemm(KernelLauncher k, BlockScaled a, BlockScaled w, Tensor y) {
        throw new UnsupportedOperationException("fp8 GEMM kernels are not written yet");
    }

    /** y [M, N] = a (E4M3 [M, K], 1x128 scales) times w^T (FP4 [N, K], 1x32 scales). */
    public static void fp4Gemm(KernelLauncher k, BlockScaled a, BlockScaled w, Tensor y) {
        throw new UnsupportedOperationException("fp4 GEMM kernels are not written yet");
    }
}

package io.github.ds4j.cuda.internal;

import io.github.ds4j.DType;
import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/quant.cu: activation quantization and the FP8 / FP4 simulations. */
public final class QuantKernels {
    public static final String FAMILY = "quant";
    /** QUANT_THREADS of quant.cu: eight warps, one (row, column block) group each. */
    static final int QUANT_THREADS = 256;

    private QuantKernels() {
    }

    /** q (E4M3) and scales (F8_E8M0 or F32) of x per row and {@code block} columns. */
    public static void quantizeActivations(KernelLauncher k, Tensor x, Tensor q, Tensor scales, int block) {
        checkBlock(block);
        Rows a = Rows.real(x);
        Rows codes = Rows.raw(q);
        Rows s = Rows.raw(scales);
        boolean e8m0 = scales.dtype() == DType.F8_E8M0;
        if (!e8m0 && scales.dtype() != DType.F32) {
            throw new IllegalArgumentException("scales: expected F8_E8M0 or F32, got " + scales.dtype());
        }
        if (q.dtype() != DType.F8_E4M3) {
            throw new IllegalArgumentException("q: expected F8_E4M3, got " + q.dtype());
        }
        Rows.requireShape("q", q, a.rows(), a.cols());
        Rows.requireShape("scales", scales, a.rows(), Grids.ceilDiv(a.cols(), block));
        if (a.isEmpty()) {
            return;
        }
        long groups = a.rows() * Grids.ceilDiv(a.cols(), block);
        KernelArgs args = a.pass(new KernelArgs())
                .ptr(codes.address()).i64(codes.stride())
                .ptr(s.address()).i32(e8m0 ? 1 : 0).i64(s.stride())
                .i64(a.rows()).i32(a.cols()).i32(block);
        k.launch(FAMILY, "ds4j_quant_act", Grids.warpPerItem(k, groups, QUANT_THREADS), Dim3.of(QUANT_THREADS), 0, args);
    }

    /** y = FP8 quantize-dequantize of x over {@code block} columns (y may be x). */
    public static void fp8Simulate(KernelLauncher k, Tensor x, Tensor y, int block) {
        simulate(k, "ds4j_quant_fp8_sim", x, y, block);
    }

    /** y = FP4 quantize-dequantize of x over {@code block} columns (y may be x). */
    public static void fp4Simulate(KernelLauncher k, Tensor x, Tensor y, int block) {
        simulate(k, "ds4j_quant_fp4_sim", x, y, block);
    }

    private static void simulate(KernelLauncher k, String kernel, Tensor x, Tensor y, int block) {
        checkBlock(block);
        Rows a = Rows.real(x);
        Rows b = Rows.real(y);
        Rows.requireSameRows("y", b, a, y, x);
        if (a.isEmpty()) {
            return;
        }
        long groups = a.rows() * Grids.ceilDiv(a.cols(), block);
        KernelArgs args = b.pass(a.pass(new KernelArgs())).i64(a.rows()).i32(a.cols()).i32(block);
        k.launch(FAMILY, kernel, Grids.warpPerItem(k, groups, QUANT_THREADS), Dim3.of(QUANT_THREADS), 0, args);
    }

    private static void checkBlock(int block) {
        if (block < 1) {
            throw new IllegalArgumentException("block: must be positive, got " + block);
        }
    }
}

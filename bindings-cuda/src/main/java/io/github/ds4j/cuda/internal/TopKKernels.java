package io.github.ds4j.cuda.internal;

import io.github.ds4j.DType;
import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/topk.cu. */
public final class TopKKernels {
    public static final String FAMILY = "topk";
    /** TOPK_THREADS of topk.cu. */
    static final int TOPK_THREADS = 512;
    /** SMEM_CANDIDATES of topk.cu: larger k keep their candidates in a device scratch. */
    static final int SMEM_CANDIDATES = 4096;
    /** Row blocks per SM: enough resident blocks with on-chip candidates, fewer with scratch ones. */
    static final int BLOCKS_PER_SM_ON_CHIP = 16;
    static final int BLOCKS_PER_SM_SCRATCH = 4;

    private TopKKernels() {
    }

    static Dim3 grid(KernelLauncher k, long rows, int topK) {
        return Grids.blockPerItem(k, rows, topK <= SMEM_CANDIDATES ? BLOCKS_PER_SM_ON_CHIP : BLOCKS_PER_SM_SCRATCH);
    }

    /**
     * Rejects what the kernel cannot take: k outside 1..cols (the radix select needs k elements),
     * outputs that are not F32 values and I32 indices of [rows, k]. Runs before the scratch is
     * sized or allocated.
     */
    public static void check(Tensor x, int topK, Tensor values, Tensor indices) {
        Rows a = Rows.real(x);
        if (topK < 1 || topK > a.cols()) {
            throw new IllegalArgumentException("k: expected 1.." + a.cols() + ", got " + topK);
        }
        if (values.dtype() != DType.F32) {
            throw new IllegalArgumentException("values: expected F32, got " + values.dtype());
        }
        if (indices.dtype() != DType.I32) {
            throw new IllegalArgumentException("indices: expected I32, got " + indices.dtype());
        }
        Rows.requireShape("values", values, a.rows(), topK);
        Rows.requireShape("indices", indices, a.rows(), topK);
    }

    /** Bytes of device scratch for k candidates (key and index) per block; 0 when they fit on chip. */
    public static long scratchBytes(KernelLauncher k, Tensor x, int topK) {
        if (topK <= SMEM_CANDIDATES) {
            return 0;
        }
        return (long) grid(k, x.shape().rows(), topK).x() * topK * 8L;
    }

    /**
     * The {@code topK} largest values of each row of x, descending, ties to the lower index, NaN
     * last: values F32 and indices I32 [rows, topK]. {@code scratch}: {@link #scratchBytes} bytes.
     */
    public static void topK(KernelLauncher k, Tensor x, int topK, Tensor values, Tensor indices, long scratch) {
        check(x, topK, values, indices);
        Rows a = Rows.real(x);
        if (a.rows() == 0) {
            return;
        }
        Rows v = Rows.raw(values);
        Rows ix = Rows.raw(indices);
        Dim3 grid = grid(k, a.rows(), topK);
        long keys = 0;
        long idx = 0;
        if (topK > SMEM_CANDIDATES) {
            if (scratch == 0) {
                throw new IllegalArgumentException("scratch: k = " + topK + " needs " + scratchBytes(k, x, topK) + " bytes");
            }
            keys = scratch;
            idx = scratch + (long) grid.x() * topK * 4L;
        }
        KernelArgs args = a.pass(new KernelArgs()).i64(a.rows()).i32(a.cols()).i32(topK)
                .ptr(v.address()).i64(v.stride()).ptr(ix.address()).i64(ix.stride())
                .ptr(keys).ptr(idx);
        k.launch(FAMILY, "ds4j_topk_rows", grid, Dim3.of(TOPK_THREADS), 0, args);
    }
}

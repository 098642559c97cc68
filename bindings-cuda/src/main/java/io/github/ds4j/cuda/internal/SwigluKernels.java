package io.github.ds4j.cuda.internal;

import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/swiglu.cu. */
public final class SwigluKernels {
    public static final String FAMILY = "swiglu";
    /** ROW_THREADS of swiglu.cu: eight warps, one row each. */
    static final int ROW_THREADS = 256;

    private SwigluKernels() {
    }

    /** y = silu(min(gate, limit)) * clamp(up, -limit, limit); limit 0 = no clamp (y may be gate). */
    public static void swiglu(KernelLauncher k, Tensor gate, Tensor up, float limit, Tensor y) {
        Rows g = Rows.real(gate);
        Rows u = Rows.real(up);
        Rows b = Rows.real(y);
        Rows.requireSameRows("up", u, g, up, gate);
        Rows.requireSameRows("y", b, g, y, gate);
        if (g.isEmpty()) {
            return;
        }
        KernelArgs args = u.pass(g.pass(new KernelArgs())).f32(limit);
        b.pass(args).i64(g.rows()).i32(g.cols());
        k.launch(FAMILY, "ds4j_swiglu_rows", Grids.warpPerItem(k, g.rows(), ROW_THREADS), Dim3.of(ROW_THREADS), 0, args);
    }
}

package io.github.ds4j.cuda.internal;

/** Launcher of kernels/cuda/util.cu. */
public final class UtilKernels {
    public static final String FAMILY = "util";

    private UtilKernels() {
    }

    /** Launches the empty kernel (one warp): the launch-overhead benchmark's unit of work. */
    public static void noop(KernelLauncher k) {
        k.launch(FAMILY, "ds4j_util_noop", Dim3.of(1), Dim3.of(32), 0, new KernelArgs());
    }
}

package io.github.ds4j.cuda.internal;

/**
 * One planned launch of a GEMM kernel: module family, entry point, geometry and arguments in the
 * order of the kernel's C signature.
 */
public record GemmLaunch(String family, String kernel, GemmVariant variant, Dim3 grid, Dim3 block, int sharedBytes,
                         KernelArgs args) {

    /** Issues the launch. */
    void run(KernelLauncher launcher) {
        launcher.launch(family, kernel, grid, block, sharedBytes, args);
    }
}

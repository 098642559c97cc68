package io.github.ds4j.cuda.internal;

/**
 * Launches ds4j's kernels on one device and stream. A kernel is named by its family (the file
 * {@code kernels/cuda/<family>.cu}) and its entry point ({@code ds4j_<family>_<variant>}); the
 * family's module is loaded on first use. Each family has one Java class that mirrors its .cu
 * file and computes the launch geometry.
 */
public interface KernelLauncher {

    /**
     * Launches {@code kernel} of {@code family} asynchronously on the backend's stream. Sets the
     * dynamic shared-memory attribute first when {@code sharedBytes} exceeds 48 KiB.
     */
    void launch(String family, String kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args);

    /** The device's compute capability as major*10+minor (90 for H100). */
    int computeCapability();

    /** Streaming multiprocessors on the device. */
    int multiprocessors();

    /** Largest opt-in dynamic shared memory per block, bytes. */
    int maxSharedPerBlock();

    /**
     * True when the kernels were loaded from their compute_80 PTX on purpose (tests of the sm_80
     * paths on a newer GPU): launchers must then pick the sm_80 variants.
     */
    boolean sm80Mode();
}

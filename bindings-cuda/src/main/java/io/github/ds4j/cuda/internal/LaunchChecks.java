package io.github.ds4j.cuda.internal;

/** Checks of a launch's geometry against CUDA's limits, made before any driver call. */
public final class LaunchChecks {
    /** Threads per block on every GPU ds4j supports. */
    public static final int MAX_THREADS_PER_BLOCK = 1024;
    /** Grid y and z limit. */
    public static final int MAX_GRID_YZ = 65535;
    /** Static plus dynamic shared memory a block gets without opting in. */
    public static final int DEFAULT_SHARED_LIMIT = 48 * 1024;
    /** Kernel parameters the launcher marshals at most. */
    public static final int MAX_ARGS = 64;

    private LaunchChecks() {
    }

    public static void check(String family, String kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args,
                             int maxSharedPerBlock) {
        if (family == null || family.isEmpty()) {
            throw new IllegalArgumentException("family: must name a kernel family, got \"" + family + "\"");
        }
        if (kernel == null || kernel.isEmpty()) {
            throw new IllegalArgumentException("kernel: must name an entry point of " + family + ", got \"" + kernel + "\"");
        }
        if (grid == null || block == null || args == null) {
            throw new IllegalArgumentException(kernel + ": grid, block and args must not be null");
        }
        long threads = (long) block.x() * block.y() * block.z();
        if (threads > MAX_THREADS_PER_BLOCK || block.z() > 64) {
            throw new IllegalArgumentException(kernel + ": block (" + block.x() + ", " + block.y() + ", " + block.z()
                    + ") exceeds 1024 threads or z 64");
        }
        if (grid.y() > MAX_GRID_YZ || grid.z() > MAX_GRID_YZ) {
            throw new IllegalArgumentException(kernel + ": grid (" + grid.x() + ", " + grid.y() + ", " + grid.z()
                    + ") exceeds 65535 in y or z");
        }
        if (sharedBytes < 0 || sharedBytes > maxSharedPerBlock) {
            throw new IllegalArgumentException(kernel + ": dynamic shared memory " + sharedBytes
                    + " bytes outside [0, " + maxSharedPerBlock + "]");
        }
        if (args.list().size() > MAX_ARGS) {
            throw new IllegalArgumentException(kernel + ": " + args.list().size() + " arguments, at most " + MAX_ARGS);
        }
    }
}

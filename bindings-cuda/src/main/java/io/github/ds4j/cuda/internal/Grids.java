package io.github.ds4j.cuda.internal;

/** Grid sizes of the grid-stride kernels. */
public final class Grids {
    /**
     * Blocks per SM the grid-stride kernels launch at most: several waves of resident blocks, so
     * that the grid stays small while every SM stays busy.
     */
    static final int BLOCKS_PER_SM = 64;

    private Grids() {
    }

    /** A 1-D grid with one warp per item (row, or row block) of {@code threads}-thread blocks. */
    public static Dim3 warpPerItem(KernelLauncher k, long items, int threads) {
        return capped(k, ceilDiv(items, threads / 32));
    }

    /** A 1-D grid with one thread per element for {@code n} elements. */
    public static Dim3 threadPerElement(KernelLauncher k, long n, int threads) {
        return capped(k, ceilDiv(n, threads));
    }

    /** A 1-D grid with one block per item, at most {@code perSm} blocks per multiprocessor. */
    public static Dim3 blockPerItem(KernelLauncher k, long items, int perSm) {
        long cap = (long) Math.max(1, k.multiprocessors()) * perSm;
        return Dim3.of((int) Math.max(1, Math.min(items, cap)));
    }

    private static Dim3 capped(KernelLauncher k, long blocks) {
        long cap = (long) Math.max(1, k.multiprocessors()) * BLOCKS_PER_SM;
        return Dim3.of((int) Math.max(1, Math.min(blocks, Math.min(cap, Integer.MAX_VALUE))));
    }

    public static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}

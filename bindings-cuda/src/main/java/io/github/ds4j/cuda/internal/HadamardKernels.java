package io.github.ds4j.cuda.internal;

import io.github.ds4j.Tensor;

/** Launcher of kernels/cuda/hadamard.cu. */
public final class HadamardKernels {
    public static final String FAMILY = "hadamard";
    /** ROW_MAX_THREADS of hadamard.cu. */
    static final int ROW_MAX_THREADS = 512;
    /** FLAT_THREADS of hadamard.cu. */
    static final int FLAT_THREADS = 256;
    /** Row blocks per SM at most in the row kernel's grid. */
    static final int ROW_BLOCKS_PER_SM = 16;

    private HadamardKernels() {
    }

    /** The d^-0.5 every output is multiplied by, as the CPU computes it. */
    static float scale(int d) {
        return (float) (1.0 / Math.sqrt(d));
    }

    /**
     * Rejects what the kernels cannot take: a last dimension that is not a power of two, an
     * output of another shape. Runs before the scratch is sized or allocated.
     */
    public static void check(Tensor x, Tensor y) {
        Rows a = Rows.real(x);
        Rows b = Rows.real(y);
        int d = a.cols();
        if (d < 1 || Integer.bitCount(d) != 1) {
            throw new IllegalArgumentException("x: the last dimension must be a power of two, got " + x.shape());
        }
        Rows.requireSameRows("y", b, a, y, x);
    }

    /** Bytes of f32 scratch the transform needs: 0 when a row fits in shared memory. */
    public static long scratchBytes(KernelLauncher k, Tensor x) {
        int d = Math.toIntExact(x.shape().last());
        return fitsShared(k, d) ? 0 : x.shape().rows() * d * 4L;
    }

    static boolean fitsShared(KernelLauncher k, int d) {
        return (long) d * 4 <= k.maxSharedPerBlock();
    }

    /**
     * y = normalized Walsh-Hadamard transform of each row of x (d a power of two; y may be x).
     * {@code scratch} is the device address of {@link #scratchBytes} bytes (unused when 0).
     */
    public static void hadamard(KernelLauncher k, Tensor x, Tensor y, long scratch) {
        check(x, y);
        Rows a = Rows.real(x);
        Rows b = Rows.real(y);
        int d = a.cols();
        if (a.rows() == 0) {
            return;
        }
        int logD = Integer.numberOfTrailingZeros(d);
        float scale = scale(d);
        if (fitsShared(k, d)) {
            int threads = Math.max(32, Math.min(ROW_MAX_THREADS, d / 2));
            KernelArgs args = b.pass(a.pass(new KernelArgs())).i64(a.rows()).i32(d).i32(logD).f32(scale);
            k.launch(FAMILY, "ds4j_hadamard_rows", Grids.blockPerItem(k, a.rows(), ROW_BLOCKS_PER_SM),
                    Dim3.of(threads), d * 4, args);
            return;
        }
        if (scratch == 0) {
            throw new IllegalArgumentException("scratch: a row of " + d + " floats needs " + scratchBytes(k, x)
                    + " bytes of scratch");
        }
        long n = a.rows() * d;
        Dim3 block = Dim3.of(FLAT_THREADS);
        k.launch(FAMILY, "ds4j_hadamard_load", Grids.threadPerElement(k, n, FLAT_THREADS), block, 0,
                a.pass(new KernelArgs()).ptr(scratch).i64(a.rows()).i32(logD));
        for (int logH = 0; logH < logD; logH++) {
            k.launch(FAMILY, "ds4j_hadamard_stage", Grids.threadPerElement(k, n / 2, FLAT_THREADS), block, 0,
                    new KernelArgs().ptr(scratch).i64(a.rows()).i32(logD).i32(logH));
        }
        k.launch(FAMILY, "ds4j_hadamard_store", Grids.threadPerElement(k, n, FLAT_THREADS), block, 0,
                b.pass(new KernelArgs().ptr(scratch)).i64(a.rows()).i32(logD).f32(scale));
    }
}

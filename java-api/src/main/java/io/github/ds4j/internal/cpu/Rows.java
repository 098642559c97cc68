package io.github.ds4j.internal.cpu;

import io.github.ds4j.RopeSpec;
import io.github.ds4j.Tensor;

/**
 * Fast paths of the per-row ops: rows are split over all cores, and each row runs through the
 * Vector API kernels of {@link RowsSimd} when {@code simd} is true, else through the scalar row
 * kernels of {@link ScalarOps}. {@code simd} must only be true when {@link CpuPath#simd()} is,
 * because it loads the Vector API classes.
 *
 * <p>Every row is read into a private f32 buffer before its result is written, so {@code y} may
 * be {@code x} itself, and rows may have any stride. The SIMD results equal the scalar reference
 * bit for bit, except for the sums and exponentials of rmsNorm, softmax and swiglu, which differ
 * in summation order and in the vector exp by a few f32 ulps.
 */
final class Rows {
    /**
     * Elements per parallel chunk for cheap, memory-bound row ops: about 10 us of SIMD work, well
     * above the cost of waking a pool thread, so a decode step's single row stays on the caller.
     */
    static final int LIGHT = 32768;
    /** Elements per parallel chunk for ops with an exp, trig or heap step per element. */
    static final int HEAVY = 4096;

    private Rows() {
    }

    /** Rows per parallel chunk so that a chunk holds at least {@code elements} elements. */
    static long grain(int cols, int elements) {
        return Math.max(1, elements / Math.max(1, cols));
    }

    static void convert(Tensor x, Tensor y, boolean simd) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        int cols = in.cols;
        Parallel.forRange(in.rows, grain(cols, LIGHT), (from, to) -> {
            float[] row = new float[cols];
            for (long r = from; r < to; r++) {
                if (simd) {
                    RowsSimd.read(in, r, row);
                    RowsSimd.write(out, r, row);
                } else {
                    out.write(r, in.read(r, row));
                }
            }
        });
    }

    static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y, boolean simd) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        int cols = in.cols;
        float[] w = null;
        if (weight != null) { // [cols] is one row
            w = new float[cols];
            if (simd) {
                RowsSimd.read(new RowAccess(weight), 0, w);
            } else {
                new RowAccess(weight).read(0, w);
            }
        }
        float[] weights = w;
        Parallel.forRange(in.rows, grain(cols, LIGHT), (from, to) -> {
            float[] row = new float[cols];
            for (long r = from; r < to; r++) {
                if (simd) {
                    RowsSimd.read(in, r, row);
                    RowsSimd.rmsNorm(row, cols, weights, eps);
                    RowsSimd.write(out, r, row);
                } else {
                    in.read(r, row);
                    ScalarOps.rmsNormRow(row, cols, weights, eps);
                    out.write(r, row);
                }
            }
        });
    }

    static void rope(Tensor x, Tensor y, RopeSpec spec, long startPos, boolean inverse, boolean simd) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        if (in.rows == 0) {
            return;
        }
        float[] f = spec.frequencies();
        long rowsPerPos = x.rank() < 2 ? 1 : in.rows / x.dim(0); // [S, ..., R]: the rows of one token
        int cols = in.cols;
        Parallel.forRange(in.rows, grain(cols, HEAVY), (from, to) -> {
            float[] row = new float[cols];
            float[] cos = new float[f.length];
            float[] sin = new float[f.length];
            // interleaved tables for the SIMD kernel: (c0, c0, c1, c1, ...) and (-s0, s0, -s1, s1, ...)
            float[] cosPairs = simd ? new float[cols] : null;
            float[] sinPairs = simd ? new float[cols] : null;
            long tablePos = -1;
            for (long r = from; r < to; r++) {
                long pos = startPos + r / rowsPerPos;
                if (pos != tablePos) {
                    ScalarOps.ropeAngles(f, pos, inverse, cos, sin);
                    if (simd) {
                        for (int i = 0; i < cols / 2; i++) {
                            cosPairs[2 * i] = cos[i];
                            cosPairs[2 * i + 1] = cos[i];
                            sinPairs[2 * i] = -sin[i];
                            sinPairs[2 * i + 1] = sin[i];
                        }
                    }
                    tablePos = pos;
                }
                if (simd) {
                    RowsSimd.read(in, r, row);
                    RowsSimd.rope(row, cols, cosPairs, sinPairs);
                    RowsSimd.write(out, r, row);
                } else {
                    in.read(r, row);
                    ScalarOps.ropeRow(row, cols, cos, sin);
                    out.write(r, row);
                }
            }
        });
    }

    static void hadamard(Tensor x, Tensor y, boolean simd) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        int cols = in.cols;
        Parallel.forRange(in.rows, grain(cols, LIGHT / 4), (from, to) -> {
            float[] row = new float[cols];
            for (long r = from; r < to; r++) {
                if (simd) {
                    RowsSimd.read(in, r, row);
                    RowsSimd.hadamard(row, cols);
                    RowsSimd.write(out, r, row);
                } else {
                    in.read(r, row);
                    ScalarOps.hadamardRow(row, cols);
                    out.write(r, row);
                }
            }
        });
    }

    static void swiglu(Tensor gate, Tensor up, float limit, Tensor y, boolean simd) {
        RowAccess g = new RowAccess(gate);
        RowAccess u = new RowAccess(up);
        RowAccess out = new RowAccess(y);
        int cols = g.cols;
        Parallel.forRange(g.rows, grain(cols, HEAVY), (from, to) -> {
            float[] gr = new float[cols];
            float[] ur = new float[cols];
            for (long r = from; r < to; r++) {
                if (simd) {
                    RowsSimd.read(g, r, gr);
                    RowsSimd.read(u, r, ur);
                    RowsSimd.swiglu(gr, ur, cols, limit);
                    RowsSimd.write(out, r, gr);
                } else {
                    g.read(r, gr);
                    u.read(r, ur);
                    ScalarOps.swigluRow(gr, ur, cols, limit);
                    out.write(r, gr);
                }
            }
        });
    }

    static void softmax(Tensor x, Tensor y, boolean simd) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        int cols = in.cols;
        Parallel.forRange(in.rows, grain(cols, HEAVY), (from, to) -> {
            float[] row = new float[cols];
            for (long r = from; r < to; r++) {
                if (simd) {
                    RowsSimd.read(in, r, row);
                    RowsSimd.softmax(row, cols);
                    RowsSimd.write(out, r, row);
                } else {
                    in.read(r, row);
                    ScalarOps.softmaxRow(row, cols);
                    out.write(r, row);
                }
            }
        });
    }

    static void topK(Tensor x, int k, Tensor values, Tensor indices, boolean simd) {
        RowAccess in = new RowAccess(x);
        ScalarOps.TopKRows out = new ScalarOps.TopKRows(values, indices);
        int cols = in.cols;
        Parallel.forRange(in.rows, grain(cols, HEAVY), (from, to) -> {
            float[] row = new float[cols];
            long[] heap = new long[k];
            int[] best = new int[k];
            for (long r = from; r < to; r++) {
                if (simd) {
                    RowsSimd.read(in, r, row);
                    RowsSimd.topK(row, cols, k, heap, best);
                } else {
                    in.read(r, row);
                    RowsTopK.select(row, cols, k, heap, best);
                }
                out.write(r, row, best, k);
            }
        });
    }
}

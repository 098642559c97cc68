package io.github.ds4j.internal.cpu;

import io.github.ds4j.Tensor;
import io.github.ds4j.internal.HostMemory;
import io.github.ds4j.spi.HyperConnectionKernels;

import java.lang.foreign.MemorySegment;

/**
 * The CPU implementation of {@link HyperConnectionKernels}: per-token loops split over the cores,
 * f32 arithmetic in the order the spec writes it (dot products and the mean square accumulate
 * in f64 and round once).
 */
final class CpuHyperConnectionKernels implements HyperConnectionKernels {
    private final boolean simd;

    /** @param fast true for the SIMD mixing kernel (when the Vector API is there), false for the plain loops */
    CpuHyperConnectionKernels(boolean fast) {
        this.simd = fast && CpuPath.simd();
    }

    @Override
    public void mixes(Tensor x, Tensor fn, float normEps, Tensor mixes) {
        if (simd && fn.dtype() == io.github.ds4j.DType.F32) {
            mixesFast(x, fn, normEps, mixes);
            return;
        }
        RowAccess xs = new RowAccess(x);
        RowAccess fs = new RowAccess(fn);
        int n = xs.cols;
        int m = Math.toIntExact(fs.rows);
        float[] f = new float[m * n];
        float[] buf = new float[n];
        for (int i = 0; i < m; i++) {
            System.arraycopy(fs.read(i, buf), 0, f, i * n, n);
        }
        MemorySegment out = mixes.storage().segment();
        Parallel.forRange(xs.rows, 1, (lo, hi) -> {
            float[] row = new float[n];
            for (long t = lo; t < hi; t++) {
                xs.read(t, row);
                double ss = 0;
                for (float v : row) {
                    ss += (double) v * v;
                }
                float rsqrt = (float) (1.0 / Math.sqrt((float) (ss / n) + normEps));
                for (int i = 0; i < m; i++) {
                    double acc = 0;
                    for (int c = 0, at = i * n; c < n; c++) {
                        acc += (double) row[c] * f[at + c];
                    }
                    out.setAtIndex(HostMemory.F32, mixes.offset() + t * m + i, (float) acc * rsqrt);
                }
            }
        });
    }

    /**
     * The fast path: the same f64 sums as the reference in another order ({@link HcSimd}), fn
     * read in place rather than copied per call. A decode step's single token splits its M dot
     * products over the cores; more tokens split by token.
     */
    private static void mixesFast(Tensor x, Tensor fn, float normEps, Tensor mixes) {
        RowAccess xs = new RowAccess(x);
        RowAccess fs = new RowAccess(fn);
        int n = xs.cols;
        int m = Math.toIntExact(fs.rows);
        MemorySegment out = mixes.storage().segment();
        if (xs.rows < Parallel.THREADS) {
            double[] row = new double[n];
            for (long t = 0; t < xs.rows; t++) {
                long token = t;
                float rsqrt = widen(xs, t, row, normEps);
                Parallel.forRange(m, 4, (lo, hi) -> {
                    for (long i = lo; i < hi; i++) {
                        double dot = HcSimd.dot(row, fs.segment, fs.start(i) * 4, n);
                        out.setAtIndex(HostMemory.F32, mixes.offset() + token * m + i, (float) dot * rsqrt);
                    }
                });
            }
            return;
        }
        Parallel.forRange(xs.rows, 1, (lo, hi) -> {
            double[] row = new double[n];
            for (long t = lo; t < hi; t++) {
                float rsqrt = widen(xs, t, row, normEps);
                for (int i = 0; i < m; i++) {
                    double dot = HcSimd.dot(row, fs.segment, fs.start(i) * 4, n);
                    out.setAtIndex(HostMemory.F32, mixes.offset() + t * m + i, (float) dot * rsqrt);
                }
            }
        });
    }

    /** Row t of xs as f64 into row; returns rsqrt(mean square + eps) as the reference computes it. */
    private static float widen(RowAccess xs, long t, double[] row, float normEps) {
        float[] f = new float[xs.cols];
        RowsSimd.read(xs, t, f);
        double ss = 0;
        for (int c = 0; c < f.length; c++) {
            row[c] = f[c];
            ss += (double) f[c] * f[c];
        }
        return (float) (1.0 / Math.sqrt((float) (ss / xs.cols) + normEps));
    }

    @Override
    public void sinkhornSplit(Tensor mixes, Tensor scale, Tensor base, int iters, float eps,
                              Tensor pre, Tensor post, Tensor comb) {
        int n = Math.toIntExact(pre.dim(-1));
        int m = (2 + n) * n;
        float[] mix = mixes.toFloatArray();
        float[] s = scale.toFloatArray();
        float[] b = base.toFloatArray();
        long tokens = mixes.dim(0);
        MemorySegment preSeg = pre.storage().segment();
        MemorySegment postSeg = post.storage().segment();
        MemorySegment combSeg = comb.storage().segment();
        Parallel.forRange(tokens, 64, (lo, hi) -> {
            float[] c = new float[n * n];
            for (long t = lo; t < hi; t++) {
                int at = (int) t * m;
                for (int i = 0; i < n; i++) {
                    preSeg.setAtIndex(HostMemory.F32, pre.offset() + t * n + i,
                            sigmoid(mix[at + i] * s[0] + b[i]) + eps);
                    postSeg.setAtIndex(HostMemory.F32, post.offset() + t * n + i,
                            2f * sigmoid(mix[at + n + i] * s[1] + b[n + i]));
                }
                for (int i = 0; i < n * n; i++) {
                    c[i] = mix[at + 2 * n + i] * s[2] + b[2 * n + i];
                }
                sinkhorn(c, n, iters, eps);
                MemorySegment.copy(c, 0, combSeg, HostMemory.F32, (comb.offset() + t * n * n) * 4, n * n);
            }
        });
    }

    /**
     * In place on c [n, n] (row-major): row softmax + eps, column normalization, then iters - 1
     * rounds of row then column normalization, each dividing by (sum + eps).
     */
    static void sinkhorn(float[] c, int n, int iters, float eps) {
        for (int i = 0; i < n; i++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                max = Math.max(max, c[i * n + j]);
            }
            float sum = 0;
            for (int j = 0; j < n; j++) {
                c[i * n + j] = (float) Math.exp(c[i * n + j] - max);
                sum += c[i * n + j];
            }
            for (int j = 0; j < n; j++) {
                c[i * n + j] = c[i * n + j] / sum + eps;
            }
        }
        normalizeColumns(c, n, eps);
        for (int it = 1; it < iters; it++) {
            for (int i = 0; i < n; i++) {
                float sum = 0;
                for (int j = 0; j < n; j++) {
                    sum += c[i * n + j];
                }
                float d = sum + eps;
                for (int j = 0; j < n; j++) {
                    c[i * n + j] /= d;
                }
            }
            normalizeColumns(c, n, eps);
        }
    }

    private static void normalizeColumns(float[] c, int n, float eps) {
        for (int j = 0; j < n; j++) {
            float sum = 0;
            for (int i = 0; i < n; i++) {
                sum += c[i * n + j];
            }
            float d = sum + eps;
            for (int i = 0; i < n; i++) {
                c[i * n + j] /= d;
            }
        }
    }

    static float sigmoid(float z) {
        return (float) (1.0 / (1.0 + Math.exp(-z)));
    }

    @Override
    public void headSplit(Tensor mixes, Tensor scale, Tensor base, float eps, Tensor pre) {
        int n = Math.toIntExact(pre.dim(-1));
        float[] mix = mixes.toFloatArray();
        float s = scale.toFloatArray()[0];
        float[] b = base.toFloatArray();
        MemorySegment out = pre.storage().segment();
        for (int i = 0; i < mix.length; i++) {
            out.setAtIndex(HostMemory.F32, pre.offset() + i, sigmoid(mix[i] * s + b[i % n]) + eps);
        }
    }

    @Override
    public void weightedSum(Tensor x, Tensor pre, Tensor y) {
        int n = Math.toIntExact(pre.dim(-1));
        RowAccess xs = new RowAccess(x); // rows are (token, stream)
        RowAccess ys = new RowAccess(y);
        float[] p = pre.toFloatArray();
        int d = ys.cols;
        boolean vector = simd;
        Parallel.forRange(ys.rows, 4, (lo, hi) -> {
            float[] acc = new float[d];
            float[] row = new float[d];
            for (long t = lo; t < hi; t++) {
                for (int i = 0; i < n; i++) {
                    float w = p[(int) t * n + i];
                    if (vector) {
                        RowsSimd.read(xs, t * n + i, row);
                        HcSimd.weightedAdd(acc, row, w, i == 0, d);
                        continue;
                    }
                    xs.read(t * n + i, row);
                    for (int c = 0; c < d; c++) {
                        acc[c] = i == 0 ? w * row[c] : acc[c] + w * row[c];
                    }
                }
                if (vector) {
                    RowsSimd.write(ys, t, acc);
                } else {
                    ys.write(t, acc);
                }
            }
        });
    }

    @Override
    public void post(Tensor out, Tensor x, Tensor post, Tensor comb, Tensor y) {
        int n = Math.toIntExact(post.dim(-1));
        RowAccess os = new RowAccess(out);
        RowAccess xs = new RowAccess(x);
        RowAccess ys = new RowAccess(y);
        float[] po = post.toFloatArray();
        float[] cm = comb.toFloatArray();
        int d = os.cols;
        boolean vector = simd;
        Parallel.forRange(os.rows, 4, (lo, hi) -> {
            float[][] streams = new float[n][d];
            float[] o = new float[d];
            float[] acc = new float[d];
            float[] weights = new float[n];
            for (long t = lo; t < hi; t++) {
                if (vector) {
                    RowsSimd.read(os, t, o);
                } else {
                    os.read(t, o);
                }
                for (int i = 0; i < n; i++) {
                    if (vector) {
                        RowsSimd.read(xs, t * n + i, streams[i]);
                    } else {
                        xs.read(t * n + i, streams[i]);
                    }
                }
                int cAt = (int) t * n * n;
                for (int j = 0; j < n; j++) {
                    float pj = po[(int) t * n + j];
                    if (vector) {
                        for (int i = 0; i < n; i++) {
                            weights[i] = cm[cAt + i * n + j];
                        }
                        HcSimd.postRow(o, pj, streams, weights, acc, d);
                        RowsSimd.write(ys, t * n + j, acc);
                        continue;
                    }
                    for (int c = 0; c < d; c++) {
                        float mixed = 0;
                        for (int i = 0; i < n; i++) {
                            mixed += cm[cAt + i * n + j] * streams[i][c];
                        }
                        acc[c] = pj * o[c] + mixed;
                    }
                    ys.write(t * n + j, acc);
                }
            }
        });
    }
}

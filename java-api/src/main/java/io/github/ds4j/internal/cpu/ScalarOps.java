package io.github.ds4j.internal.cpu;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Tensor;
import io.github.ds4j.format.E2M1;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.format.UE8M0;
import io.github.ds4j.internal.HostMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The scalar reference of every CPU op: one thread, the spec's formulas written out plainly.
 * The fast paths are tested against these; nothing here is tuned.
 */
public final class ScalarOps {
    /** Lower bound of the FP8 activation amax (spec §2). */
    public static final float FP8_AMAX_FLOOR = 1e-4f;
    /** Lower bound of the FP4 amax: 6 * 2^-126. */
    public static final float FP4_AMAX_FLOOR = 6f * 0x1p-126f;

    private ScalarOps() {
    }

    // ---- quantization ----

    /** The power-of-two scale exponent for a block: ceil(log2(max(amax, floor) / qmax)). */
    public static int scaleExponent(float amax, float floor, float qmax) {
        float a = Math.max(amax, floor);
        return UE8M0.ceilLog2(a / qmax);
    }

    static void quantizeActivations(Tensor x, Tensor q, Tensor scales, int block) {
        RowAccess in = new RowAccess(x);
        MemorySegment qs = q.storage().segment();
        MemorySegment ss = scales.storage().segment();
        int cols = in.cols;
        int blocks = cols / block;
        float[] row = new float[cols];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            for (int b = 0; b < blocks; b++) {
                float amax = 0;
                for (int c = b * block; c < (b + 1) * block; c++) {
                    amax = Math.max(amax, Math.abs(row[c]));
                }
                int e = scaleExponent(amax, FP8_AMAX_FLOOR, E4M3.MAX);
                float inv = Math.scalb(1f, -e);
                for (int c = b * block; c < (b + 1) * block; c++) {
                    qs.set(ValueLayout.JAVA_BYTE, q.offset() + r * cols + c, E4M3.encodeSaturating(row[c] * inv));
                }
                long si = scales.offset() + r * blocks + b;
                if (scales.dtype() == DType.F8_E8M0) {
                    ss.set(ValueLayout.JAVA_BYTE, si, UE8M0.fromExponent(Math.max(-127, Math.min(127, e))));
                } else {
                    ss.setAtIndex(HostMemory.F32, si, Math.scalb(1f, e));
                }
            }
        }
    }

    static void fp8Simulate(Tensor x, Tensor y, int block) {
        simulate(x, y, block, false);
    }

    static void fp4Simulate(Tensor x, Tensor y, int block) {
        simulate(x, y, block, true);
    }

    private static void simulate(Tensor x, Tensor y, int block, boolean fp4) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        float[] row = new float[in.cols];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            for (int b = 0; b < in.cols / block; b++) {
                float amax = 0;
                for (int c = b * block; c < (b + 1) * block; c++) {
                    amax = Math.max(amax, Math.abs(row[c]));
                }
                int e = fp4 ? scaleExponent(amax, FP4_AMAX_FLOOR, E2M1.MAX) : scaleExponent(amax, FP8_AMAX_FLOOR, E4M3.MAX);
                float s = Math.scalb(1f, e);
                float inv = Math.scalb(1f, -e);
                for (int c = b * block; c < (b + 1) * block; c++) {
                    float v = row[c] * inv;
                    row[c] = fp4
                            ? E2M1.decode(E2M1.encode(Math.max(-E2M1.MAX, Math.min(E2M1.MAX, v)))) * s
                            : E4M3.decode(E4M3.encodeSaturating(v)) * s;
                }
            }
            out.write(r, row);
        }
    }

    // ---- GEMM ----

    static void fp8Gemm(BlockScaled a, BlockScaled w, Tensor y) {
        int m = Math.toIntExact(a.rows());
        int n = Math.toIntExact(w.rows());
        int k = Math.toIntExact(a.cols());
        float[] qa = decodeCodes(a.values());
        float[] sa = a.scales().toFloatArray();
        float[] qw = decodeCodes(w.values());
        float[] sw = w.scales().toFloatArray();
        int kBlocks = (k + 127) / 128;
        int aScaleCols = (int) a.scales().dim(-1);
        RowAccess out = new RowAccess(y);
        float[] row = new float[n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float acc = 0;
                for (int kb = 0; kb < kBlocks; kb++) {
                    float part = 0;
                    for (int c = kb * 128; c < Math.min(k, kb * 128 + 128); c++) {
                        part += qa[i * k + c] * qw[j * k + c];
                    }
                    acc += part * sa[i * aScaleCols + kb] * sw[(j / 128) * kBlocks + kb];
                }
                row[j] = acc;
            }
            out.write(i, row);
        }
    }

    static void fp4Gemm(BlockScaled a, BlockScaled w, Tensor y) {
        int m = Math.toIntExact(a.rows());
        int n = Math.toIntExact(w.rows());
        int k = Math.toIntExact(a.cols());
        float[] qa = decodeCodes(a.values());
        float[] sa = a.scales().toFloatArray();
        float[] qw = decodeCodes(w.values());
        float[] sw = w.scales().toFloatArray();
        int aScaleCols = (int) a.scales().dim(-1);
        int wScaleCols = k / 32;
        RowAccess out = new RowAccess(y);
        float[] row = new float[n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float acc = 0;
                for (int kb = 0; kb < wScaleCols; kb++) {
                    float part = 0;
                    for (int c = kb * 32; c < kb * 32 + 32; c++) {
                        part += qa[i * k + c] * qw[j * k + c];
                    }
                    acc += part * sa[i * aScaleCols + (kb * 32) / 128] * sw[j * wScaleCols + kb];
                }
                row[j] = acc;
            }
            out.write(i, row);
        }
    }

    static void linear(Tensor x, Tensor w, Tensor y) {
        RowAccess xs = new RowAccess(x);
        RowAccess ws = new RowAccess(w);
        RowAccess out = new RowAccess(y);
        int k = xs.cols;
        int n = Math.toIntExact(ws.rows);
        float[] wAll = new float[n * k];
        float[] buf = new float[k];
        for (int j = 0; j < n; j++) {
            System.arraycopy(ws.read(j, buf), 0, wAll, j * k, k);
        }
        float[] xr = new float[k];
        float[] yr = new float[n];
        for (long i = 0; i < xs.rows; i++) {
            xs.read(i, xr);
            for (int j = 0; j < n; j++) {
                float acc = 0;
                for (int c = 0; c < k; c++) {
                    acc += xr[c] * wAll[j * k + c];
                }
                yr[j] = acc;
            }
            out.write(i, yr);
        }
    }

    /** Decoded codes of a contiguous E4M3 or FP4 tensor, without scales. */
    static float[] decodeCodes(Tensor t) {
        return t.toFloatArray();
    }

    // ---- per-row ops ----

    static void convert(Tensor x, Tensor y) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        float[] row = new float[in.cols];
        for (long r = 0; r < in.rows; r++) {
            out.write(r, in.read(r, row));
        }
    }

    static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        float[] w = weight == null ? null : weight.toFloatArray();
        float[] row = new float[in.cols];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            double ss = 0;
            for (float v : row) {
                ss += (double) v * v;
            }
            float inv = (float) (1.0 / Math.sqrt((float) (ss / in.cols) + eps));
            for (int c = 0; c < in.cols; c++) {
                row[c] = w == null ? row[c] * inv : row[c] * inv * w[c];
            }
            out.write(r, row);
        }
    }

    static void rope(Tensor x, Tensor y, RopeSpec spec, long startPos, boolean inverse) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        float[] f = spec.frequencies();
        long rowsPerPos = in.rows / x.dim(0);
        float[] row = new float[in.cols];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            long pos = startPos + r / rowsPerPos;
            for (int i = 0; i < in.cols / 2; i++) {
                double angle = RopeSpec.angle(pos, f[i]);
                float cos = (float) Math.cos(angle);
                float sin = inverse ? -(float) Math.sin(angle) : (float) Math.sin(angle);
                float re = row[2 * i];
                float im = row[2 * i + 1];
                row[2 * i] = re * cos - im * sin;
                row[2 * i + 1] = re * sin + im * cos;
            }
            out.write(r, row);
        }
    }

    static void hadamard(Tensor x, Tensor y) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        int d = in.cols;
        float scale = (float) (1.0 / Math.sqrt(d));
        float[] row = new float[d];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            for (int h = 1; h < d; h <<= 1) {
                for (int i = 0; i < d; i += h << 1) {
                    for (int j = i; j < i + h; j++) {
                        float a = row[j];
                        float b = row[j + h];
                        row[j] = a + b;
                        row[j + h] = a - b;
                    }
                }
            }
            for (int c = 0; c < d; c++) {
                row[c] *= scale;
            }
            out.write(r, row);
        }
    }

    static void swiglu(Tensor gate, Tensor up, float limit, Tensor y) {
        RowAccess g = new RowAccess(gate);
        RowAccess u = new RowAccess(up);
        RowAccess out = new RowAccess(y);
        float[] gr = new float[g.cols];
        float[] ur = new float[g.cols];
        for (long r = 0; r < g.rows; r++) {
            g.read(r, gr);
            u.read(r, ur);
            for (int c = 0; c < g.cols; c++) {
                gr[c] = swiglu(gr[c], ur[c], limit);
            }
            out.write(r, gr);
        }
    }

    /** silu(min(g, limit)) * clamp(u, -limit, limit) in f32; limit 0 = no clamp. */
    public static float swiglu(float g, float u, float limit) {
        if (limit > 0) {
            g = Math.min(g, limit);
            u = Math.max(-limit, Math.min(limit, u));
        }
        return g / (1f + (float) Math.exp(-g)) * u;
    }

    static void softmax(Tensor x, Tensor y) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        float[] row = new float[in.cols];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            float m = Float.NEGATIVE_INFINITY;
            for (float v : row) {
                m = Math.max(m, v);
            }
            double sum = 0;
            for (int c = 0; c < in.cols; c++) {
                row[c] = (float) Math.exp(row[c] - m);
                sum += row[c];
            }
            float inv = (float) (1.0 / sum);
            for (int c = 0; c < in.cols; c++) {
                row[c] *= inv;
            }
            out.write(r, row);
        }
    }

    static void topK(Tensor x, int k, Tensor values, Tensor indices) {
        RowAccess in = new RowAccess(x);
        MemorySegment vs = values.storage().segment();
        MemorySegment is = indices.storage().segment();
        float[] row = new float[in.cols];
        int[] best = new int[k];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            int filled = 0;
            for (int c = 0; c < in.cols; c++) {
                // insertion into the sorted best list; strictly-better only, so ties keep the lower index
                int at = filled;
                while (at > 0 && ranksAbove(row[c], row[best[at - 1]])) {
                    at--;
                }
                if (at < k) {
                    int last = Math.min(filled, k - 1);
                    System.arraycopy(best, at, best, at + 1, last - at);
                    best[at] = c;
                    filled = Math.min(filled + 1, k);
                }
            }
            for (int i = 0; i < k; i++) {
                vs.setAtIndex(HostMemory.F32, values.offset() + r * k + i, row[best[i]]);
                is.setAtIndex(HostMemory.I32, indices.offset() + r * k + i, best[i]);
            }
        }
    }

    /** True when a ranks strictly above b: larger, and any number above NaN. */
    static boolean ranksAbove(float a, float b) {
        if (Float.isNaN(a)) {
            return false;
        }
        return Float.isNaN(b) || a > b;
    }
}

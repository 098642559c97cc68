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
import java.util.Arrays;

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

    /**
     * Marker exponent of a block whose amax is not finite (a NaN or an infinity in it): its scale
     * is NaN (UE8M0 0xFF) and every value of the block becomes NaN, which is what dequantizing
     * the reference's infinite or NaN scale gives.
     */
    static final int NAN_EXPONENT = Integer.MIN_VALUE;

    /** The power-of-two scale exponent for a block: ceil(log2(max(amax, floor) / qmax)). */
    public static int scaleExponent(float amax, float floor, float qmax) {
        float a = Math.max(amax, floor);
        return UE8M0.ceilLog2(a / qmax);
    }

    /**
     * The scale exponent of a block with this amax (the largest |x|, NaN if any x is NaN), or
     * {@link #NAN_EXPONENT} when amax is not finite. FP8 and FP4 differ in floor and qmax.
     */
    static int blockExponent(float amax, boolean fp4) {
        if (!(amax < Float.POSITIVE_INFINITY)) {
            return NAN_EXPONENT;
        }
        return fp4 ? scaleExponent(amax, FP4_AMAX_FLOOR, E2M1.MAX) : scaleExponent(amax, FP8_AMAX_FLOOR, E4M3.MAX);
    }

    /** The UE8M0 code of a block scale 2^e (NaN for {@link #NAN_EXPONENT}). */
    static byte scaleCode(int e) {
        return e == NAN_EXPONENT ? UE8M0.NAN : UE8M0.fromExponent(Math.max(-127, Math.min(127, e)));
    }

    /** The f32 value of a block scale 2^e (NaN for {@link #NAN_EXPONENT}); same value as its UE8M0 code. */
    static float scaleValue(int e) {
        return e == NAN_EXPONENT ? Float.NaN : UE8M0.decode(scaleCode(e));
    }

    static void quantizeActivations(Tensor x, Tensor q, Tensor scales, int block) {
        RowAccess in = new RowAccess(x);
        QuantizedRows out = new QuantizedRows(q, scales);
        int cols = in.cols;
        float[] row = new float[cols];
        byte[] codes = new byte[cols];
        int[] exps = new int[blockCount(cols, block)];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            quantizeRow(row, cols, block, codes, exps);
            out.write(r, codes, exps);
        }
    }

    /** Blocks of a row of {@code cols} columns; the last one may be partial. */
    static int blockCount(int cols, int block) {
        return (cols + block - 1) / block;
    }

    /** FP8 codes and scale exponents of one row, block by block (spec §2). */
    static void quantizeRow(float[] row, int cols, int block, byte[] codes, int[] exps) {
        for (int b = 0, from = 0; from < cols; b++, from += block) {
            int to = Math.min(cols, from + block);
            int e = blockExponent(absMax(row, from, to), false);
            exps[b] = e;
            if (e == NAN_EXPONENT) {
                Arrays.fill(codes, from, to, E4M3.NAN);
                continue;
            }
            float inv = Math.scalb(1f, -e); // exact: x * 2^-e is x / s
            for (int c = from; c < to; c++) {
                codes[c] = E4M3.encodeSaturating(row[c] * inv);
            }
        }
    }

    /** Writes rows of FP8 codes into q and their block scales (UE8M0 codes or f32 values) into scales. */
    static final class QuantizedRows {
        private final RowStarts codes;
        private final int cols;
        private final RowStarts scales;
        private final int blocks;
        private final boolean ue8m0;

        QuantizedRows(Tensor q, Tensor scales) {
            this.codes = RowStarts.of(q);
            this.cols = Math.toIntExact(q.shape().last());
            this.scales = RowStarts.of(scales);
            this.blocks = Math.toIntExact(scales.shape().last());
            this.ue8m0 = scales.dtype() == DType.F8_E8M0;
        }

        void write(long r, byte[] rowCodes, int[] exps) {
            MemorySegment.copy(rowCodes, 0, codes.segment(), ValueLayout.JAVA_BYTE, codes.row(r), cols);
            long at = scales.row(r);
            for (int b = 0; b < blocks; b++) {
                if (ue8m0) {
                    scales.segment().set(ValueLayout.JAVA_BYTE, at + b, scaleCode(exps[b]));
                } else {
                    scales.segment().setAtIndex(HostMemory.F32, at + b, scaleValue(exps[b]));
                }
            }
        }
    }

    /** A host tensor's memory and where each of its rows starts, in elements. */
    record RowStarts(MemorySegment segment, long offset, long stride) {
        static RowStarts of(Tensor t) {
            return new RowStarts(t.storage().segment(), t.offset(), t.rowStride());
        }

        /** The element index where row {@code r} starts. */
        long row(long r) {
            return offset + r * stride;
        }
    }

    /** max |row[from..to)|, NaN if any element is NaN. */
    static float absMax(float[] row, int from, int to) {
        float amax = 0;
        for (int c = from; c < to; c++) {
            amax = Math.max(amax, Math.abs(row[c]));
        }
        return amax;
    }

    static void fp8Simulate(Tensor x, Tensor y, int block) {
        simulate(x, y, block, false);
    }

    static void fp4Simulate(Tensor x, Tensor y, int block) {
        simulate(x, y, block, true);
    }

    private static void simulate(Tensor x, Tensor y, int block, boolean fp4) {
        eachRow(x, y, (r, row, cols) -> simulateRow(row, cols, block, fp4));
    }

    /** Quantize-dequantize of one row in place: FP8 E4M3 or FP4 E2M1 values times their block scale. */
    static void simulateRow(float[] row, int cols, int block, boolean fp4) {
        for (int from = 0; from < cols; from += block) {
            int to = Math.min(cols, from + block);
            int e = blockExponent(absMax(row, from, to), fp4);
            if (e == NAN_EXPONENT) {
                Arrays.fill(row, from, to, Float.NaN);
                continue;
            }
            float s = Math.scalb(1f, e);
            float inv = Math.scalb(1f, -e);
            for (int c = from; c < to; c++) {
                float v = row[c] * inv;
                row[c] = (fp4 ? fp4Round(v) : fp8Round(v)) * s;
            }
        }
    }

    /** The E4M3 value nearest to v after clamping to ±448 (ties to even). */
    static float fp8Round(float v) {
        return E4M3.decode(E4M3.encodeSaturating(v));
    }

    /** The E2M1 value nearest to v after clamping to ±6 (ties to even). */
    static float fp4Round(float v) {
        return E2M1.decode(E2M1.encode(Math.max(-E2M1.MAX, Math.min(E2M1.MAX, v))));
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

    /** One per-row op, in place on row {@code r} of {@code cols} values. */
    private interface RowOp {
        void apply(long r, float[] row, int cols);
    }

    /** Reads each row of x, applies {@code op} in place, and writes the row to the same row of y. */
    private static void eachRow(Tensor x, Tensor y, RowOp op) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        float[] row = new float[in.cols];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            op.apply(r, row, in.cols);
            out.write(r, row);
        }
    }

    static void convert(Tensor x, Tensor y) {
        eachRow(x, y, (r, row, cols) -> {
            // reading into f32 and writing rounds to y's dtype: nothing else to do
        });
    }

    static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        float[] w = weight == null ? null : weight.toFloatArray();
        eachRow(x, y, (r, row, cols) -> rmsNormRow(row, cols, w, eps));
    }

    /** RMSNorm of one row in place; {@code w} null for none. */
    static void rmsNormRow(float[] row, int cols, float[] w, float eps) {
        double ss = 0;
        for (int c = 0; c < cols; c++) {
            ss += (double) row[c] * row[c];
        }
        float inv = rmsInverse(ss, cols, eps);
        for (int c = 0; c < cols; c++) {
            row[c] = w == null ? row[c] * inv : row[c] * inv * w[c];
        }
    }

    /** rsqrt(mean + eps) from a sum of squares, as f32 (the mean and + eps in f32, as the reference). */
    static float rmsInverse(double sumOfSquares, int cols, float eps) {
        return (float) (1.0 / Math.sqrt((float) (sumOfSquares / cols) + eps));
    }

    static void rope(Tensor x, Tensor y, RopeSpec spec, long startPos, boolean inverse) {
        if (x.shape().numel() == 0) {
            return;
        }
        float[] f = spec.frequencies();
        long rowsPerPos = x.rank() < 2 ? 1 : x.shape().rows() / x.dim(0); // [S, ..., R]: the rows of one token
        float[] cos = new float[f.length];
        float[] sin = new float[f.length];
        eachRow(x, y, (r, row, cols) -> {
            ropeAngles(f, startPos + r / rowsPerPos, inverse, cos, sin);
            ropeRow(row, cols, cos, sin);
        });
    }

    /** cos and sin (negated for the inverse) of every pair's angle at {@code pos}. */
    static void ropeAngles(float[] f, long pos, boolean inverse, float[] cos, float[] sin) {
        for (int i = 0; i < f.length; i++) {
            double angle = RopeSpec.angle(pos, f[i]);
            cos[i] = (float) Math.cos(angle);
            sin[i] = inverse ? -(float) Math.sin(angle) : (float) Math.sin(angle);
        }
    }

    /** Rotates the interleaved pairs of one row in place. */
    static void ropeRow(float[] row, int cols, float[] cos, float[] sin) {
        for (int i = 0; i < cols / 2; i++) {
            float re = row[2 * i];
            float im = row[2 * i + 1];
            row[2 * i] = re * cos[i] - im * sin[i];
            row[2 * i + 1] = re * sin[i] + im * cos[i];
        }
    }

    static void hadamard(Tensor x, Tensor y) {
        eachRow(x, y, (r, row, cols) -> hadamardRow(row, cols));
    }

    /** Normalized Walsh-Hadamard transform of one row in place (d a power of two). */
    static void hadamardRow(float[] row, int d) {
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
        float scale = hadamardScale(d);
        for (int c = 0; c < d; c++) {
            row[c] *= scale;
        }
    }

    /** d^-0.5 as f32. */
    static float hadamardScale(int d) {
        return (float) (1.0 / Math.sqrt(d));
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
            swigluRow(gr, ur, g.cols, limit);
            out.write(r, gr);
        }
    }

    /** gate[c] = swiglu(gate[c], up[c]) for one row. */
    static void swigluRow(float[] gate, float[] up, int cols, float limit) {
        for (int c = 0; c < cols; c++) {
            gate[c] = swiglu(gate[c], up[c], limit);
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
        eachRow(x, y, (r, row, cols) -> softmaxRow(row, cols));
    }

    /** Softmax of one row in place: exp(x - max) / sum, the sum in double. */
    static void softmaxRow(float[] row, int cols) {
        float m = Float.NEGATIVE_INFINITY;
        for (int c = 0; c < cols; c++) {
            m = Math.max(m, row[c]);
        }
        double sum = 0;
        for (int c = 0; c < cols; c++) {
            row[c] = (float) Math.exp(row[c] - m);
            sum += row[c];
        }
        float inv = (float) (1.0 / sum);
        for (int c = 0; c < cols; c++) {
            row[c] *= inv;
        }
    }

    static void topK(Tensor x, int k, Tensor values, Tensor indices) {
        RowAccess in = new RowAccess(x);
        TopKRows out = new TopKRows(values, indices);
        float[] row = new float[in.cols];
        int[] best = new int[k];
        for (long r = 0; r < in.rows; r++) {
            in.read(r, row);
            topKRow(row, in.cols, k, best);
            out.write(r, row, best, k);
        }
    }

    /** The indexes of the k best elements of one row, best first, by insertion into a sorted list. */
    static void topKRow(float[] row, int cols, int k, int[] best) {
        int filled = 0;
        for (int c = 0; c < cols; c++) {
            // strictly-better only, so ties keep the lower index first
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
    }

    /** Writes rows of top-k results: the chosen elements' values (F32) and indexes (I32). */
    static final class TopKRows {
        private final RowStarts values;
        private final RowStarts indices;

        TopKRows(Tensor values, Tensor indices) {
            this.values = RowStarts.of(values);
            this.indices = RowStarts.of(indices);
        }

        void write(long r, float[] row, int[] best, int k) {
            long vAt = values.row(r);
            long iAt = indices.row(r);
            for (int i = 0; i < k; i++) {
                values.segment().setAtIndex(HostMemory.F32, vAt + i, row[best[i]]);
                indices.segment().setAtIndex(HostMemory.I32, iAt + i, best[i]);
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

package io.github.ds4j.internal.cpu;

import io.github.ds4j.format.BF16;
import io.github.ds4j.internal.HostMemory;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Vector API kernels of the attention layer's fast paths ({@link CpuAttentionKernels}): sparse
 * attention over rows gathered to f32, and the indexer's scores. Same arithmetic as the plain
 * loops in f32, with the dot products summed lane-wise (another order, hence other rounding).
 * Every reduction across lanes goes through {@link #sum}, a fixed tree, so a result has the same
 * bits however the JIT compiles it. Loaded only when {@link CpuPath#simd()}.
 */
final class AttentionSimd {
    static final VectorSpecies<Float> F = RowsSimd.F;
    static final int L = RowsSimd.L;
    /**
     * Heads that share one pass over the rows: each row chunk loaded is used four times, and four
     * heads times four vectors of output (16 accumulators) still fit the 32 vector registers.
     */
    static final int HEADS = 4;

    private AttentionSimd() {
    }

    /**
     * Sparse attention of heads {@code h0..h1} of one query over {@code n} rows.
     *
     * @param rows the gathered rows, f32 [n, dim]
     * @param q the query's heads, f32 [heads, dim]
     * @param sinks per-head sink logits
     * @param out f32 [heads, dim]; heads h0..h1 are written
     * @param s scratch of at least {@code HEADS * n} floats
     */
    static void attend(float[] rows, int n, int dim, float[] q, int h0, int h1, float[] sinks, float scale, float[] out,
                       float[] s) {
        float[] lanes = new float[2 * HEADS * L];
        for (int h = h0; h < h1; h += HEADS) {
            int count = Math.min(HEADS, h1 - h);
            if (n == 0) {
                java.util.Arrays.fill(out, h * dim, (h + count) * dim, 0f);
                continue;
            }
            if (count == HEADS) {
                scoresFour(rows, n, dim, q, h * dim, scale, s, lanes);
            } else {
                for (int i = 0; i < count; i++) {
                    scoresOne(rows, n, dim, q, (h + i) * dim, scale, s, i * n);
                }
            }
            for (int i = 0; i < count; i++) {
                probabilities(s, i * n, n, sinks[h + i]);
            }
            if (count == HEADS) {
                outputFour(rows, n, dim, s, out, h * dim);
            } else {
                for (int i = 0; i < count; i++) {
                    outputOne(rows, n, dim, s, i * n, out, (h + i) * dim);
                }
            }
        }
    }

    /** s[i*n + j] = (q_i · row_j) * scale for four heads, two rows at a time. */
    private static void scoresFour(float[] rows, int n, int dim, float[] q, int qAt, float scale, float[] s, float[] lanes) {
        int j = 0;
        for (; j + 2 <= n; j += 2) {
            scoresFourTwo(rows, j, n, dim, q, qAt, scale, s, lanes);
        }
        for (; j < n; j++) {
            for (int i = 0; i < HEADS; i++) {
                s[i * n + j] = dot(q, qAt + i * dim, rows, j * dim, dim) * scale;
            }
        }
    }

    private static void scoresFourTwo(float[] rows, int j, int n, int dim, float[] q, int qAt, float scale, float[] s,
                                      float[] lanes) {
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = a00;
        FloatVector a10 = a00;
        FloatVector a11 = a00;
        FloatVector a20 = a00;
        FloatVector a21 = a00;
        FloatVector a30 = a00;
        FloatVector a31 = a00;
        int r0 = j * dim;
        int r1 = r0 + dim;
        int bound = F.loopBound(dim);
        for (int c = 0; c < bound; c += L) {
            FloatVector x0 = FloatVector.fromArray(F, rows, r0 + c);
            FloatVector x1 = FloatVector.fromArray(F, rows, r1 + c);
            FloatVector q0 = FloatVector.fromArray(F, q, qAt + c);
            FloatVector q1 = FloatVector.fromArray(F, q, qAt + dim + c);
            FloatVector q2 = FloatVector.fromArray(F, q, qAt + 2 * dim + c);
            FloatVector q3 = FloatVector.fromArray(F, q, qAt + 3 * dim + c);
            a00 = q0.fma(x0, a00);
            a01 = q0.fma(x1, a01);
            a10 = q1.fma(x0, a10);
            a11 = q1.fma(x1, a11);
            a20 = q2.fma(x0, a20);
            a21 = q2.fma(x1, a21);
            a30 = q3.fma(x0, a30);
            a31 = q3.fma(x1, a31);
        }
        a00.intoArray(lanes, 0);
        a01.intoArray(lanes, L);
        a10.intoArray(lanes, 2 * L);
        a11.intoArray(lanes, 3 * L);
        a20.intoArray(lanes, 4 * L);
        a21.intoArray(lanes, 5 * L);
        a30.intoArray(lanes, 6 * L);
        a31.intoArray(lanes, 7 * L);
        for (int i = 0; i < HEADS; i++) {
            int qi = qAt + i * dim;
            s[i * n + j] = (sum(lanes, 2 * i * L) + tail(q, qi, rows, r0, bound, dim)) * scale;
            s[i * n + j + 1] = (sum(lanes, (2 * i + 1) * L) + tail(q, qi, rows, r1, bound, dim)) * scale;
        }
    }

    private static void scoresOne(float[] rows, int n, int dim, float[] q, int qAt, float scale, float[] s, int sAt) {
        for (int j = 0; j < n; j++) {
            s[sAt + j] = dot(q, qAt, rows, j * dim, dim) * scale;
        }
    }

    /** a[aAt..aAt+len) · b[bAt..bAt+len) in f32, lane-wise then {@link #sum}, then the tail. */
    static float dot(float[] a, int aAt, float[] b, int bAt, int len) {
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(len);
        for (int c = 0; c < bound; c += L) {
            acc = FloatVector.fromArray(F, a, aAt + c).fma(FloatVector.fromArray(F, b, bAt + c), acc);
        }
        return sum(acc) + tail(a, aAt, b, bAt, bound, len);
    }

    private static float tail(float[] a, int aAt, float[] b, int bAt, int from, int len) {
        float t = 0;
        for (int c = from; c < len; c++) {
            t += a[aAt + c] * b[bAt + c];
        }
        return t;
    }

    /**
     * Scores s[at..at+n) to probabilities: exp(s − m) / (sum exp(s − m) + exp(sink − m)), m the
     * largest score (the sink is one more logit in the denominator only).
     */
    private static void probabilities(float[] s, int at, int n, float sink) {
        int bound = F.loopBound(n);
        float m = Float.NEGATIVE_INFINITY;
        int j = 0;
        if (bound > 0) {
            FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; j < bound; j += L) {
                mv = mv.max(FloatVector.fromArray(F, s, at + j));
            }
            m = mv.reduceLanes(VectorOperators.MAX); // max is exact in any order
        }
        for (; j < n; j++) {
            m = Math.max(m, s[at + j]);
        }
        FloatVector acc = FloatVector.zero(F);
        j = 0;
        for (; j < bound; j += L) {
            FloatVector e = RowsSimd.exp(FloatVector.fromArray(F, s, at + j).sub(m));
            e.intoArray(s, at + j);
            acc = acc.add(e);
        }
        float total = sum(acc);
        for (; j < n; j++) {
            s[at + j] = (float) Math.exp(s[at + j] - m);
            total += s[at + j];
        }
        float inv = 1f / (total + (float) Math.exp(sink - m));
        j = 0;
        for (; j < bound; j += L) {
            FloatVector.fromArray(F, s, at + j).mul(inv).intoArray(s, at + j);
        }
        for (; j < n; j++) {
            s[at + j] *= inv;
        }
    }

    /** out[i] = sum_j p[i*n + j] * row_j for four heads, four vectors of columns at a time. */
    private static void outputFour(float[] rows, int n, int dim, float[] p, float[] out, int oAt) {
        int c = 0;
        for (; c + 4 * L <= dim; c += 4 * L) {
            outputFourBlock(rows, n, dim, p, out, oAt, c);
        }
        for (; c + L <= dim; c += L) {
            for (int i = 0; i < HEADS; i++) {
                FloatVector acc = FloatVector.zero(F);
                for (int j = 0; j < n; j++) {
                    acc = FloatVector.fromArray(F, rows, j * dim + c).fma(FloatVector.broadcast(F, p[i * n + j]), acc);
                }
                acc.intoArray(out, oAt + i * dim + c);
            }
        }
        for (; c < dim; c++) {
            for (int i = 0; i < HEADS; i++) {
                float acc = 0;
                for (int j = 0; j < n; j++) {
                    acc += p[i * n + j] * rows[j * dim + c];
                }
                out[oAt + i * dim + c] = acc;
            }
        }
    }

    private static void outputFourBlock(float[] rows, int n, int dim, float[] p, float[] out, int oAt, int c) {
        FloatVector o00 = FloatVector.zero(F);
        FloatVector o01 = o00;
        FloatVector o02 = o00;
        FloatVector o03 = o00;
        FloatVector o10 = o00;
        FloatVector o11 = o00;
        FloatVector o12 = o00;
        FloatVector o13 = o00;
        FloatVector o20 = o00;
        FloatVector o21 = o00;
        FloatVector o22 = o00;
        FloatVector o23 = o00;
        FloatVector o30 = o00;
        FloatVector o31 = o00;
        FloatVector o32 = o00;
        FloatVector o33 = o00;
        for (int j = 0; j < n; j++) {
            int r = j * dim + c;
            FloatVector x0 = FloatVector.fromArray(F, rows, r);
            FloatVector x1 = FloatVector.fromArray(F, rows, r + L);
            FloatVector x2 = FloatVector.fromArray(F, rows, r + 2 * L);
            FloatVector x3 = FloatVector.fromArray(F, rows, r + 3 * L);
            FloatVector p0 = FloatVector.broadcast(F, p[j]);
            FloatVector p1 = FloatVector.broadcast(F, p[n + j]);
            FloatVector p2 = FloatVector.broadcast(F, p[2 * n + j]);
            FloatVector p3 = FloatVector.broadcast(F, p[3 * n + j]);
            o00 = x0.fma(p0, o00);
            o01 = x1.fma(p0, o01);
            o02 = x2.fma(p0, o02);
            o03 = x3.fma(p0, o03);
            o10 = x0.fma(p1, o10);
            o11 = x1.fma(p1, o11);
            o12 = x2.fma(p1, o12);
            o13 = x3.fma(p1, o13);
            o20 = x0.fma(p2, o20);
            o21 = x1.fma(p2, o21);
            o22 = x2.fma(p2, o22);
            o23 = x3.fma(p2, o23);
            o30 = x0.fma(p3, o30);
            o31 = x1.fma(p3, o31);
            o32 = x2.fma(p3, o32);
            o33 = x3.fma(p3, o33);
        }
        int a = oAt + c;
        o00.intoArray(out, a);
        o01.intoArray(out, a + L);
        o02.intoArray(out, a + 2 * L);
        o03.intoArray(out, a + 3 * L);
        a += dim;
        o10.intoArray(out, a);
        o11.intoArray(out, a + L);
        o12.intoArray(out, a + 2 * L);
        o13.intoArray(out, a + 3 * L);
        a += dim;
        o20.intoArray(out, a);
        o21.intoArray(out, a + L);
        o22.intoArray(out, a + 2 * L);
        o23.intoArray(out, a + 3 * L);
        a += dim;
        o30.intoArray(out, a);
        o31.intoArray(out, a + L);
        o32.intoArray(out, a + 2 * L);
        o33.intoArray(out, a + 3 * L);
    }

    private static void outputOne(float[] rows, int n, int dim, float[] p, int pAt, float[] out, int oAt) {
        int c = 0;
        for (int bound = F.loopBound(dim); c < bound; c += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < n; j++) {
                acc = FloatVector.fromArray(F, rows, j * dim + c).fma(FloatVector.broadcast(F, p[pAt + j]), acc);
            }
            acc.intoArray(out, oAt + c);
        }
        for (; c < dim; c++) {
            float acc = 0;
            for (int j = 0; j < n; j++) {
                acc += p[pAt + j] * rows[j * dim + c];
            }
            out[oAt + c] = acc;
        }
    }

    /** Keys the indexer scores per pass: four vectors of lanes, one key per lane. */
    static final int KEYS = 4 * L;

    /**
     * Indexer scores of one query against {@link #KEYS} keys held transposed, {@code keysT[c *
     * KEYS + j]} = value c of key j: for each key, {@code sum_h relu(q_h · k_j) * w[h]}. Keys sit
     * in lanes, so no sum crosses lanes, and each lane does the reference's arithmetic in its
     * order (products rounded, then added, c ascending, then heads ascending): the scores equal
     * the plain loops' bit for bit.
     */
    static void indexerScores(float[] q, int heads, int dim, float[] w, float[] keysT, float[] scores) {
        FloatVector s0 = FloatVector.zero(F);
        FloatVector s1 = s0;
        FloatVector s2 = s0;
        FloatVector s3 = s0;
        for (int h = 0; h < heads; h++) {
            FloatVector d0 = FloatVector.zero(F);
            FloatVector d1 = d0;
            FloatVector d2 = d0;
            FloatVector d3 = d0;
            int qAt = h * dim;
            for (int c = 0; c < dim; c++) {
                FloatVector qc = FloatVector.broadcast(F, q[qAt + c]);
                int k = c * KEYS;
                d0 = d0.add(FloatVector.fromArray(F, keysT, k).mul(qc));
                d1 = d1.add(FloatVector.fromArray(F, keysT, k + L).mul(qc));
                d2 = d2.add(FloatVector.fromArray(F, keysT, k + 2 * L).mul(qc));
                d3 = d3.add(FloatVector.fromArray(F, keysT, k + 3 * L).mul(qc));
            }
            float wh = w[h];
            s0 = s0.add(d0.max(0f).mul(wh));
            s1 = s1.add(d1.max(0f).mul(wh));
            s2 = s2.add(d2.max(0f).mul(wh));
            s3 = s3.add(d3.max(0f).mul(wh));
        }
        s0.intoArray(scores, 0);
        s1.intoArray(scores, L);
        s2.intoArray(scores, 2 * L);
        s3.intoArray(scores, 3 * L);
    }

    // ---- the grouped output projection's decode path (GroupedProjection) ----
    // GemmSimd's species and E4M3 decoding: shifted codes are 2^-120 of their value.

    /**
     * xs = x[at..at+in) times {@code unit * scales[sAt + c/128]}; false when a product is not
     * finite. {@code in} is a multiple of 128.
     */
    static boolean fold(float[] x, int at, int in, float[] scales, int sAt, float unit, float[] xs) {
        VectorSpecies<Float> fs = GemmSimd.FS;
        FloatVector any = FloatVector.zero(fs);
        for (int c = 0; c < in; c += fs.length()) {
            FloatVector v = FloatVector.fromArray(fs, x, at + c).mul(scales[sAt + (c >>> 7)] * unit);
            v.intoArray(xs, c);
            any = any.add(v.sub(v)); // NaN in a lane once a product is infinite or NaN
        }
        return !any.test(VectorOperators.IS_NAN).anyTrue();
    }

    /**
     * y[j] = (E4M3 row j) · xs for rows j in [from, to) four at a time (rows {@code rowBytes}
     * apart from byte {@code at}); NaN for the rows of a quad that holds a NaN code. Returns the
     * first row not done (fewer than four left).
     */
    static int fp8Rows(MemorySegment w, long at, long rowBytes, float[] xs, int in, int from, int to, float[] y) {
        float[] sums = new float[4];
        int j = from;
        for (; j + 4 <= to; j += 4) {
            long r0 = at + j * rowBytes;
            boolean nan = fp8Four(w, r0, r0 + rowBytes, r0 + 2 * rowBytes, r0 + 3 * rowBytes, xs, in, sums);
            for (int q = 0; q < 4; q++) {
                y[j + q] = nan ? Float.NaN : sums[q];
            }
        }
        return j;
    }

    /** Four E4M3 rows times xs into sums (lanes summed in a fixed order); true when a code is NaN. */
    private static boolean fp8Four(MemorySegment w, long r0, long r1, long r2, long r3, float[] xs, int in, float[] sums) {
        VectorSpecies<Float> fs = GemmSimd.FS;
        int l = fs.length();
        FloatVector acc0 = FloatVector.zero(fs);
        FloatVector acc1 = acc0;
        FloatVector acc2 = acc0;
        FloatVector acc3 = acc0;
        ByteVector nan = ByteVector.zero(GemmSimd.BS);
        // nested loops: a flat loop of this size is unrolled by C2 until it spills
        for (int c0 = 0; c0 < in; c0 += 128) {
            for (int c = c0; c < c0 + 128; c += GemmSimd.U) {
                ByteVector b0 = ByteVector.fromMemorySegment(GemmSimd.BS, w, r0 + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector b1 = ByteVector.fromMemorySegment(GemmSimd.BS, w, r1 + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector b2 = ByteVector.fromMemorySegment(GemmSimd.BS, w, r2 + c, ByteOrder.LITTLE_ENDIAN);
                ByteVector b3 = ByteVector.fromMemorySegment(GemmSimd.BS, w, r3 + c, ByteOrder.LITTLE_ENDIAN);
                nan = GemmSimd.nanCheck(nan, b0, b1, b2, b3);
                for (int p = 0; p < GemmSimd.PARTS; p++) {
                    FloatVector xv = FloatVector.fromArray(fs, xs, c + p * l);
                    acc0 = GemmSimd.e4m3(b0, p).fma(xv, acc0);
                    acc1 = GemmSimd.e4m3(b1, p).fma(xv, acc1);
                    acc2 = GemmSimd.e4m3(b2, p).fma(xv, acc2);
                    acc3 = GemmSimd.e4m3(b3, p).fma(xv, acc3);
                }
            }
        }
        float[] lanes = new float[4 * l];
        acc0.intoArray(lanes, 0);
        acc1.intoArray(lanes, l);
        acc2.intoArray(lanes, 2 * l);
        acc3.intoArray(lanes, 3 * l);
        for (int q = 0; q < 4; q++) {
            sums[q] = laneSum(lanes, q * l, l);
        }
        return nan.reduceLanes(VectorOperators.MAX) == 0x7F; // a NaN code (see GemmSimd.nanCheck)
    }

    /** The pairwise sum of lanes[at..at+l), l a power of two. */
    private static float laneSum(float[] lanes, int at, int l) {
        for (int width = l; width > 1; width >>= 1) {
            int half = width >> 1;
            for (int i = 0; i < half; i++) {
                lanes[at + i] += lanes[at + i + half];
            }
        }
        return lanes[at];
    }

    /** Row {@code row} of {@code a} into dst[at..] as f32. */
    static void read(AttentionRows a, long row, float[] dst, int at) {
        switch (a.dtype) {
            case BF16 -> readBf16(a.segment, a.start(row), a.cols, dst, at);
            default -> a.read(row, dst, at);
        }
    }

    /** src[at..] into row {@code row} of {@code a}, rounded to its dtype. */
    static void write(AttentionRows a, long row, float[] src, int at) {
        switch (a.dtype) {
            case BF16 -> writeBf16(src, at, a.cols, a.segment, a.start(row));
            default -> a.write(row, src, at);
        }
    }

    /** src[srcAt..srcAt+cols) rounded to BF16 (nearest even, NaN to 0x7FC0) at element {@code at} of s. */
    static void writeBf16(float[] src, int srcAt, int cols, MemorySegment s, long at) {
        int c = 0;
        for (int bound = F.loopBound(cols); c < bound; c += L) {
            IntVector bits = FloatVector.fromArray(F, src, srcAt + c).reinterpretAsInts();
            IntVector rounded = bits.add(0x7FFF)
                    .add(bits.lanewise(VectorOperators.LSHR, 16).and(1))
                    .lanewise(VectorOperators.LSHR, 16);
            rounded = rounded.blend(0x7FC0, bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000));
            ShortVector h = (ShortVector) rounded.convertShape(VectorOperators.I2S, RowsSimd.H, 0);
            h.intoMemorySegment(s, (at + c) * 2, ByteOrder.LITTLE_ENDIAN);
        }
        for (; c < cols; c++) {
            s.setAtIndex(HostMemory.I16, at + c, BF16.encode(src[srcAt + c]));
        }
    }

    /** {@code cols} BF16 values at element {@code at} of {@code s} into dst[dstAt..] as f32. */
    static void readBf16(MemorySegment s, long at, int cols, float[] dst, int dstAt) {
        int c = 0;
        for (int bound = F.loopBound(cols); c < bound; c += L) {
            ShortVector h = ShortVector.fromMemorySegment(RowsSimd.H, s, (at + c) * 2, ByteOrder.LITTLE_ENDIAN);
            IntVector bits = (IntVector) h.convertShape(VectorOperators.S2I, RowsSimd.I, 0);
            bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstAt + c);
        }
        for (; c < cols; c++) {
            dst[dstAt + c] = BF16.decode(s.getAtIndex(HostMemory.I16, at + c));
        }
    }

    /**
     * The sum of v's lanes in a fixed order (see {@link #sum(float[], int)}). reduceLanes(ADD)
     * leaves the order to the JIT tier, so the same input could give other bits from one run to
     * the next.
     */
    static float sum(FloatVector v) {
        float[] lanes = new float[L];
        v.intoArray(lanes, 0);
        return sum(lanes, 0);
    }

    /** The sum of lanes[at..at+L) as a pairwise tree (depth log2 L), the same on every run. */
    static float sum(float[] lanes, int at) {
        for (int width = L; width > 1; width >>= 1) {
            int half = width >> 1;
            for (int i = 0; i < half; i++) {
                lanes[at + i] += lanes[at + i + half];
            }
        }
        return lanes[at];
    }
}

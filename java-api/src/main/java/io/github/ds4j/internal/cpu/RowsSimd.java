package io.github.ds4j.internal.cpu;

import io.github.ds4j.format.BF16;
import io.github.ds4j.internal.HostMemory;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Vector API kernels of the per-row ops, on one row held in an f32 array, plus the row reads
 * and writes that widen and round BF16 with vectors. Loaded only when {@link CpuPath#simd()}.
 * Tails shorter than a vector run the same scalar code as {@link ScalarOps}.
 */
final class RowsSimd {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** Shorts with as many lanes as F has floats: one BF16 row chunk. */
    static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    static final int L = F.length();

    /** Lane i swaps with lane i ^ 1: the partner in an interleaved RoPE pair. */
    private static final VectorShuffle<Float> PAIR_SWAP = VectorShuffle.fromOp(F, i -> i ^ 1);
    /** Hadamard stages with a span h below L, done inside one vector: lane i pairs with i ^ h. */
    private static final int SMALL_STAGES = Integer.numberOfTrailingZeros(L);
    private static final VectorShuffle<Float>[] STAGE_SWAP = stageShuffles();
    /** +1 on the lanes that keep a + b, -1 on those that get a - b. */
    private static final float[][] STAGE_SIGN = stageSigns();

    /** Sums of squares and exponentials are flushed to double every this many elements. */
    private static final int FLUSH = 1024;

    // exp(x) = 2^n * e^r with n = round(x / ln 2) and |r| <= ln(2)/2, where the Taylor series of
    // e^r to r^7 is within 1e-8 relative; r = x - n ln 2 with ln 2 in two parts and fused products
    private static final float LOG2E = (float) (1 / Math.log(2));
    private static final float LN2_HI = (float) Math.log(2);
    private static final float LN2_LO = (float) (Math.log(2) - LN2_HI);
    /** Adding 1.5 * 2^23 rounds an f32 below 2^22 to an integer (nearest even) in the low mantissa bits. */
    private static final float ROUNDER = 0x1.8p23f;
    /** 1/7!, 1/6!, ..., 1/2!: e^r = 1 + r + r^2 (1/2! + r (1/3! + ...)). */
    private static final float[] EXP_POLY = {1f / 5040, 1f / 720, 1f / 120, 1f / 24, 1f / 6, 1f / 2};

    private RowsSimd() {
    }

    // ---- row reads and writes ----

    /** Row {@code r} of {@code a} into {@code dst} as f32. */
    static void read(RowAccess a, long r, float[] dst) {
        switch (a.dtype) {
            case BF16 -> {
                long at = a.start(r);
                int cols = a.cols;
                int c = 0;
                for (int bound = F.loopBound(cols); c < bound; c += L) {
                    ShortVector s = ShortVector.fromMemorySegment(H, a.segment, (at + c) * 2, ByteOrder.LITTLE_ENDIAN);
                    IntVector bits = (IntVector) s.convertShape(VectorOperators.S2I, I, 0);
                    bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, c);
                }
                for (; c < cols; c++) {
                    dst[c] = BF16.decode(a.segment.getAtIndex(HostMemory.I16, at + c));
                }
            }
            default -> a.read(r, dst);
        }
    }

    /** {@code src} into row {@code r} of {@code a}, rounding to its dtype (BF16: nearest even, NaN to 0x7FC0). */
    static void write(RowAccess a, long r, float[] src) {
        switch (a.dtype) {
            case BF16 -> {
                long at = a.start(r);
                int cols = a.cols;
                MemorySegment seg = a.segment;
                int c = 0;
                for (int bound = F.loopBound(cols); c < bound; c += L) {
                    IntVector bits = FloatVector.fromArray(F, src, c).reinterpretAsInts();
                    IntVector rounded = bits.add(0x7FFF)
                            .add(bits.lanewise(VectorOperators.LSHR, 16).and(1))
                            .lanewise(VectorOperators.LSHR, 16);
                    VectorMask<Integer> nan = bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000);
                    rounded = rounded.blend(0x7FC0, nan);
                    ShortVector s = (ShortVector) rounded.convertShape(VectorOperators.I2S, H, 0);
                    s.intoMemorySegment(seg, (at + c) * 2, ByteOrder.LITTLE_ENDIAN);
                }
                for (; c < cols; c++) {
                    seg.setAtIndex(HostMemory.I16, at + c, BF16.encode(src[c]));
                }
            }
            default -> a.write(r, src);
        }
    }

    // ---- kernels on one f32 row ----

    static void rmsNorm(float[] row, int cols, float[] w, float eps) {
        double ss = 0;
        int c = 0;
        while (c + L <= cols) {
            int end = Math.min(cols, c + FLUSH);
            FloatVector acc0 = FloatVector.zero(F);
            FloatVector acc1 = FloatVector.zero(F);
            for (; c + 2 * L <= end; c += 2 * L) {
                FloatVector v0 = FloatVector.fromArray(F, row, c);
                FloatVector v1 = FloatVector.fromArray(F, row, c + L);
                acc0 = v0.fma(v0, acc0);
                acc1 = v1.fma(v1, acc1);
            }
            for (; c + L <= end; c += L) {
                FloatVector v0 = FloatVector.fromArray(F, row, c);
                acc0 = v0.fma(v0, acc0);
            }
            ss += laneSum(acc0.add(acc1));
        }
        for (; c < cols; c++) {
            ss += (double) row[c] * row[c];
        }
        float inv = ScalarOps.rmsInverse(ss, cols, eps);
        c = 0;
        int bound = F.loopBound(cols);
        if (w == null) {
            for (; c < bound; c += L) {
                FloatVector.fromArray(F, row, c).mul(inv).intoArray(row, c);
            }
            for (; c < cols; c++) {
                row[c] = row[c] * inv;
            }
        } else {
            for (; c < bound; c += L) {
                FloatVector.fromArray(F, row, c).mul(inv).mul(FloatVector.fromArray(F, w, c)).intoArray(row, c);
            }
            for (; c < cols; c++) {
                row[c] = row[c] * inv * w[c];
            }
        }
    }

    /**
     * Rotates interleaved pairs: y = x * cosPairs + swap(x) * sinPairs, with cosPairs = (c, c, ...)
     * and sinPairs = (-s, s, ...); the same products and sums as the scalar kernel, so the same bits.
     */
    static void rope(float[] row, int cols, float[] cosPairs, float[] sinPairs) {
        int c = 0;
        for (int bound = F.loopBound(cols); c < bound; c += L) {
            FloatVector v = FloatVector.fromArray(F, row, c);
            v.mul(FloatVector.fromArray(F, cosPairs, c))
                    .add(v.rearrange(PAIR_SWAP).mul(FloatVector.fromArray(F, sinPairs, c)))
                    .intoArray(row, c);
        }
        for (; c + 1 < cols; c += 2) {
            float re = row[c];
            float im = row[c + 1];
            float cos = cosPairs[c];
            float sin = sinPairs[c + 1];
            row[c] = re * cos - im * sin;
            row[c + 1] = re * sin + im * cos;
        }
    }

    /**
     * The scalar kernel's butterflies in the same order: spans below L inside each vector (lane i
     * pairs with lane i ^ h), wider spans between vectors. Bit-identical to the scalar transform.
     */
    static void hadamard(float[] row, int d) {
        if (d < L) {
            ScalarOps.hadamardRow(row, d);
            return;
        }
        for (int c = 0; c < d; c += L) {
            FloatVector v = FloatVector.fromArray(F, row, c);
            for (int s = 0; s < SMALL_STAGES; s++) {
                // lower lane: b + a; upper lane: a + (-b)
                v = v.rearrange(STAGE_SWAP[s]).add(v.mul(FloatVector.fromArray(F, STAGE_SIGN[s], 0)));
            }
            v.intoArray(row, c);
        }
        for (int h = L; h < d; h <<= 1) {
            for (int i = 0; i < d; i += h << 1) {
                for (int j = i; j < i + h; j += L) {
                    FloatVector a = FloatVector.fromArray(F, row, j);
                    FloatVector b = FloatVector.fromArray(F, row, j + h);
                    a.add(b).intoArray(row, j);
                    a.sub(b).intoArray(row, j + h);
                }
            }
        }
        float scale = ScalarOps.hadamardScale(d);
        for (int c = 0; c < d; c += L) {
            FloatVector.fromArray(F, row, c).mul(scale).intoArray(row, c);
        }
    }

    static void swiglu(float[] gate, float[] up, int cols, float limit) {
        int c = 0;
        int bound = F.loopBound(cols);
        boolean clamp = limit > 0;
        for (; c < bound; c += L) {
            FloatVector g = FloatVector.fromArray(F, gate, c);
            FloatVector u = FloatVector.fromArray(F, up, c);
            if (clamp) {
                g = g.min(limit);
                u = u.max(-limit).min(limit);
            }
            FloatVector silu = g.div(exp(g.neg()).add(1f));
            silu.mul(u).intoArray(gate, c);
        }
        for (; c < cols; c++) {
            gate[c] = ScalarOps.swiglu(gate[c], up[c], limit);
        }
    }

    static void softmax(float[] row, int cols) {
        int bound = F.loopBound(cols);
        int c = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (bound > 0) {
            // four running maxima: a NaN-propagating max has a long latency
            FloatVector m0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            FloatVector m1 = m0;
            FloatVector m2 = m0;
            FloatVector m3 = m0;
            for (; c + 4 * L <= bound; c += 4 * L) {
                m0 = m0.max(FloatVector.fromArray(F, row, c));
                m1 = m1.max(FloatVector.fromArray(F, row, c + L));
                m2 = m2.max(FloatVector.fromArray(F, row, c + 2 * L));
                m3 = m3.max(FloatVector.fromArray(F, row, c + 3 * L));
            }
            for (; c < bound; c += L) {
                m0 = m0.max(FloatVector.fromArray(F, row, c));
            }
            m = m0.max(m1).max(m2.max(m3)).reduceLanes(VectorOperators.MAX);
        }
        for (; c < cols; c++) {
            m = Math.max(m, row[c]);
        }
        double sum = 0;
        c = 0;
        while (c < bound) {
            int end = Math.min(bound, c + FLUSH);
            FloatVector acc = FloatVector.zero(F);
            for (; c < end; c += L) {
                FloatVector e = exp(FloatVector.fromArray(F, row, c).sub(m));
                e.intoArray(row, c);
                acc = acc.add(e);
            }
            sum += laneSum(acc);
        }
        for (; c < cols; c++) {
            row[c] = (float) Math.exp(row[c] - m);
            sum += row[c];
        }
        float inv = (float) (1.0 / sum);
        c = 0;
        for (; c < bound; c += L) {
            FloatVector.fromArray(F, row, c).mul(inv).intoArray(row, c);
        }
        for (; c < cols; c++) {
            row[c] *= inv;
        }
    }

    /**
     * Heap top-k ({@link RowsTopK}) that skips whole vectors below the current k-th value t: an
     * element v < t can never enter (equal values lose on index; a NaN t skips nothing).
     */
    static void topK(float[] row, int cols, int k, long[] heap, int[] best) {
        RowsTopK.fill(row, k, heap);
        int c = k;
        while (c < cols) {
            if (c + L <= cols) {
                float t = row[RowsTopK.index(heap[0])];
                if (FloatVector.fromArray(F, row, c).compare(VectorOperators.LT, t).allTrue()) {
                    c += L;
                    continue;
                }
            }
            for (int end = Math.min(cols, c + L); c < end; c++) {
                RowsTopK.offer(heap, k, row[c], c);
            }
        }
        RowsTopK.finish(heap, k, best);
    }

    /**
     * e^x within 2 ulps of the exact value over the f32 range: 0 below -104, infinity above
     * 88.8, NaN for NaN. Inline arithmetic: the Vector API's EXP measured 1.6 ns per element on
     * JDK 25 (AVX-512), this 0.6, Math.exp 4.4.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector v = x.max(-104f).min(89f); // keeps NaN (Math.max/min semantics)
        FloatVector t = v.mul(LOG2E).add(ROUNDER);
        IntVector n = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUNDER));
        FloatVector nf = t.sub(ROUNDER);
        FloatVector r = nf.fma(FloatVector.broadcast(F, -LN2_HI), v);
        r = nf.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(F, EXP_POLY[0]);
        for (int i = 1; i < EXP_POLY.length; i++) {
            p = p.fma(r, FloatVector.broadcast(F, EXP_POLY[i]));
        }
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        // 2^n in two factors, each a normal f32 for n in [-150, 129], so subnormal results round once
        IntVector n1 = n.lanewise(VectorOperators.ASHR, 1);
        IntVector n2 = n.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(s1).mul(s2);
    }

    /** y[i] = {@link #exp}(x[i]) for i < n, with Math.exp on the tail; for tests. */
    static void exp(float[] x, float[] y, int n) {
        int c = 0;
        for (int bound = F.loopBound(n); c < bound; c += L) {
            exp(FloatVector.fromArray(F, x, c)).intoArray(y, c);
        }
        for (; c < n; c++) {
            y[c] = (float) Math.exp(x[c]);
        }
    }

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] stageShuffles() {
        VectorShuffle<Float>[] s = new VectorShuffle[SMALL_STAGES];
        for (int i = 0; i < SMALL_STAGES; i++) {
            int h = 1 << i;
            s[i] = VectorShuffle.fromOp(F, lane -> lane ^ h);
        }
        return s;
    }

    private static float[][] stageSigns() {
        float[][] s = new float[SMALL_STAGES][L];
        for (int i = 0; i < SMALL_STAGES; i++) {
            for (int lane = 0; lane < L; lane++) {
                s[i][lane] = (lane & (1 << i)) == 0 ? 1f : -1f;
            }
        }
        return s;
    }

    /**
     * The sum of v's lanes, in lane order. reduceLanes(ADD) leaves the order to the JIT tier
     * (the interpreter and C2 differ), so the same row could give other bits from one run to
     * the next; the CPU reference must not.
     */
    private static double laneSum(FloatVector v) {
        double sum = 0;
        for (int i = 0; i < L; i++) {
            sum += v.lane(i);
        }
        return sum;
    }
}

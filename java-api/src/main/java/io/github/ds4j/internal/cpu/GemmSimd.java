package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.internal.HostMemory;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Vector API GEMM kernels for few activation rows (decode, M up to {@link #STREAM_MAX_M}): each
 * weight byte is loaded once per activation row, decoded to f32 in registers and multiplied into
 * the row, four weight rows at a time (two for FP4); larger M goes to {@link GemmTiles}. Also the
 * code decoders both share. Loaded only when {@link CpuPath#simd()} is true.
 *
 * <p>Decoding is bit manipulation on int lanes holding sign-extended code bytes. E4M3: shift the
 * 7 exponent/mantissa bits to f32 bits 26..20 (the sign lands on bit 31), mask, and multiply by
 * 2^120: exponents map exactly and subnormal codes become f32 subnormals that the multiply
 * normalizes. E2M1 nibbles likewise, to bits 24..22, times 2^126. The power of two is folded into
 * the block scale; for the FP8 GEMV the whole 128x128 block factor is folded into the activation
 * row instead, once per 128 weight rows. The two nibbles of a byte decode into separate vectors
 * (even elements, odd elements), so activations are stored permuted to match, see
 * {@link #fp4Position}.
 *
 * <p>{@code -Dds4j.cpu.gemm.vectorBits=128|256} forces narrower vectors (for testing the code paths
 * other machines take); the default is the preferred width, at most 512 bits.
 */
final class GemmSimd {
    static final VectorSpecies<Float> FS = floatSpecies();
    /** f32 lanes per vector. */
    static final int L = FS.length();
    static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, FS.vectorShape());
    /** Bytes per code load: one int vector's worth, but at least the smallest byte vector (8). */
    static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, 8 * L)));
    static final int U = BS.length();
    /** Int vectors per code load (2 when L is 4). */
    static final int PARTS = U / L;
    static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(16 * L));

    /** Up to this many activation rows stream the weights once per row; more go to tiles. */
    static final int STREAM_MAX_M = 4;

    /** E4M3 codes shifted to f32 position are 2^-120 of their value. */
    static final float E4M3_UNIT = 0x1p120f;
    /** E2M1 codes shifted to f32 position are 2^-126 of their value. */
    static final float E2M1_UNIT = 0x1p126f;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = HostMemory.F32;
    /** The E8M0 code of {@link Gemm#TINY_SCALE}. */
    private static final int MIN_E8M0 = Math.getExponent(Gemm.TINY_SCALE) + 127;
    /** Moves bytes [p * L, p * L + L) of a code load to the front, for p < PARTS. */
    private static final VectorShuffle<Byte>[] PART_FRONT = partShuffles();

    private GemmSimd() {
    }

    private static VectorSpecies<Float> floatSpecies() {
        int preferred = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        int bits = Math.min(512, Math.min(preferred, Integer.getInteger("ds4j.cpu.gemm.vectorBits", preferred)));
        bits = Math.max(128, Integer.highestOneBit(bits));
        return VectorSpecies.of(float.class, VectorShape.forBitSize(bits));
    }

    /** True when the SIMD kernels handle these operands (else the scalar loops run). */
    static boolean supports(GemmArgs g) {
        return switch (g.kind()) {
            case FP8 -> g.k() % 128 == 0 && g.aType() == DType.F8_E4M3 && g.wType() == DType.F8_E4M3;
            case FP4 -> g.k() % 32 == 0 && g.aType() == DType.F8_E4M3 && g.wType() == DType.FP4_E2M1;
            case LINEAR -> isVectorReal(g.aType()) && isVectorReal(g.wType());
        };
    }

    private static boolean isVectorReal(DType t) {
        return t == DType.F32 || t == DType.BF16;
    }

    /** Computes y; sets {@code exact[j]} for weight rows whose column of y must be recomputed exactly. */
    static void run(GemmArgs g, boolean[] exact) {
        if (g.m() > STREAM_MAX_M) {
            GemmTiles.run(g, exact);
            return;
        }
        float[] cs8 = g.kind() == GemmArgs.Kind.FP8 ? fp8BlockFactors(g, exact) : null;
        float[] x = new float[g.k()];
        // Pieces of whole 128-row bands (FP8 folds its factors into x once per band), at least
        // about 128 KiB of weights each; piece starts are multiples of 4, as the kernels need.
        int piece = Math.max(128, (1 << 17) / Math.max(1, g.k()) / 128 * 128);
        for (int i = 0; i < g.m(); i++) {
            activationRow(g, i, x);
            int row = i;
            Gemm.dynamic(g.n(), piece, (n0, n1) -> {
                switch (g.kind()) {
                    case FP8 -> fp8Rows(g, row, x, cs8, n0, n1, exact);
                    case FP4 -> fp4Rows(g, row, x, n0, n1, exact);
                    case LINEAR -> realRows(g, row, x, n0, n1);
                }
            });
        }
    }

    // ---- shared decoding ----

    /**
     * FP8: the per-(128-row band, 128-column block) factor that turns shifted E4M3 codes into
     * scaled weights, 2^120 * sW. Bands whose factor is not finite, or whose scale is below
     * {@link Gemm#TINY_SCALE}, are marked for the exact path.
     */
    static float[] fp8BlockFactors(GemmArgs g, boolean[] exact) {
        float[] s = g.wBlockScales();
        float[] f = new float[s.length];
        for (int i = 0; i < s.length; i++) {
            f[i] = s[i] * E4M3_UNIT;
            if (!(Math.abs(s[i]) >= Gemm.TINY_SCALE && Float.isFinite(f[i]))) {
                int band = i / g.wScaleCols();
                for (int j = band * 128; j < Math.min(g.n(), band * 128 + 128); j++) {
                    exact[j] = true;
                }
            }
        }
        return f;
    }

    /**
     * FP4: 2^126 * sW[row, block] for the scale at element {@code at}, or NaN when that is not
     * finite or the scale is below {@link Gemm#TINY_SCALE} (the caller then marks the row for the
     * exact path).
     */
    static float fp4Factor(GemmArgs g, long at) {
        if (g.wScaleF32()) {
            float s = g.wScales().getAtIndex(F32, at);
            float f = s * E2M1_UNIT;
            return Math.abs(s) >= Gemm.TINY_SCALE && Float.isFinite(f) ? f : Float.NaN;
        }
        int e = g.wScales().get(ValueLayout.JAVA_BYTE, at) & 0xFF;
        // 2^(e-127) * 2^126 = 2^(e-1), finite up to e = 128
        return e >= MIN_E8M0 && e <= 128 ? Float.intBitsToFloat((e + 126) << 23) : Float.NaN;
    }

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Byte>[] partShuffles() {
        VectorShuffle<Byte>[] s = new VectorShuffle[PARTS];
        for (int p = 0; p < PARTS; p++) {
            int from = p * L;
            s[p] = VectorShuffle.fromOp(BS, i -> (i + from) % U);
        }
        return s;
    }

    /**
     * The sign-extended bytes [p * L, p * L + L) of a code load as int lanes. Part 0 converts
     * directly; later parts (only when L is 4) are moved to the front first, because C2 does not
     * compile a conversion of a later part into vector code.
     */
    static IntVector widen(ByteVector codes, int p) {
        ByteVector front = p == 0 ? codes : codes.rearrange(PART_FRONT[p]);
        return (IntVector) front.convertShape(VectorOperators.B2I, IS, 0);
    }

    /** Shifted E4M3 codes (value * 2^-120) of the int lanes of part {@code part} of the loaded bytes. */
    static FloatVector e4m3(ByteVector codes, int part) {
        IntVector v = widen(codes, part);
        return v.lanewise(VectorOperators.LSHL, 20).lanewise(VectorOperators.AND, 0x87F0_0000).reinterpretAsFloats();
    }

    /** Shifted E2M1 codes (value * 2^-126) of the low nibbles of sign-extended bytes. */
    static FloatVector e2m1Low(IntVector v) {
        return v.lanewise(VectorOperators.LSHL, 28).lanewise(VectorOperators.ASHR, 6)
                .lanewise(VectorOperators.AND, 0x81C0_0000).reinterpretAsFloats();
    }

    /** Shifted E2M1 codes of the high nibbles (the sign extension supplies bit 31). */
    static FloatVector e2m1High(IntVector v) {
        return v.lanewise(VectorOperators.LSHL, 18).lanewise(VectorOperators.AND, 0x81C0_0000).reinterpretAsFloats();
    }

    /** BF16 values of {@code L} little-endian shorts. */
    static FloatVector bf16(MemorySegment s, long at) {
        ShortVector h = ShortVector.fromMemorySegment(SS, s, at, LE);
        IntVector v = (IntVector) h.convertShape(VectorOperators.S2I, IS, 0);
        return v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * Where element c of a K-row sits in FP4 order: within each group of 2L elements (L code
     * bytes), the even elements (low nibbles) come first, then the odd ones.
     */
    static int fp4Position(int c) {
        int base = c & -(2 * L);
        int within = c - base;
        return base + ((within & 1) == 0 ? within >>> 1 : L + (within >>> 1));
    }

    /**
     * Activation row {@code i} as f32 into {@code out[0..K)}: E4M3 codes times their 1x128 scale
     * (FP4 order for the FP4 op), or the real values for linear.
     */
    static void activationRow(GemmArgs g, int i, float[] out) {
        int k = g.k();
        MemorySegment a = g.a();
        long row = g.aRow(i);
        switch (g.kind()) {
            case FP8 -> e4m3Row(a, row, k, g.aScales(), i * g.aScaleCols(), out);
            case FP4 -> {
                // K is a multiple of 32, hence of the 2L-element groups fp4Position permutes within
                float[] natural = new float[k];
                e4m3Row(a, row, k, g.aScales(), i * g.aScaleCols(), natural);
                for (int c = 0; c < k; c++) {
                    out[fp4Position(c)] = natural[c];
                }
            }
            case LINEAR -> {
                if (g.aType() == DType.F32) {
                    MemorySegment.copy(a, F32, row, out, 0, k);
                } else {
                    int c = 0;
                    for (; c <= k - L; c += L) {
                        bf16(a, row + 2L * c).intoArray(out, c);
                    }
                    for (; c < k; c++) {
                        out[c] = bf16At(a, row + 2L * c);
                    }
                }
            }
        }
    }

    /** k E4M3 codes (k a multiple of 32) times their 1x128 scales s[sAt..]; NaN codes give NaN. */
    private static void e4m3Row(MemorySegment a, long row, int k, float[] s, int sAt, float[] out) {
        for (int c0 = 0; c0 < k; c0 += 128) {
            float scale = s[sAt + c0 / 128];
            for (int u = c0; u < Math.min(k, c0 + 128); u += U) {
                ByteVector b = ByteVector.fromMemorySegment(BS, a, row + u, LE);
                for (int p = 0; p < PARTS; p++) {
                    // the unit first and the scale second: their product may not be finite
                    FloatVector v = e4m3(b, p).mul(E4M3_UNIT).mul(scale);
                    IntVector codes = widen(b, p);
                    VectorMask<Float> nan = codes.and(0x7F).compare(VectorOperators.EQ, 0x7F).cast(FS);
                    v.blend(Float.NaN, nan).intoArray(out, u + p * L);
                }
            }
        }
    }

    // ---- streaming kernels: one activation row i, weight rows [n0, n1) with n0 % 4 == 0 ----
    // Each group of rows is its own small method: C2 stops inlining the Vector API calls of a
    // method past a node budget, and a vector op that is not inlined allocates.

    private static void fp8Rows(GemmArgs g, int i, float[] x, float[] cs8, int n0, int n1, boolean[] exact) {
        int k = g.k();
        int kBlocks = k / 128;
        float[] xs = new float[k];
        float[] sums = new float[4];
        int band = -1;
        boolean folded = false;
        for (int j = n0; j < n1; j += 4) {
            // j % 4 == 0, so rows j..j+3 share a 128-row band
            if (j >>> 7 != band) {
                band = j >>> 7;
                folded = fold(x, cs8, band * kBlocks, xs);
            }
            int rows = Math.min(4, n1 - j);
            // past the last row, repeat it (the extra sums are dropped)
            long r0 = g.wRow(j);
            long r1 = g.wRow(j + Math.min(1, rows - 1));
            long r2 = g.wRow(j + Math.min(2, rows - 1));
            long r3 = g.wRow(j + Math.min(3, rows - 1));
            boolean nan = folded
                    ? fp8Four(g.w(), r0, r1, r2, r3, xs, k, sums)
                    : fp8FourScaled(g.w(), r0, r1, r2, r3, x, cs8, band * kBlocks, kBlocks, sums);
            for (int r = 0; r < rows; r++) {
                exact[j + r] |= nan;
                g.put(i, j + r, sums[r]);
            }
        }
    }

    /**
     * xs = x times the band's block factors (2^120 * sW), so that shifted codes times xs are the
     * scaled products; false when a product is not finite (then the factors are applied per block).
     */
    private static boolean fold(float[] x, float[] cs8, int csAt, float[] xs) {
        FloatVector any = FloatVector.zero(FS);
        for (int c = 0; c < x.length; c += L) {
            FloatVector v = FloatVector.fromArray(FS, x, c).mul(cs8[csAt + c / 128]);
            v.intoArray(xs, c);
            any = any.add(v.sub(v)); // NaN in a lane once any product is infinite or NaN
        }
        return !any.test(VectorOperators.IS_NAN).anyTrue();
    }

    /**
     * Four E4M3 weight rows times xs into sums[0..4); true when one holds a NaN code. Four rows
     * at a time keep enough loads in flight to stream from memory at full speed.
     */
    private static boolean fp8Four(MemorySegment w, long r0, long r1, long r2, long r3, float[] xs, int k, float[] sums) {
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = acc0;
        FloatVector acc2 = acc0;
        FloatVector acc3 = acc0;
        ByteVector nan = ByteVector.zero(BS);
        // Nested loops (rather than one over k) keep C2 from unrolling this body 8 times, which
        // spills to the stack and runs at half the speed.
        for (int c0 = 0; c0 < k; c0 += 128) {
            for (int c = c0; c < c0 + 128; c += U) {
                ByteVector b0 = ByteVector.fromMemorySegment(BS, w, r0 + c, LE);
                ByteVector b1 = ByteVector.fromMemorySegment(BS, w, r1 + c, LE);
                ByteVector b2 = ByteVector.fromMemorySegment(BS, w, r2 + c, LE);
                ByteVector b3 = ByteVector.fromMemorySegment(BS, w, r3 + c, LE);
                nan = nanCheck(nan, b0, b1, b2, b3);
                for (int p = 0; p < PARTS; p++) {
                    FloatVector xv = FloatVector.fromArray(FS, xs, c + p * L);
                    acc0 = e4m3(b0, p).fma(xv, acc0);
                    acc1 = e4m3(b1, p).fma(xv, acc1);
                    acc2 = e4m3(b2, p).fma(xv, acc2);
                    acc3 = e4m3(b3, p).fma(xv, acc3);
                }
            }
        }
        sums[0] = acc0.reduceLanes(VectorOperators.ADD);
        sums[1] = acc1.reduceLanes(VectorOperators.ADD);
        sums[2] = acc2.reduceLanes(VectorOperators.ADD);
        sums[3] = acc3.reduceLanes(VectorOperators.ADD);
        return hasNan(nan);
    }

    /** As {@link #fp8Four} with the block factors cs8[csAt..] applied to the decoded codes. */
    private static boolean fp8FourScaled(MemorySegment w, long r0, long r1, long r2, long r3, float[] x, float[] cs8, int csAt,
                                         int kBlocks, float[] sums) {
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = acc0;
        FloatVector acc2 = acc0;
        FloatVector acc3 = acc0;
        ByteVector nan = ByteVector.zero(BS);
        for (int kb = 0; kb < kBlocks; kb++) {
            FloatVector cs = FloatVector.broadcast(FS, cs8[csAt + kb]);
            for (int c = kb * 128; c < kb * 128 + 128; c += U) {
                ByteVector b0 = ByteVector.fromMemorySegment(BS, w, r0 + c, LE);
                ByteVector b1 = ByteVector.fromMemorySegment(BS, w, r1 + c, LE);
                ByteVector b2 = ByteVector.fromMemorySegment(BS, w, r2 + c, LE);
                ByteVector b3 = ByteVector.fromMemorySegment(BS, w, r3 + c, LE);
                nan = nanCheck(nan, b0, b1, b2, b3);
                for (int p = 0; p < PARTS; p++) {
                    FloatVector xv = FloatVector.fromArray(FS, x, c + p * L);
                    acc0 = e4m3(b0, p).mul(cs).fma(xv, acc0);
                    acc1 = e4m3(b1, p).mul(cs).fma(xv, acc1);
                    acc2 = e4m3(b2, p).mul(cs).fma(xv, acc2);
                    acc3 = e4m3(b3, p).mul(cs).fma(xv, acc3);
                }
            }
        }
        sums[0] = acc0.reduceLanes(VectorOperators.ADD);
        sums[1] = acc1.reduceLanes(VectorOperators.ADD);
        sums[2] = acc2.reduceLanes(VectorOperators.ADD);
        sums[3] = acc3.reduceLanes(VectorOperators.ADD);
        return hasNan(nan);
    }

    /**
     * Accumulates the NaN test of four code vectors: without the sign bit the two NaN codes
     * (0x7F, 0xFF) are 0x7F, the largest value any code can give.
     */
    static ByteVector nanCheck(ByteVector acc, ByteVector b0, ByteVector b1, ByteVector b2, ByteVector b3) {
        return acc.max(b0.and((byte) 0x7F)).max(b1.and((byte) 0x7F)).max(b2.and((byte) 0x7F)).max(b3.and((byte) 0x7F));
    }

    /** True when {@link #nanCheck} saw a NaN code. */
    static boolean hasNan(ByteVector acc) {
        return acc.reduceLanes(VectorOperators.MAX) == 0x7F;
    }

    private static void fp4Rows(GemmArgs g, int i, float[] x, int n0, int n1, boolean[] exact) {
        int kBlocks = g.k() / 32;
        float[] f = new float[2 * kBlocks];
        float[] sums = new float[2];
        int j = n0;
        for (; j + 2 <= n1; j += 2) {
            boolean bad = fp4Factors(g, j, f, 0) | fp4Factors(g, j + 1, f, kBlocks);
            fp4Two(g.w(), g.wRow(j), g.wRowBytes(), x, f, kBlocks, sums);
            if (bad) {
                exact[j] = exact[j + 1] = true;
            }
            g.put(i, j, sums[0]);
            g.put(i, j + 1, sums[1]);
        }
        if (j < n1) {
            exact[j] |= fp4Factors(g, j, f, 0);
            g.put(i, j, fp4One(g.w(), g.wRow(j), x, f, kBlocks));
        }
    }

    /** The per-block factors (see {@link #fp4Factor}) of weight row j into f[at..]; true when one is NaN. */
    static boolean fp4Factors(GemmArgs g, int j, float[] f, int at) {
        long s0 = g.wScaleOffset() + j * g.wScaleRow();
        int blocks = g.wScaleCols();
        MemorySegment s = g.wScales();
        VectorMask<Float> bad = FS.maskAll(false);
        int kb = 0;
        if (g.wScaleF32()) {
            for (; kb <= blocks - L; kb += L) {
                FloatVector v = FloatVector.fromMemorySegment(FS, s, (s0 + kb) * 4, LE);
                FloatVector fv = v.mul(E2M1_UNIT);
                // NaN unless |s| >= TINY_SCALE and the factor is finite (fv - fv is 0 only then)
                VectorMask<Float> ok = v.abs().compare(VectorOperators.GE, Gemm.TINY_SCALE)
                        .and(fv.sub(fv).compare(VectorOperators.EQ, 0f));
                fv.blend(Float.NaN, ok.not()).intoArray(f, at + kb);
                bad = bad.or(ok.not());
            }
        } else {
            for (; kb <= blocks - U; kb += U) {
                ByteVector codes = ByteVector.fromMemorySegment(BS, s, s0 + kb, LE);
                for (int p = 0; p < PARTS; p++) {
                    IntVector e = widen(codes, p).and(0xFF);
                    // 2^(e-127) * 2^126 = 2^(e-1), finite up to e = 128
                    FloatVector fv = e.add(126).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                    VectorMask<Float> ok = e.compare(VectorOperators.GE, MIN_E8M0).and(e.compare(VectorOperators.LE, 128)).cast(FS);
                    fv.blend(Float.NaN, ok.not()).intoArray(f, at + kb + p * L);
                    bad = bad.or(ok.not());
                }
            }
        }
        boolean any = bad.anyTrue();
        for (; kb < blocks; kb++) {
            f[at + kb] = fp4Factor(g, s0 + kb);
            any |= Float.isNaN(f[at + kb]);
        }
        return any;
    }

    /** Two packed FP4 weight rows times x (FP4 order); factors f[kb] and f[kBlocks + kb]. */
    private static void fp4Two(MemorySegment w, long r0, long rowBytes, float[] x, float[] f, int kBlocks, float[] sums) {
        long r1 = r0 + rowBytes;
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = acc0;
        FloatVector odd0 = acc0;
        FloatVector odd1 = acc0;
        for (int kb = 0; kb < kBlocks; kb++) {
            FloatVector c0 = FloatVector.broadcast(FS, f[kb]);
            FloatVector c1 = FloatVector.broadcast(FS, f[kBlocks + kb]);
            for (int u = 0; u < 16; u += U) {
                long at = kb * 16L + u;
                ByteVector b0 = ByteVector.fromMemorySegment(BS, w, r0 + at, LE);
                ByteVector b1 = ByteVector.fromMemorySegment(BS, w, r1 + at, LE);
                for (int p = 0; p < PARTS; p++) {
                    int e = kb * 32 + 2 * (u + p * L);
                    FloatVector xe = FloatVector.fromArray(FS, x, e);
                    FloatVector xo = FloatVector.fromArray(FS, x, e + L);
                    IntVector v0 = widen(b0, p);
                    IntVector v1 = widen(b1, p);
                    acc0 = e2m1Low(v0).mul(c0).fma(xe, acc0);
                    odd0 = e2m1High(v0).mul(c0).fma(xo, odd0);
                    acc1 = e2m1Low(v1).mul(c1).fma(xe, acc1);
                    odd1 = e2m1High(v1).mul(c1).fma(xo, odd1);
                }
            }
        }
        sums[0] = acc0.add(odd0).reduceLanes(VectorOperators.ADD);
        sums[1] = acc1.add(odd1).reduceLanes(VectorOperators.ADD);
    }

    private static float fp4One(MemorySegment w, long r0, float[] x, float[] f, int kBlocks) {
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector odd0 = acc0;
        for (int kb = 0; kb < kBlocks; kb++) {
            FloatVector c0 = FloatVector.broadcast(FS, f[kb]);
            for (int u = 0; u < 16; u += U) {
                ByteVector b0 = ByteVector.fromMemorySegment(BS, w, r0 + kb * 16L + u, LE);
                for (int p = 0; p < PARTS; p++) {
                    int e = kb * 32 + 2 * (u + p * L);
                    IntVector v0 = widen(b0, p);
                    acc0 = e2m1Low(v0).mul(c0).fma(FloatVector.fromArray(FS, x, e), acc0);
                    odd0 = e2m1High(v0).mul(c0).fma(FloatVector.fromArray(FS, x, e + L), odd0);
                }
            }
        }
        return acc0.add(odd0).reduceLanes(VectorOperators.ADD);
    }

    private static void realRows(GemmArgs g, int i, float[] x, int n0, int n1) {
        boolean f32 = g.wType() == DType.F32;
        float[] sums = new float[4];
        int j = n0;
        for (; j + 4 <= n1; j += 4) {
            if (f32) {
                f32Four(g.w(), g.wRow(j), g.wRowBytes(), x, g.k(), sums);
            } else {
                bf16Four(g.w(), g.wRow(j), g.wRowBytes(), x, g.k(), sums);
            }
            for (int r = 0; r < 4; r++) {
                g.put(i, j + r, sums[r]);
            }
        }
        for (; j < n1; j++) {
            g.put(i, j, f32 ? f32One(g.w(), g.wRow(j), x, g.k()) : bf16One(g.w(), g.wRow(j), x, g.k()));
        }
    }

    private static void f32Four(MemorySegment w, long r0, long rowBytes, float[] x, int k, float[] sums) {
        long r1 = r0 + rowBytes;
        long r2 = r1 + rowBytes;
        long r3 = r2 + rowBytes;
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = acc0;
        FloatVector acc2 = acc0;
        FloatVector acc3 = acc0;
        int c = 0;
        for (; c <= k - L; c += L) {
            FloatVector xv = FloatVector.fromArray(FS, x, c);
            acc0 = FloatVector.fromMemorySegment(FS, w, r0 + 4L * c, LE).fma(xv, acc0);
            acc1 = FloatVector.fromMemorySegment(FS, w, r1 + 4L * c, LE).fma(xv, acc1);
            acc2 = FloatVector.fromMemorySegment(FS, w, r2 + 4L * c, LE).fma(xv, acc2);
            acc3 = FloatVector.fromMemorySegment(FS, w, r3 + 4L * c, LE).fma(xv, acc3);
        }
        sums[0] = acc0.reduceLanes(VectorOperators.ADD) + f32Tail(w, r0, x, c, k);
        sums[1] = acc1.reduceLanes(VectorOperators.ADD) + f32Tail(w, r1, x, c, k);
        sums[2] = acc2.reduceLanes(VectorOperators.ADD) + f32Tail(w, r2, x, c, k);
        sums[3] = acc3.reduceLanes(VectorOperators.ADD) + f32Tail(w, r3, x, c, k);
    }

    private static float f32One(MemorySegment w, long r0, float[] x, int k) {
        FloatVector acc0 = FloatVector.zero(FS);
        int c = 0;
        for (; c <= k - L; c += L) {
            acc0 = FloatVector.fromMemorySegment(FS, w, r0 + 4L * c, LE).fma(FloatVector.fromArray(FS, x, c), acc0);
        }
        return acc0.reduceLanes(VectorOperators.ADD) + f32Tail(w, r0, x, c, k);
    }

    private static float f32Tail(MemorySegment w, long row, float[] x, int from, int k) {
        float t = 0;
        for (int c = from; c < k; c++) {
            t += x[c] * w.get(F32, row + 4L * c);
        }
        return t;
    }

    private static void bf16Four(MemorySegment w, long r0, long rowBytes, float[] x, int k, float[] sums) {
        long r1 = r0 + rowBytes;
        long r2 = r1 + rowBytes;
        long r3 = r2 + rowBytes;
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = acc0;
        FloatVector acc2 = acc0;
        FloatVector acc3 = acc0;
        int c = 0;
        for (; c <= k - L; c += L) {
            FloatVector xv = FloatVector.fromArray(FS, x, c);
            acc0 = bf16(w, r0 + 2L * c).fma(xv, acc0);
            acc1 = bf16(w, r1 + 2L * c).fma(xv, acc1);
            acc2 = bf16(w, r2 + 2L * c).fma(xv, acc2);
            acc3 = bf16(w, r3 + 2L * c).fma(xv, acc3);
        }
        sums[0] = acc0.reduceLanes(VectorOperators.ADD) + bf16Tail(w, r0, x, c, k);
        sums[1] = acc1.reduceLanes(VectorOperators.ADD) + bf16Tail(w, r1, x, c, k);
        sums[2] = acc2.reduceLanes(VectorOperators.ADD) + bf16Tail(w, r2, x, c, k);
        sums[3] = acc3.reduceLanes(VectorOperators.ADD) + bf16Tail(w, r3, x, c, k);
    }

    private static float bf16One(MemorySegment w, long r0, float[] x, int k) {
        FloatVector acc0 = FloatVector.zero(FS);
        int c = 0;
        for (; c <= k - L; c += L) {
            acc0 = bf16(w, r0 + 2L * c).fma(FloatVector.fromArray(FS, x, c), acc0);
        }
        return acc0.reduceLanes(VectorOperators.ADD) + bf16Tail(w, r0, x, c, k);
    }

    private static float bf16Tail(MemorySegment w, long row, float[] x, int from, int k) {
        float t = 0;
        for (int c = from; c < k; c++) {
            t += x[c] * bf16At(w, row + 2L * c);
        }
        return t;
    }

    /** One BF16 value at byte offset {@code at}. */
    static float bf16At(MemorySegment s, long at) {
        return Float.intBitsToFloat((s.get(HostMemory.I16, at) & 0xFFFF) << 16);
    }
}

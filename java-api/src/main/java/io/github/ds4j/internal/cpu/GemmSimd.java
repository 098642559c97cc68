package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.format.E2M1;
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
    /** The FP8 GEMV loads 2L code bytes at a time and widens them to 2L shorts, L int lanes of code pairs. */
    static final VectorSpecies<Byte> PAIR_BYTES = VectorSpecies.of(byte.class, VectorShape.forBitSize(16 * L));
    static final VectorSpecies<Short> PAIR_SHORTS = VectorSpecies.of(short.class, VectorShape.forBitSize(32 * L));
    /**
     * True when the FP4 GEMV decodes by table lookup: a 16-lane int vector holds the whole E2M1
     * table, and a lane permute (vpermd on AVX-512) takes the nibble as its index.
     */
    static final boolean FP4_LOOKUP = L == 16;

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
    /** Bits of a shifted E4M3 code pair lane that make the f32: the sign and the 7 exponent/mantissa bits. */
    private static final int E4M3_BITS = 0x87F0_0000;
    /** The 16 E2M1 values as f32 bits, by code (only built when {@link #FP4_LOOKUP}). */
    private static final IntVector E2M1_TABLE = FP4_LOOKUP ? IntVector.fromArray(IS, e2m1Bits(), 0) : null;
    /** Lane i takes lane i / 4: the scale of each 32-element block to the 4 lanes that hold its elements. */
    private static final VectorShuffle<Float> QUADS = FP4_LOOKUP ? VectorShuffle.fromOp(FS, i -> i / 4) : null;
    /** Moves bytes [p * L, p * L + L) of a code load to the front, for p < PARTS. */
    private static final VectorShuffle<Byte>[] PART_FRONT = partShuffles();
    /** Lane i takes lane i + d (mod L), for d = 8, 4, 2, 1: the steps of {@link #sum}. */
    private static final VectorShuffle<Float> BY8 = rotation(8);
    private static final VectorShuffle<Float> BY4 = rotation(4);
    private static final VectorShuffle<Float> BY2 = rotation(2);
    private static final VectorShuffle<Float> BY1 = rotation(1);

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
            streamRow(g, i, x);
            int row = i;
            Gemm.dynamic(g.n(), piece, () -> new StreamScratch(g.k(), piece), (scratch, n0, n1) -> {
                switch (g.kind()) {
                    case FP8 -> fp8Rows(g, row, x, cs8, n0, n1, exact, scratch);
                    case FP4 -> fp4Rows(g, row, x, n0, n1, exact, scratch);
                    case LINEAR -> realRows(g, row, x, n0, n1);
                }
            });
        }
    }

    /** A worker's arrays for the streaming kernels: x with folded factors, FP4 block factors, row sums. */
    private record StreamScratch(float[] xs, float[] factors, float[] sums) {
        StreamScratch(int k, int piece) {
            // factors padded: the FP4 kernel loads L of them at a time
            this(new float[k], new float[2 * (k / 32) + L], new float[piece]);
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
        return fp4Factor(g, at, 126);
    }

    /** As {@link #fp4Factor(GemmArgs, long)} with the power of two 2^unitExp (126 or 0) in place of 2^126. */
    private static float fp4Factor(GemmArgs g, long at, int unitExp) {
        if (g.wScaleF32()) {
            float s = g.wScales().getAtIndex(F32, at);
            return Math.abs(s) >= Gemm.TINY_SCALE && Float.isFinite(s * E2M1_UNIT) ? Math.scalb(s, unitExp) : Float.NaN;
        }
        int e = g.wScales().get(ValueLayout.JAVA_BYTE, at) & 0xFF;
        // 2^(e-127) * 2^126 = 2^(e-1), finite up to e = 128
        return e >= MIN_E8M0 && e <= 128 ? Float.intBitsToFloat((e + unitExp) << 23) : Float.NaN;
    }

    private static int[] e2m1Bits() {
        int[] bits = new int[16];
        for (int code = 0; code < 16; code++) {
            bits[code] = Float.floatToRawIntBits(E2M1.decode(code));
        }
        return bits;
    }

    private static VectorShuffle<Float> rotation(int by) {
        return VectorShuffle.fromOp(FS, lane -> (lane + by) % L);
    }

    /**
     * The lanes of v summed in a fixed pairwise order. {@code reduceLanes(ADD)} leaves the order
     * open, and the interpreter and C2 do take different ones, so a result's last bits would
     * depend on whether its kernel had been compiled yet.
     */
    static float sum(FloatVector v) {
        // Straight-line code on constants (L is fixed when the class loads): a loop would carry
        // v through a phi, where C2 may box it.
        if (L >= 16) {
            v = v.add(v.rearrange(BY8));
        }
        if (L >= 8) {
            v = v.add(v.rearrange(BY4));
        }
        v = v.add(v.rearrange(BY2));
        return v.add(v.rearrange(BY1)).lane(0);
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

    // ---- streaming kernels: one activation row i, weight rows [n0, n1) ----
    // One weight row at a time, so each thread reads its weights front to back as one stream (the
    // hardware prefetchers keep a single stream well ahead; several rows at once, each a separate
    // page, stream from DRAM at half the speed). Each kernel is its own small method: C2 stops
    // inlining the Vector API calls of a method past a node budget, and a vector op that is not
    // inlined allocates.

    /**
     * Activation row {@code i} as f32 in the order the streaming kernels read it: FP8 codes in
     * pair order ({@link #pairPosition}), FP4 in {@link #fp4StreamPosition} order, linear as is.
     */
    static void streamRow(GemmArgs g, int i, float[] out) {
        int k = g.k();
        if (g.kind() == GemmArgs.Kind.LINEAR || (g.kind() == GemmArgs.Kind.FP4 && !FP4_LOOKUP)) {
            activationRow(g, i, out);
            return;
        }
        float[] natural = new float[k];
        e4m3Row(g.a(), g.aRow(i), k, g.aScales(), i * g.aScaleCols(), natural);
        for (int c = 0; c < k; c++) {
            out[g.kind() == GemmArgs.Kind.FP8 ? pairPosition(c) : fp4StreamPosition(c, k)] = natural[c];
        }
    }

    /**
     * Where element c sits in pair order: a load of 2L codes widened to 2L shorts is L int lanes
     * each holding an even and an odd element, decoded to one vector of each; so within each group
     * of 2L elements the even ones come first, then the odd ones (the same as {@link #fp4Position}).
     */
    static int pairPosition(int c) {
        return fp4Position(c);
    }

    /**
     * Where element c of a K-row sits for the FP4 lookup kernel: within each whole group of 128
     * elements (one 64-byte load, 16 int lanes of 8 nibbles), element 8i + j of the group is at
     * 16j + i (nibble j of every lane makes one vector); the last K % 128 elements are in
     * {@link #fp4Position} order (16-byte loads, low and high nibbles).
     */
    static int fp4StreamPosition(int c, int k) {
        int k128 = k & -128;
        if (c >= k128) {
            return fp4Position(c);
        }
        int base = c & -128;
        int within = c - base;
        return base + 16 * (within & 7) + (within >>> 3);
    }

    private static void fp8Rows(GemmArgs g, int i, float[] x, float[] cs8, int n0, int n1, boolean[] exact, StreamScratch scratch) {
        int k = g.k();
        int kBlocks = k / 128;
        float[] xs = scratch.xs();
        float[] sums = scratch.sums();
        int band = -1;
        boolean folded = false;
        for (int j = n0; j < n1; j++) {
            if (j >>> 7 != band) {
                band = j >>> 7;
                folded = fold(x, cs8, band * kBlocks, xs);
            }
            long row = g.wRow(j);
            exact[j] |= folded ? fp8Row(g.w(), row, xs, k, sums, j - n0)
                    : fp8RowScaled(g.w(), row, x, cs8, band * kBlocks, k, sums, j - n0);
        }
        g.putRow(i, n0, sums, n1 - n0);
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
     * The L int lanes of 2L code bytes widened to shorts: lane i holds code 2i sign-extended in
     * its low half and code 2i + 1 sign-extended in its high half (one widening for 2L codes).
     */
    static IntVector pairs(ByteVector codes) {
        return ((ShortVector) codes.convertShape(VectorOperators.B2S, PAIR_SHORTS, 0)).reinterpretAsInts();
    }

    /** Shifted E4M3 codes (value * 2^-120) of the even codes of {@link #pairs}: bits 11..0 of a lane to 31..20. */
    static FloatVector e4m3Even(IntVector pairs) {
        return pairs.lanewise(VectorOperators.LSHL, 20).and(E4M3_BITS).reinterpretAsFloats();
    }

    /** Shifted E4M3 codes of the odd codes: bits 27..16 (sign-extended code) to 31..20. */
    static FloatVector e4m3Odd(IntVector pairs) {
        return pairs.lanewise(VectorOperators.LSHL, 4).and(E4M3_BITS).reinterpretAsFloats();
    }

    /**
     * One E4M3 weight row times xs (pair order, block factors folded in) into sums[at]; true when
     * the row holds a NaN code. Four accumulators cover the FMA latency.
     */
    private static boolean fp8Row(MemorySegment w, long row, float[] xs, int k, float[] sums, int at) {
        // Two accumulators and one load per step: a bigger body pushes C2 past its inlining
        // budget (NodeCountInliningCutoff), and the reduction after the loop then runs out of
        // line on a boxed vector, an allocation per row.
        FloatVector even = FloatVector.zero(FS);
        FloatVector odd = even;
        ByteVector nan = ByteVector.zero(PAIR_BYTES);
        // Nested loops (rather than one over k) keep C2 from unrolling this body 8 times, which
        // spills to the stack.
        for (int c0 = 0; c0 < k; c0 += 128) {
            for (int c = c0; c < c0 + 128; c += 2 * L) {
                ByteVector b = ByteVector.fromMemorySegment(PAIR_BYTES, w, row + c, LE);
                // without the sign bit the two NaN codes (0x7F, 0xFF) are 0x7F, the largest value any code gives
                nan = nan.max(b.and((byte) 0x7F));
                IntVector p = pairs(b);
                even = e4m3Even(p).fma(FloatVector.fromArray(FS, xs, c), even);
                odd = e4m3Odd(p).fma(FloatVector.fromArray(FS, xs, c + L), odd);
            }
        }
        sums[at] = sum(even.add(odd));
        return nan.reduceLanes(VectorOperators.MAX) == 0x7F; // a NaN code (see nanCheck)
    }

    /** As {@link #fp8Row} with the block factors cs8[csAt..] applied to the decoded codes (x not folded). */
    private static boolean fp8RowScaled(MemorySegment w, long row, float[] x, float[] cs8, int csAt, int k, float[] sums, int at) {
        FloatVector even0 = FloatVector.zero(FS);
        FloatVector odd0 = even0;
        ByteVector nan = ByteVector.zero(PAIR_BYTES);
        for (int c0 = 0; c0 < k; c0 += 128) {
            FloatVector cs = FloatVector.broadcast(FS, cs8[csAt + c0 / 128]);
            for (int c = c0; c < c0 + 128; c += 2 * L) {
                ByteVector b = ByteVector.fromMemorySegment(PAIR_BYTES, w, row + c, LE);
                nan = nan.max(b.and((byte) 0x7F));
                IntVector p = pairs(b);
                even0 = e4m3Even(p).mul(cs).fma(FloatVector.fromArray(FS, x, c), even0);
                odd0 = e4m3Odd(p).mul(cs).fma(FloatVector.fromArray(FS, x, c + L), odd0);
            }
        }
        sums[at] = sum(even0.add(odd0));
        return nan.reduceLanes(VectorOperators.MAX) == 0x7F; // a NaN code (see nanCheck)
    }

    /**
     * Accumulates the NaN test of four code vectors: without the sign bit the two NaN codes
     * (0x7F, 0xFF) are 0x7F, the largest value any code can give.
     */
    static ByteVector nanCheck(ByteVector acc, ByteVector b0, ByteVector b1, ByteVector b2, ByteVector b3) {
        return acc.max(b0.and((byte) 0x7F)).max(b1.and((byte) 0x7F)).max(b2.and((byte) 0x7F)).max(b3.and((byte) 0x7F));
    }

    private static void fp4Rows(GemmArgs g, int i, float[] x, int n0, int n1, boolean[] exact, StreamScratch scratch) {
        if (FP4_LOOKUP) {
            float[] f = scratch.factors();
            float[] sums = scratch.sums();
            for (int j = n0; j < n1; j++) {
                exact[j] |= fp4Factors(g, j, f, 0, 0);
                sums[j - n0] = fp4Row(g.w(), g.wRow(j), x, f, g.k());
            }
            g.putRow(i, n0, sums, n1 - n0);
            return;
        }
        int kBlocks = g.k() / 32;
        float[] f = scratch.factors();
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

    /** The E2M1 values of nibble {@code shift / 4} of every lane: the nibble is the lane index into the table. */
    private static FloatVector e2m1Lookup(IntVector v, int shift) {
        // selectFrom takes the index modulo 16, so the bits above the nibble do not matter
        return v.lanewise(VectorOperators.LSHR, shift).selectFrom(E2M1_TABLE).reinterpretAsFloats();
    }

    /**
     * One packed E2M1 weight row times x ({@link #fp4StreamPosition} order) with the block scales
     * f[kb] (plain sW): 128 codes (one 64-byte load) at a time, then 32 at a time for the rest.
     * Only when {@link #FP4_LOOKUP}.
     */
    private static float fp4Row(MemorySegment w, long row, float[] x, float[] f, int k) {
        FloatVector acc = FloatVector.zero(FS);
        int k128 = k & -128;
        for (int c = 0; c < k128; c += 128) {
            IntVector v = IntVector.fromMemorySegment(IS, w, row + c / 2, LE);
            // two partial sums halve the FMA chain within the group
            FloatVector s0 = FloatVector.zero(FS);
            FloatVector s1 = s0;
            for (int j = 0; j < 8; j += 2) {
                s0 = e2m1Lookup(v, 4 * j).fma(FloatVector.fromArray(FS, x, c + 16 * j), s0);
                s1 = e2m1Lookup(v, 4 * j + 4).fma(FloatVector.fromArray(FS, x, c + 16 * j + 16), s1);
            }
            // lanes 4b..4b+3 hold the elements of the group's block b
            acc = s0.add(s1).fma(FloatVector.fromArray(FS, f, c / 32).rearrange(QUADS), acc);
        }
        for (int c = k128; c < k; c += 32) {
            IntVector v = widen(ByteVector.fromMemorySegment(BS, w, row + c / 2, LE), 0);
            FloatVector s = e2m1Lookup(v, 0).mul(FloatVector.fromArray(FS, x, c));
            s = e2m1Lookup(v, 4).fma(FloatVector.fromArray(FS, x, c + 16), s);
            acc = s.fma(FloatVector.broadcast(FS, f[c / 32]), acc);
        }
        return sum(acc);
    }

    /** The per-block factors (see {@link #fp4Factor}) of weight row j into f[at..]; true when one is NaN. */
    static boolean fp4Factors(GemmArgs g, int j, float[] f, int at) {
        return fp4Factors(g, j, f, at, 126);
    }

    /**
     * As {@link #fp4Factors(GemmArgs, int, float[], int)} with 2^unitExp (126 or 0) in place of
     * 2^126; the same scales are marked either way.
     */
    private static boolean fp4Factors(GemmArgs g, int j, float[] f, int at, int unitExp) {
        long s0 = g.wScaleOffset() + j * g.wScaleRow();
        int blocks = g.wScaleCols();
        MemorySegment s = g.wScales();
        VectorMask<Float> bad = FS.maskAll(false);
        float unit = Math.scalb(1f, unitExp);
        int kb = 0;
        if (g.wScaleF32()) {
            for (; kb <= blocks - L; kb += L) {
                FloatVector v = FloatVector.fromMemorySegment(FS, s, (s0 + kb) * 4, LE);
                FloatVector fv = v.mul(E2M1_UNIT);
                // NaN unless |s| >= TINY_SCALE and the factor is finite (fv - fv is 0 only then)
                VectorMask<Float> ok = v.abs().compare(VectorOperators.GE, Gemm.TINY_SCALE)
                        .and(fv.sub(fv).compare(VectorOperators.EQ, 0f));
                v.mul(unit).blend(Float.NaN, ok.not()).intoArray(f, at + kb);
                bad = bad.or(ok.not());
            }
        } else {
            for (; kb <= blocks - U; kb += U) {
                ByteVector codes = ByteVector.fromMemorySegment(BS, s, s0 + kb, LE);
                for (int p = 0; p < PARTS; p++) {
                    IntVector e = widen(codes, p).and(0xFF);
                    // 2^(e-127) * 2^unitExp; with 2^126 finite up to e = 128
                    FloatVector fv = e.add(unitExp).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                    VectorMask<Float> ok = e.compare(VectorOperators.GE, MIN_E8M0).and(e.compare(VectorOperators.LE, 128)).cast(FS);
                    fv.blend(Float.NaN, ok.not()).intoArray(f, at + kb + p * L);
                    bad = bad.or(ok.not());
                }
            }
        }
        boolean any = bad.anyTrue();
        for (; kb < blocks; kb++) {
            f[at + kb] = fp4Factor(g, s0 + kb, unitExp);
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
        sums[0] = sum(acc0.add(odd0));
        sums[1] = sum(acc1.add(odd1));
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
        return sum(acc0.add(odd0));
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
        sums[0] = sum(acc0) + f32Tail(w, r0, x, c, k);
        sums[1] = sum(acc1) + f32Tail(w, r1, x, c, k);
        sums[2] = sum(acc2) + f32Tail(w, r2, x, c, k);
        sums[3] = sum(acc3) + f32Tail(w, r3, x, c, k);
    }

    private static float f32One(MemorySegment w, long r0, float[] x, int k) {
        FloatVector acc0 = FloatVector.zero(FS);
        int c = 0;
        for (; c <= k - L; c += L) {
            acc0 = FloatVector.fromMemorySegment(FS, w, r0 + 4L * c, LE).fma(FloatVector.fromArray(FS, x, c), acc0);
        }
        return sum(acc0) + f32Tail(w, r0, x, c, k);
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
        sums[0] = sum(acc0) + bf16Tail(w, r0, x, c, k);
        sums[1] = sum(acc1) + bf16Tail(w, r1, x, c, k);
        sums[2] = sum(acc2) + bf16Tail(w, r2, x, c, k);
        sums[3] = sum(acc3) + bf16Tail(w, r3, x, c, k);
    }

    private static float bf16One(MemorySegment w, long r0, float[] x, int k) {
        FloatVector acc0 = FloatVector.zero(FS);
        int c = 0;
        for (; c <= k - L; c += L) {
            acc0 = bf16(w, r0 + 2L * c).fma(FloatVector.fromArray(FS, x, c), acc0);
        }
        return sum(acc0) + bf16Tail(w, r0, x, c, k);
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

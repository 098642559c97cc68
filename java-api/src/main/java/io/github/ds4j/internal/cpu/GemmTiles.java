package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.internal.HostMemory;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The Vector API GEMM for many activation rows. Activations are packed once per chunk of
 * {@link #MC} rows as f32 panels of {@link #MR} rows, transposed so one k gives MR contiguous
 * values. Each thread takes tiles of {@link #NT} weight rows; per {@link #KD} columns it decodes
 * its tile to f32 (scales folded in), then runs the register-blocked micro-kernel over every
 * activation panel, {@link #KC} columns per call. A decoded weight is so reused by all rows of
 * the chunk, and the whole weight is never held decoded. Lanes run along M and weights are
 * broadcast, so the weight tile keeps the checkpoint's [N, K] order and needs no transposition.
 */
final class GemmTiles {
    private static final VectorSpecies<Float> FS = GemmSimd.FS;
    private static final int L = GemmSimd.L;
    private static final int U = GemmSimd.U;
    private static final int PARTS = GemmSimd.PARTS;
    private static final VectorSpecies<Byte> BS = GemmSimd.BS;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Activation rows per micro-tile: two vectors. */
    static final int MR = 2 * L;
    /** Weight rows per micro-tile: 2 x 6 accumulators plus operands fit 16 vector registers. */
    static final int NR = 6;
    /** Columns per micro-kernel call: a multiple of the FP8 (128) and FP4 (32) blocks; NR rows of it stay in L1. */
    static final int KC = 256;
    /** Weight rows per tile (a multiple of NR). */
    static final int NT = 48;
    /** Columns of the tile decoded at a time (a multiple of KC): NT x KD f32 is 384 KiB, in L2. */
    static final int KD = 2048;
    /** Activation rows packed at a time: bounds the f32 copy of the activations. */
    static final int MC = 256;

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {
        new float[0], new float[0], new float[0], new float[0], new float[0],
    });

    private GemmTiles() {
    }

    static void run(GemmArgs g, boolean[] exact) {
        int m = g.m();
        int n = g.n();
        int k = g.k();
        float[] cs8 = g.kind() == GemmArgs.Kind.FP8 ? GemmSimd.fp8BlockFactors(g, exact) : null;
        int tiles = (n + NT - 1) / NT;
        for (int m0 = 0; m0 < m; m0 += MC) {
            int mc = Math.min(MC, m - m0);
            int panels = (mc + MR - 1) / MR;
            float[] ap = new float[panels * k * MR];
            int chunk = m0;
            Parallel.forRange(panels, 1, (p0, p1) -> {
                float[] row = scratch(1, k);
                for (int p = (int) p0; p < p1; p++) {
                    pack(g, chunk, mc, p, row, ap);
                }
            });
            Gemm.dynamic(tiles, 1, (t0, t1) -> {
                float[] bt = scratch(0, NT * KD);
                float[] ct = scratch(2, NT * panels * MR);
                float[] factors = g.kind() == GemmArgs.Kind.FP4 ? scratch(3, NT * (k / 32)) : null;
                float[] out = scratch(4, NT);
                for (int t = t0; t < t1; t++) {
                    tile(g, ap, chunk, mc, panels, t * NT, cs8, bt, ct, factors, out, exact);
                }
            });
        }
    }

    private static float[] scratch(int which, int size) {
        float[][] s = SCRATCH.get();
        if (s[which].length < size) {
            s[which] = new float[size];
        }
        return s[which];
    }

    /** Panel p of the chunk starting at row m0: ap[(p * K + k) * MR + i] = a[m0 + p * MR + i, k]. */
    private static void pack(GemmArgs g, int m0, int mc, int p, float[] row, float[] ap) {
        int k = g.k();
        int base = p * k * MR;
        for (int i = 0; i < MR; i++) {
            int r = p * MR + i;
            if (r >= mc) {
                break; // the array starts zeroed: padding rows stay 0
            }
            GemmSimd.activationRow(g, m0 + r, row);
            for (int c = 0; c < k; c++) {
                ap[base + c * MR + i] = row[c];
            }
        }
    }

    private static void tile(GemmArgs g, float[] ap, int m0, int mc, int panels, int n0, float[] cs8,
                             float[] bt, float[] ct, float[] factors, float[] out, boolean[] exact) {
        int k = g.k();
        int rows = Math.min(NT, g.n() - n0);
        int rowsPadded = (rows + NR - 1) / NR * NR;
        int mPadded = panels * MR;
        Arrays.fill(ct, 0, rowsPadded * mPadded, 0f);
        for (int cb = 0; rows < rowsPadded && cb < KD / KC; cb++) {
            // padding rows (only in the last tile) stay 0: decodeRow never writes them
            Arrays.fill(bt, (cb * rowsPadded + rows) * KC, (cb + 1) * rowsPadded * KC, 0f);
        }
        for (int kd = 0; kd < k; kd += KD) {
            int kdLen = Math.min(KD, k - kd);
            // KD columns of every row of the tile first: each weight row is read front to back
            for (int r = 0; r < rows; r++) {
                decodeRow(g, n0 + r, r, rowsPadded, kd, kdLen, cs8, factors, bt, exact);
            }
            for (int c0 = 0; c0 < kdLen; c0 += KC) {
                int kLen = Math.min(KC, kdLen - c0);
                for (int r0 = 0; r0 < rowsPadded; r0 += NR) {
                    int b = ((c0 / KC) * rowsPadded + r0) * KC;
                    for (int p = 0; p < panels; p++) {
                        micro(ap, (p * k + kd + c0) * MR, bt, b, kLen, ct, r0 * mPadded + p * MR, mPadded);
                    }
                }
            }
        }
        for (int i = 0; i < mc; i++) {
            for (int r = 0; r < rows; r++) {
                out[r] = ct[r * mPadded + i];
            }
            g.putRow(m0 + i, n0, out, rows);
        }
    }

    /**
     * Columns [kd, kd + kdLen) of weight row j as f32 with their scales, in the tile's blocked
     * layout: columns [c0, c0 + KC) of tile row r start at bt[((c0 - kd) / KC * rowsPadded + r) * KC],
     * so the NR rows one micro-kernel call reads are one contiguous piece.
     */
    private static void decodeRow(GemmArgs g, int j, int r, int rowsPadded, int kd, int kdLen, float[] cs8, float[] factors,
                                  float[] bt, boolean[] exact) {
        MemorySegment w = g.w();
        long row = g.wRow(j);
        int k = g.k();
        int stride = rowsPadded * KC; // from one KC block of a row to the next
        switch (g.kind()) {
            case FP8 -> exact[j] |= fp8Row(w, row + kd, kdLen, cs8, (j >>> 7) * (k / 128) + kd / 128, bt, r * KC, stride);
            case FP4 -> {
                int f = r * (k / 32);
                if (kd == 0) {
                    exact[j] |= GemmSimd.fp4Factors(g, j, factors, f);
                }
                fp4Row(w, row + kd / 2, kdLen, factors, f + kd / 32, bt, r * KC, stride);
            }
            case LINEAR -> {
                for (int c0 = 0; c0 < kdLen; c0 += KC) {
                    int at = (c0 / KC) * stride + r * KC;
                    int kLen = Math.min(KC, kdLen - c0);
                    if (g.wType() == DType.F32) {
                        MemorySegment.copy(w, HostMemory.F32, row + 4L * (kd + c0), bt, at, kLen);
                    } else {
                        bf16Row(w, row + 2L * (kd + c0), kLen, bt, at);
                    }
                }
            }
        }
    }

    /** k E4M3 codes from byte offset at times their block factors cs8[csAt..]; true when one is NaN. */
    private static boolean fp8Row(MemorySegment w, long at, int k, float[] cs8, int csAt, float[] bt, int to, int stride) {
        ByteVector nan = ByteVector.zero(BS);
        for (int c0 = 0; c0 < k; c0 += 128) {
            FloatVector cs = FloatVector.broadcast(FS, cs8[csAt + c0 / 128]);
            int o = to + (c0 / KC) * stride + c0 % KC;
            for (int u = 0; u < 128; u += U) {
                ByteVector b = ByteVector.fromMemorySegment(BS, w, at + c0 + u, LE);
                nan = nan.max(b.and((byte) 0x7F));
                for (int p = 0; p < PARTS; p++) {
                    GemmSimd.e4m3(b, p).mul(cs).intoArray(bt, o + u + p * L);
                }
            }
        }
        return nan.reduceLanes(VectorOperators.MAX) == 0x7F;
    }

    /** k packed E2M1 codes from byte offset at, in FP4 order, times their factors f[fAt + c / 32]. */
    private static void fp4Row(MemorySegment w, long at, int k, float[] f, int fAt, float[] bt, int to, int stride) {
        for (int c0 = 0; c0 < k; c0 += 32) {
            FloatVector cs = FloatVector.broadcast(FS, f[fAt + c0 / 32]);
            int o = to + (c0 / KC) * stride + c0 % KC;
            for (int u = 0; u < 16; u += U) {
                ByteVector b = ByteVector.fromMemorySegment(BS, w, at + c0 / 2 + u, LE);
                for (int p = 0; p < PARTS; p++) {
                    IntVector v = GemmSimd.widen(b, p);
                    int e = o + 2 * (u + p * L);
                    GemmSimd.e2m1Low(v).mul(cs).intoArray(bt, e);
                    GemmSimd.e2m1High(v).mul(cs).intoArray(bt, e + L);
                }
            }
        }
    }

    private static void bf16Row(MemorySegment w, long at, int kLen, float[] bt, int to) {
        int c = 0;
        for (; c <= kLen - L; c += L) {
            GemmSimd.bf16(w, at + 2L * c).intoArray(bt, to + c);
        }
        for (; c < kLen; c++) {
            bt[to + c] = GemmSimd.bf16At(w, at + 2L * c);
        }
    }

    /**
     * c[r * cStride + i] += sum over k < kLen of a[aAt + k * MR + i] * b[bAt + r * KC + k] for the
     * NR x MR micro-tile, the 12 accumulators held in registers across k.
     */
    private static void micro(float[] a, int aAt, float[] b, int bAt, int kLen, float[] c, int cAt, int cStride) {
        int c1 = cAt + cStride;
        int c2 = c1 + cStride;
        int c3 = c2 + cStride;
        int c4 = c3 + cStride;
        int c5 = c4 + cStride;
        FloatVector s00 = FloatVector.fromArray(FS, c, cAt);
        FloatVector s01 = FloatVector.fromArray(FS, c, cAt + L);
        FloatVector s10 = FloatVector.fromArray(FS, c, c1);
        FloatVector s11 = FloatVector.fromArray(FS, c, c1 + L);
        FloatVector s20 = FloatVector.fromArray(FS, c, c2);
        FloatVector s21 = FloatVector.fromArray(FS, c, c2 + L);
        FloatVector s30 = FloatVector.fromArray(FS, c, c3);
        FloatVector s31 = FloatVector.fromArray(FS, c, c3 + L);
        FloatVector s40 = FloatVector.fromArray(FS, c, c4);
        FloatVector s41 = FloatVector.fromArray(FS, c, c4 + L);
        FloatVector s50 = FloatVector.fromArray(FS, c, c5);
        FloatVector s51 = FloatVector.fromArray(FS, c, c5 + L);
        int b0 = bAt;
        int b1 = b0 + KC;
        int b2 = b1 + KC;
        int b3 = b2 + KC;
        int b4 = b3 + KC;
        int b5 = b4 + KC;
        for (int k = 0; k < kLen; k++) {
            int ak = aAt + k * MR;
            FloatVector x0 = FloatVector.fromArray(FS, a, ak);
            FloatVector x1 = FloatVector.fromArray(FS, a, ak + L);
            FloatVector w = FloatVector.broadcast(FS, b[b0 + k]);
            s00 = x0.fma(w, s00);
            s01 = x1.fma(w, s01);
            w = FloatVector.broadcast(FS, b[b1 + k]);
            s10 = x0.fma(w, s10);
            s11 = x1.fma(w, s11);
            w = FloatVector.broadcast(FS, b[b2 + k]);
            s20 = x0.fma(w, s20);
            s21 = x1.fma(w, s21);
            w = FloatVector.broadcast(FS, b[b3 + k]);
            s30 = x0.fma(w, s30);
            s31 = x1.fma(w, s31);
            w = FloatVector.broadcast(FS, b[b4 + k]);
            s40 = x0.fma(w, s40);
            s41 = x1.fma(w, s41);
            w = FloatVector.broadcast(FS, b[b5 + k]);
            s50 = x0.fma(w, s50);
            s51 = x1.fma(w, s51);
        }
        s00.intoArray(c, cAt);
        s01.intoArray(c, cAt + L);
        s10.intoArray(c, c1);
        s11.intoArray(c, c1 + L);
        s20.intoArray(c, c2);
        s21.intoArray(c, c2 + L);
        s30.intoArray(c, c3);
        s31.intoArray(c, c3 + L);
        s40.intoArray(c, c4);
        s41.intoArray(c, c4 + L);
        s50.intoArray(c, c5);
        s51.intoArray(c, c5 + L);
    }
}

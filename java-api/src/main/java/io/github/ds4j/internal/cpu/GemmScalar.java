package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.format.E2M1;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.internal.HostMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The GEMMs without SIMD, on all cores: the scalar reference's arithmetic in the same order (so
 * the results are bit-identical to {@link ScalarOps}), but each weight row is decoded once and
 * reused for every activation row, and weight rows are split over the threads. Also computes
 * single rows or columns of y exactly, for the cases the SIMD kernels hand back (NaN weight codes,
 * non-finite or extreme scales).
 */
final class GemmScalar {
    /** Activation rows decoded at a time: bounds the f32 copy of the activations. */
    private static final int M_CHUNK = 256;

    private static final float[] E4M3_VALUES = E4M3.decodeTable();
    private static final float[] E2M1_VALUES = E2M1.decodeTable();

    private GemmScalar() {
    }

    /** All of y, on all cores. */
    static void run(GemmArgs g) {
        for (int m0 = 0; m0 < g.m(); m0 += M_CHUNK) {
            int m1 = Math.min(g.m(), m0 + M_CHUNK);
            float[] a = decodeActivations(g, m0, m1);
            int from = m0;
            Parallel.forRange(g.n(), Math.max(1, (1 << 16) / Math.max(1, g.k() * (m1 - m0))), (n0, n1) -> {
                float[] w = new float[g.k()];
                for (int j = (int) n0; j < n1; j++) {
                    decodeWeightRow(g, j, w);
                    for (int i = from; i < m1; i++) {
                        g.put(i, j, cell(g, a, (i - from) * g.k(), w, i, j));
                    }
                }
            });
        }
    }

    /** Row {@code i} of y, exactly as the reference computes it. */
    static void row(GemmArgs g, int i) {
        float[] a = decodeActivations(g, i, i + 1);
        float[] w = new float[g.k()];
        for (int j = 0; j < g.n(); j++) {
            decodeWeightRow(g, j, w);
            g.put(i, j, cell(g, a, 0, w, i, j));
        }
    }

    /** Column {@code j} of y, exactly as the reference computes it. */
    static void column(GemmArgs g, int j) {
        float[] w = new float[g.k()];
        decodeWeightRow(g, j, w);
        for (int m0 = 0; m0 < g.m(); m0 += M_CHUNK) {
            int m1 = Math.min(g.m(), m0 + M_CHUNK);
            float[] a = decodeActivations(g, m0, m1);
            for (int i = m0; i < m1; i++) {
                g.put(i, j, cell(g, a, (i - m0) * g.k(), w, i, j));
            }
        }
    }

    /** y[i, j] from decoded (unscaled) activation row a[aAt..] and weight row w. */
    private static float cell(GemmArgs g, float[] a, int aAt, float[] w, int i, int j) {
        int k = g.k();
        float acc = 0;
        switch (g.kind()) {
            case FP8 -> {
                for (int kb = 0; kb * 128 < k; kb++) {
                    float part = 0;
                    for (int c = kb * 128; c < Math.min(k, kb * 128 + 128); c++) {
                        part += a[aAt + c] * w[c];
                    }
                    acc += part * g.aScale(i, kb) * g.wBlockScale(j, kb);
                }
            }
            case FP4 -> {
                for (int kb = 0; kb < k / 32; kb++) {
                    float part = 0;
                    for (int c = kb * 32; c < kb * 32 + 32; c++) {
                        part += a[aAt + c] * w[c];
                    }
                    acc += part * g.aScale(i, (kb * 32) / 128) * g.wScale(j, kb);
                }
            }
            case LINEAR -> {
                for (int c = 0; c < k; c++) {
                    acc += a[aAt + c] * w[c];
                }
            }
        }
        return acc;
    }

    /** Activation rows [m0, m1) as f32: E4M3 codes decoded without their scales, or real values. */
    private static float[] decodeActivations(GemmArgs g, int m0, int m1) {
        int k = g.k();
        float[] out = new float[(m1 - m0) * k];
        for (int i = m0; i < m1; i++) {
            readRow(g.a(), g.aRow(i), g.aType(), k, out, (i - m0) * k);
        }
        return out;
    }

    /** Weight row j as f32 codes (without scales) or real values. */
    private static void decodeWeightRow(GemmArgs g, int j, float[] out) {
        readRow(g.w(), g.wRow(j), g.wType(), g.k(), out, 0);
    }

    private static void readRow(MemorySegment s, long byteAt, DType t, int k, float[] out, int at) {
        switch (t) {
            case F8_E4M3 -> {
                for (int c = 0; c < k; c++) {
                    out[at + c] = E4M3_VALUES[s.get(ValueLayout.JAVA_BYTE, byteAt + c) & 0xFF];
                }
            }
            case FP4_E2M1 -> {
                for (int c = 0; c < k; c += 2) {
                    int b = s.get(ValueLayout.JAVA_BYTE, byteAt + c / 2);
                    out[at + c] = E2M1_VALUES[b & 0xF];
                    out[at + c + 1] = E2M1_VALUES[(b >>> 4) & 0xF];
                }
            }
            case F32 -> MemorySegment.copy(s, HostMemory.F32, byteAt, out, at, k);
            default -> {
                // BF16, F16, other FP8 codes: element offsets in units of the element size
                long e = byteAt / (t.bits() / 8);
                for (int c = 0; c < k; c++) {
                    out[at + c] = HostMemory.getFloat(s, t, e + c);
                }
            }
        }
    }
}

package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.format.BF16;
import io.github.ds4j.format.UE8M0;
import io.github.ds4j.internal.HostMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One GEMM y[M, N] = a[M, K] @ w[N, K]^T resolved to host memory: what every CPU kernel reads.
 * Offsets and row strides are in bytes, so one record serves E4M3, packed FP4, BF16 and F32.
 *
 * @param kind         which op (decides how a, w and the scales are read)
 * @param m            rows of a and y
 * @param n            rows of w, columns of y
 * @param k            the reduction length
 * @param a            activation storage: E4M3 codes (FP8/FP4 ops) or F32/BF16 values (linear)
 * @param aOffset      byte offset of a[0, 0]
 * @param aRowBytes    bytes between rows of a
 * @param aType        dtype of a
 * @param aScales      activation scales decoded to f32, [m, aScaleCols] row-major (null for linear)
 * @param aScaleCols   activation scale columns: one per 128 values of K
 * @param w            weight storage: E4M3 codes, packed E2M1 codes (low nibble first) or F32/BF16
 * @param wOffset      byte offset of w[0, 0]
 * @param wRowBytes    bytes between rows of w
 * @param wType        dtype of w
 * @param wBlockScales FP8 only: weight scales decoded to f32, [ceil(n/128), wScaleCols]
 * @param wScales      FP4 only: storage of the 1x32 weight scales, read in place (they are large)
 * @param wScaleOffset FP4 only: element offset of scale [0, 0]
 * @param wScaleRow    FP4 only: elements between scale rows
 * @param wScaleF32    FP4 only: true for F32 scales, false for F8_E8M0
 * @param wScaleCols   weight scale columns: K/128 (FP8) or K/32 (FP4)
 * @param y            output storage, F32 or BF16
 * @param yOffset      element offset of y[0, 0]
 * @param yRowStride   elements between rows of y
 * @param yBf16        true when y is BF16 (rounded to nearest even)
 */
record GemmArgs(Kind kind, int m, int n, int k,
                MemorySegment a, long aOffset, long aRowBytes, DType aType, float[] aScales, int aScaleCols,
                MemorySegment w, long wOffset, long wRowBytes, DType wType, float[] wBlockScales,
                MemorySegment wScales, long wScaleOffset, long wScaleRow, boolean wScaleF32, int wScaleCols,
                MemorySegment y, long yOffset, long yRowStride, boolean yBf16) {

    /** The three GEMM ops of the backend. */
    enum Kind {
        /** E4M3 activations (1x128 scales) times E4M3 weights (128x128 scales). */
        FP8,
        /** E4M3 activations (1x128 scales) times E2M1 weights (1x32 scales). */
        FP4,
        /** F32/BF16 activations times F32/BF16 weights, no scales. */
        LINEAR
    }

    /** Writes y[row, col], rounding to BF16 when y is BF16. */
    void put(int row, int col, float v) {
        long at = yOffset + row * yRowStride + col;
        if (yBf16) {
            y.setAtIndex(HostMemory.I16, at, BF16.encode(v));
        } else {
            y.setAtIndex(HostMemory.F32, at, v);
        }
    }

    /** Writes y[row, col .. col + count) from {@code v[0..count)}. */
    void putRow(int row, int col, float[] v, int count) {
        long at = yOffset + row * yRowStride + col;
        if (yBf16) {
            for (int c = 0; c < count; c++) {
                y.setAtIndex(HostMemory.I16, at + c, BF16.encode(v[c]));
            }
        } else {
            MemorySegment.copy(v, 0, y, HostMemory.F32, at * 4, count);
        }
    }

    /** The activation scale of row {@code row}, K block {@code block} (of 128). */
    float aScale(int row, int block) {
        return aScales[row * aScaleCols + block];
    }

    /** FP8: the weight scale of weight row {@code row}, K block {@code block} (of 128). */
    float wBlockScale(int row, int block) {
        return wBlockScales[(row >>> 7) * wScaleCols + block];
    }

    /** FP4: the weight scale of weight row {@code row}, K block {@code block} (of 32). */
    float wScale(int row, int block) {
        long at = wScaleOffset + row * wScaleRow + block;
        return wScaleF32 ? wScales.getAtIndex(HostMemory.F32, at) : UE8M0.decode(wScales.get(ValueLayout.JAVA_BYTE, at));
    }

    /** Byte offset of a[row, 0]. */
    long aRow(int row) {
        return aOffset + row * aRowBytes;
    }

    /** Byte offset of w[row, 0]. */
    long wRow(int row) {
        return wOffset + row * wRowBytes;
    }
}

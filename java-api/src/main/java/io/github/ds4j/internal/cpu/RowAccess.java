package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.Tensor;
import io.github.ds4j.format.BF16;
import io.github.ds4j.internal.HostMemory;

import java.lang.foreign.MemorySegment;

/**
 * Reads and writes one row of a host tensor viewed as [rows, cols], converting between the
 * tensor's real dtype (F32, BF16, F16) and f32. Rows are where every CPU op works.
 */
final class RowAccess {
    final MemorySegment segment;
    final DType dtype;
    final long rows;
    final int cols;
    final long rowStride;
    final long offset;

    RowAccess(Tensor t) {
        this.segment = t.storage().segment();
        this.dtype = t.dtype();
        this.rows = t.shape().rows();
        this.cols = Math.toIntExact(t.shape().last());
        this.rowStride = t.rowStride();
        this.offset = t.offset();
    }

    /** Element offset of (row, 0). */
    long start(long row) {
        return offset + row * rowStride;
    }

    /** Row {@code row} into {@code dst[0..cols)} as f32. */
    float[] read(long row, float[] dst) {
        long at = start(row);
        switch (dtype) {
            case F32 -> MemorySegment.copy(segment, HostMemory.F32, at * 4, dst, 0, cols);
            case BF16 -> {
                for (int c = 0; c < cols; c++) {
                    dst[c] = BF16.decode(segment.getAtIndex(HostMemory.I16, at + c));
                }
            }
            default -> {
                for (int c = 0; c < cols; c++) {
                    dst[c] = HostMemory.getFloat(segment, dtype, at + c);
                }
            }
        }
        return dst;
    }

    /** {@code src[0..cols)} into row {@code row}, rounding to the dtype. */
    void write(long row, float[] src) {
        long at = start(row);
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, 0, segment, HostMemory.F32, at * 4, cols);
            case BF16 -> {
                for (int c = 0; c < cols; c++) {
                    segment.setAtIndex(HostMemory.I16, at + c, BF16.encode(src[c]));
                }
            }
            default -> {
                for (int c = 0; c < cols; c++) {
                    HostMemory.setFloat(segment, dtype, at + c, src[c]);
                }
            }
        }
    }
}

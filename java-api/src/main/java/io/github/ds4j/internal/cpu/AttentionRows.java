package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.Tensor;
import io.github.ds4j.format.BF16;
import io.github.ds4j.internal.HostMemory;

import java.lang.foreign.MemorySegment;

/**
 * Rows of a real host tensor whose last dimension is dense and whose leading dimensions may have
 * any strides (a view of the first rows of a batched cache does not collapse into one row stride,
 * so {@link RowAccess} cannot read it). Row r is the r-th index tuple of the leading dimensions in
 * row-major order.
 */
final class AttentionRows {
    final MemorySegment segment;
    final DType dtype;
    final int cols;
    final long rows;
    private final long[] dims;
    private final long[] strides;
    private final long offset;

    AttentionRows(Tensor t) {
        if (t.rank() > 1 && t.strides()[t.rank() - 1] != 1 && t.dim(-1) > 1) {
            throw new IllegalArgumentException("tensor " + t.shape() + " is not dense in its last dimension");
        }
        this.segment = t.storage().segment();
        this.dtype = t.dtype();
        this.cols = Math.toIntExact(t.dim(-1));
        this.rows = t.shape().rows();
        int lead = t.rank() - 1;
        this.dims = new long[lead];
        this.strides = new long[lead];
        long[] s = t.strides();
        for (int i = 0; i < lead; i++) {
            dims[i] = t.dim(i);
            strides[i] = s[i];
        }
        this.offset = t.offset();
    }

    /** Element offset of (row, 0). */
    long start(long row) {
        long at = offset;
        for (int i = dims.length - 1; i >= 0; i--) {
            at += (row % dims[i]) * strides[i];
            row /= dims[i];
        }
        return at;
    }

    /** Row {@code row} into {@code dst[at .. at+cols)} as f32. */
    void read(long row, float[] dst, int at) {
        long e = start(row);
        switch (dtype) {
            case F32 -> MemorySegment.copy(segment, HostMemory.F32, e * 4, dst, at, cols);
            case BF16 -> {
                for (int c = 0; c < cols; c++) {
                    dst[at + c] = BF16.decode(segment.getAtIndex(HostMemory.I16, e + c));
                }
            }
            default -> {
                for (int c = 0; c < cols; c++) {
                    dst[at + c] = HostMemory.getFloat(segment, dtype, e + c);
                }
            }
        }
    }

    /** {@code src[at .. at+cols)} into row {@code row}, rounded to the dtype. */
    void write(long row, float[] src, int at) {
        long e = start(row);
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, at, segment, HostMemory.F32, e * 4, cols);
            case BF16 -> {
                for (int c = 0; c < cols; c++) {
                    segment.setAtIndex(HostMemory.I16, e + c, BF16.encode(src[at + c]));
                }
            }
            default -> {
                for (int c = 0; c < cols; c++) {
                    HostMemory.setFloat(segment, dtype, e + c, src[at + c]);
                }
            }
        }
    }
}

package io.github.ds4j.cuda.internal;

import io.github.ds4j.Tensor;

/**
 * A tensor as the row kernels read it: device address of element (0, 0), real dtype code, rows,
 * columns (the dense last dimension) and the row stride in elements.
 */
public record Rows(long address, int dtype, long rows, int cols, long stride) {

    /** A real (F32, BF16, F16) tensor with a row layout. */
    public static Rows real(Tensor t) {
        return new Rows(address(t), DTypeCodes.real(t.dtype()), t.shape().rows(), Math.toIntExact(t.shape().last()),
                t.rowStride());
    }

    /** Any tensor with a row layout; the dtype code is -1 (the kernel knows the type). */
    public static Rows raw(Tensor t) {
        return new Rows(address(t), -1, t.shape().rows(), Math.toIntExact(t.shape().last()), t.rowStride());
    }

    /** Device address of the tensor's first element. */
    public static long address(Tensor t) {
        return t.storage().segment().address() + t.byteOffset();
    }

    /** Appends (pointer, dtype code, row stride): how every row kernel takes a real tensor. */
    public KernelArgs pass(KernelArgs args) {
        return args.ptr(address).i32(dtype).i64(stride);
    }

    /**
     * Throws unless tensor {@code t} (argument {@code name}) reads as {@code rows} rows of
     * {@code cols} columns: the kernels size every operand by one of them, so a smaller one would
     * be written or read past its end.
     */
    public static void requireShape(String name, Tensor t, long rows, long cols) {
        if (t.shape().rows() != rows || t.shape().last() != cols) {
            throw new IllegalArgumentException(name + ": expected " + rows + " rows of " + cols + " columns, got "
                    + t.dtype() + " " + t.shape());
        }
    }

    /** Throws unless {@code got} (argument {@code name}) has the rows and columns of {@code like}. */
    public static void requireSameRows(String name, Rows got, Rows like, Tensor gotTensor, Tensor likeTensor) {
        if (got.rows() != like.rows() || got.cols() != like.cols()) {
            throw new IllegalArgumentException(name + ": expected the shape of " + likeTensor.shape() + " as rows ("
                    + like.rows() + " x " + like.cols() + "), got " + gotTensor.shape());
        }
    }

    public boolean isEmpty() {
        return rows == 0 || cols == 0;
    }
}

package io.github.ds4j;

import java.util.Arrays;

/** An immutable tensor shape. Dimension indexes may be negative, counting from the last. */
public final class Shape {
    private final long[] dims;

    private Shape(long[] dims) {
        this.dims = dims;
    }

    /** A shape of the given sizes; every size must be zero or more. */
    public static Shape of(long... dims) {
        if (dims == null) {
            throw new IllegalArgumentException("dims: must not be null");
        }
        long[] copy = dims.clone();
        long n = 1;
        for (long d : copy) {
            if (d < 0) {
                throw new IllegalArgumentException("dims: expected sizes >= 0, got " + Arrays.toString(dims));
            }
            try {
                n = Math.multiplyExact(n, Math.max(d, 1));
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("dims: " + Arrays.toString(dims) + " has more than "
                        + Long.MAX_VALUE + " elements");
            }
        }
        return new Shape(copy);
    }

    /** Same as {@link #of(long...)} for int sizes. */
    public static Shape of(int... dims) {
        if (dims == null) {
            throw new IllegalArgumentException("dims: must not be null");
        }
        return of(Arrays.stream(dims).asLongStream().toArray());
    }

    public int rank() {
        return dims.length;
    }

    /** Size of dimension {@code i}; {@code -1} is the last. */
    public long dim(int i) {
        return dims[axis(i)];
    }

    /** The last dimension's size. */
    public long last() {
        return dims[dims.length - 1];
    }

    /** Product of all sizes except the last: the row count of the tensor read as [rows, last]. */
    public long rows() {
        long n = 1;
        for (int i = 0; i < dims.length - 1; i++) {
            n *= dims[i];
        }
        return n;
    }

    /** Number of elements. */
    public long numel() {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    /** Normalizes a possibly negative axis; throws naming the rank when out of range. */
    public int axis(int i) {
        int a = i < 0 ? i + dims.length : i;
        if (a < 0 || a >= dims.length) {
            throw new IndexOutOfBoundsException("axis " + i + " out of range for shape " + this);
        }
        return a;
    }

    /** A copy of the sizes. */
    public long[] toArray() {
        return dims.clone();
    }

    /** This shape with dimension {@code i} replaced. */
    public Shape with(int i, long size) {
        long[] d = dims.clone();
        d[axis(i)] = size;
        return of(d);
    }

    /** This shape with the last dimension replaced. */
    public Shape withLast(long size) {
        return with(-1, size);
    }

    /** This shape with one more dimension of {@code size} at the end. */
    public Shape append(long size) {
        long[] d = Arrays.copyOf(dims, dims.length + 1);
        d[dims.length] = size;
        return of(d);
    }

    /** True when the sizes match a pattern where -1 accepts any size. */
    public boolean matches(long... pattern) {
        if (pattern.length != dims.length) {
            return false;
        }
        for (int i = 0; i < dims.length; i++) {
            if (pattern[i] != -1 && pattern[i] != dims[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}

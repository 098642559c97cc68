package io.github.ds4j;

import io.github.ds4j.internal.HostMemory;
import io.github.ds4j.internal.cpu.CpuBackend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A tensor: a descriptor (dtype, shape, strides in elements, offset) over a {@link Storage}.
 * Views ({@link #slice}, {@link #select}, {@link #reshape}, {@link #transpose}) share the storage
 * and own nothing; the tensor that allocated the storage owns it and frees it on {@link #close()}.
 * Using any tensor after its storage is closed throws {@link IllegalStateException}.
 *
 * <p>Kernels read a tensor as a matrix [rows, last] where the last dimension is dense and the
 * leading dimensions collapse into one row stride ({@link #rowStride()}); slicing the last
 * dimension keeps that property, so sub-columns can be passed to ops without copying.
 */
public final class Tensor implements AutoCloseable {
    private final Storage storage;
    private final boolean owner;
    private final DType dtype;
    private final Shape shape;
    private final long[] strides;
    private final long offset;

    private Tensor(Storage storage, boolean owner, DType dtype, Shape shape, long[] strides, long offset) {
        if (dtype == DType.FP4_E2M1 && (offset & 1) != 0) {
            // byteOffset() and every kernel address FP4 data by whole bytes
            throw new IllegalArgumentException("FP4 views must start on an even element (a whole byte), got element offset "
                    + offset + " for " + shape);
        }
        this.storage = storage;
        this.owner = owner;
        this.dtype = dtype;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
    }

    /**
     * A dense row-major tensor over the start of {@code storage}. When {@code owner} is true,
     * closing the tensor closes the storage. For backends and loaders.
     */
    public static Tensor of(Storage storage, DType dtype, Shape shape, boolean owner) {
        long bytes = checkDense(dtype, shape);
        if (bytes > storage.byteSize()) {
            throw new IllegalArgumentException("shape " + shape + " of " + dtype + " needs " + bytes
                    + " bytes, storage has " + storage.byteSize());
        }
        return new Tensor(storage, owner, dtype, shape, denseStrides(shape), 0);
    }

    /**
     * Checks that a dense tensor of {@code dtype} and {@code shape} can exist (FP4 needs whole
     * bytes per row) and returns its byte size. Allocators call it before allocating, so that a
     * rejected shape never leaves memory behind.
     */
    static long checkDense(DType dtype, Shape shape) {
        if (dtype == null || shape == null) {
            throw new IllegalArgumentException("dtype and shape must not be null");
        }
        if (dtype == DType.FP4_E2M1 && shape.rank() > 0 && (shape.last() & 1) != 0) {
            throw new IllegalArgumentException("shape: expected an even last dimension for FP4 (whole bytes per row), got " + shape);
        }
        return dtype.byteSize(shape.numel());
    }

    /** A new host tensor that owns its memory (uninitialized contents are zero). */
    public static Tensor allocate(DType dtype, Shape shape) {
        checkDense(dtype, shape);
        return CpuBackend.shared().allocateTensor(dtype, shape);
    }

    /** A host tensor in a caller's arena: it lives until the arena closes; close() does nothing. */
    public static Tensor allocate(Arena arena, DType dtype, Shape shape) {
        checkDense(dtype, shape);
        MemorySegment seg = arena.allocate(Math.max(1, dtype.byteSize(shape.numel())), 64);
        return of(Storage.borrowed(seg, CpuBackend.shared()), dtype, shape, false);
    }

    /** A host tensor over existing memory (zero copy); the caller keeps the segment alive. */
    public static Tensor wrap(MemorySegment segment, DType dtype, Shape shape) {
        return of(Storage.borrowed(segment, CpuBackend.shared()), dtype, shape, false);
    }

    /** A new host tensor of {@code dtype} holding {@code values} (rounded to the dtype). */
    public static Tensor fromFloats(float[] values, DType dtype, Shape shape) {
        if (values.length != shape.numel()) {
            throw new IllegalArgumentException("values: expected " + shape.numel() + " elements for shape " + shape
                    + ", got " + values.length);
        }
        Tensor t = allocate(dtype, shape);
        try {
            t.copyFrom(values);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** A new host tensor holding raw bytes in {@code dtype}'s encoding (codes for FP8/FP4). */
    public static Tensor fromBytes(byte[] bytes, DType dtype, Shape shape) {
        if (bytes.length != dtype.byteSize(shape.numel())) {
            throw new IllegalArgumentException("bytes: expected " + dtype.byteSize(shape.numel()) + " bytes for "
                    + dtype + " " + shape + ", got " + bytes.length);
        }
        Tensor t = allocate(dtype, shape);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, t.storage.segment(), 0, bytes.length);
        return t;
    }

    /** A new host tensor of an integer dtype holding {@code values}, each clamped to the dtype's range. */
    public static Tensor fromLongs(long[] values, DType dtype, Shape shape) {
        checkInteger("dtype", dtype);
        if (values.length != shape.numel()) {
            throw new IllegalArgumentException("values: expected " + shape.numel() + " elements, got " + values.length);
        }
        Tensor t = allocate(dtype, shape);
        MemorySegment s = t.storage.segment();
        for (int i = 0; i < values.length; i++) {
            HostMemory.setLong(s, dtype, i, values[i]);
        }
        return t;
    }

    public DType dtype() {
        return dtype;
    }

    public Shape shape() {
        return shape;
    }

    /** Size of dimension {@code i} (negative counts from the end). */
    public long dim(int i) {
        return shape.dim(i);
    }

    public int rank() {
        return shape.rank();
    }

    public long numel() {
        return shape.numel();
    }

    /** Strides in elements, one per dimension. */
    public long[] strides() {
        return strides.clone();
    }

    /** Offset of the first element from the storage start, in elements. */
    public long offset() {
        return offset;
    }

    /** Offset of the first element from the storage start, in bytes. */
    public long byteOffset() {
        return dtype.bits() == 4 ? offset / 2 : offset * (dtype.bits() / 8);
    }

    public Device device() {
        return storage.device();
    }

    /** The storage; for backends. */
    public Storage storage() {
        return storage;
    }

    /** True while the storage is usable. */
    public boolean isOpen() {
        return storage.isAlive();
    }

    /** Throws naming {@code what} when the storage is closed. */
    public Tensor checkOpen(String what) {
        if (!storage.isAlive()) {
            throw new IllegalStateException(what + ": tensor is closed");
        }
        return this;
    }

    /**
     * True when the elements are dense and row-major. Strides of size-1 dimensions do not matter
     * (a slice or a transpose may leave any stride there).
     */
    public boolean isContiguous() {
        if (shape.numel() <= 1) {
            return true;
        }
        long expected = 1;
        for (int i = shape.rank() - 1; i >= 0; i--) {
            long n = shape.dim(i);
            if (n == 1) {
                continue;
            }
            if (strides[i] != expected) {
                return false;
            }
            expected *= n;
        }
        return true;
    }

    /**
     * Distance in elements between consecutive rows when read as [rows, last]. Requires the last
     * stride to be 1 and the leading dimensions to collapse into one stride; size-1 dimensions
     * are skipped, as they never advance. With a single row it is the innermost leading stride
     * (or the last dimension for rank 1).
     */
    public long rowStride() {
        int r = shape.rank();
        if (r == 0) {
            return 1;
        }
        if (strides[r - 1] != 1 && shape.last() > 1) {
            throw new IllegalArgumentException("tensor " + shape + " with strides " + Arrays.toString(strides)
                    + " is not dense in its last dimension");
        }
        if (r == 1) {
            return shape.last();
        }
        long rs = -1;
        long expected = 0;
        for (int i = r - 2; i >= 0; i--) {
            long n = shape.dim(i);
            if (n == 1) {
                continue;
            }
            if (rs < 0) {
                rs = strides[i];
            } else if (strides[i] != expected) {
                throw new IllegalArgumentException("tensor " + shape + " with strides " + Arrays.toString(strides)
                        + " cannot be read as rows: its leading dimensions do not collapse");
            }
            expected = strides[i] * n;
        }
        return rs < 0 ? strides[r - 2] : rs;
    }

    /** True when {@link #rowStride()} would succeed. */
    public boolean hasRowLayout() {
        try {
            rowStride();
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The host memory of this tensor's elements, from the first to the last; host only. */
    public MemorySegment hostSegment() {
        checkOpen("tensor");
        if (!device().isHost()) {
            throw new IllegalStateException("tensor is on " + device() + "; copy it to the host first");
        }
        long first = byteOffset();
        long span = 0;
        for (int i = 0; i < shape.rank(); i++) {
            span += (shape.dim(i) - 1) * strides[i];
        }
        long elements = span + 1;
        long bytes = shape.numel() == 0 ? 0 : dtype.bits() == 4 ? (elements + 1) / 2 : dtype.byteSize(elements);
        return storage.segment().asSlice(first, Math.min(bytes, storage.byteSize() - first));
    }

    // ---- views ----

    /** A view with a new shape of the same element count; needs a contiguous tensor. One size may be -1. */
    public Tensor reshape(long... dims) {
        checkOpen("reshape");
        long known = 1;
        int infer = -1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("reshape: only one -1 allowed in " + Arrays.toString(dims));
                }
                infer = i;
            } else {
                known *= dims[i];
            }
        }
        long[] d = dims.clone();
        if (infer >= 0) {
            if (known == 0 || numel() % known != 0) {
                throw new IllegalArgumentException("reshape: cannot infer -1 for " + shape + " -> " + Arrays.toString(dims));
            }
            d[infer] = numel() / known;
        }
        Shape s = Shape.of(d);
        if (s.numel() != numel()) {
            throw new IllegalArgumentException("reshape: " + shape + " has " + numel() + " elements, " + s + " has " + s.numel());
        }
        if (!isContiguous()) {
            throw new IllegalArgumentException("reshape: tensor " + shape + " is not contiguous; copy it first");
        }
        if (dtype == DType.FP4_E2M1 && s.rank() > 0 && (s.last() & 1) != 0) {
            throw new IllegalArgumentException("reshape: FP4 tensors need an even last dimension, got " + s);
        }
        return new Tensor(storage, false, dtype, s, denseStrides(s), offset);
    }

    /** A view of {@code [start, end)} along {@code axis}. */
    public Tensor slice(int axis, long start, long end) {
        checkOpen("slice");
        int a = shape.axis(axis);
        long n = shape.dim(a);
        if (start < 0 || end > n || start > end) {
            throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") out of range for axis " + axis + " of " + shape);
        }
        if (dtype == DType.FP4_E2M1 && a == shape.rank() - 1 && ((start | end) & 1) != 0) {
            throw new IllegalArgumentException("FP4 slices of the last dimension must start and end on even elements");
        }
        return new Tensor(storage, false, dtype, shape.with(a, end - start), strides, offset + start * strides[a]);
    }

    /** A view of index {@code index} along {@code axis}, with that dimension removed. */
    public Tensor select(int axis, long index) {
        checkOpen("select");
        int a = shape.axis(axis);
        if (index < 0 || index >= shape.dim(a)) {
            throw new IndexOutOfBoundsException("index " + index + " out of range for axis " + axis + " of " + shape);
        }
        long[] d = shape.toArray();
        long[] s = new long[d.length - 1];
        long[] nd = new long[d.length - 1];
        for (int i = 0, j = 0; i < d.length; i++) {
            if (i != a) {
                nd[j] = d[i];
                s[j++] = strides[i];
            }
        }
        return new Tensor(storage, false, dtype, Shape.of(nd), s, offset + index * strides[a]);
    }

    /** A view with two axes swapped. */
    public Tensor transpose(int axis0, int axis1) {
        checkOpen("transpose");
        int a = shape.axis(axis0);
        int b = shape.axis(axis1);
        long[] d = shape.toArray();
        long[] s = strides.clone();
        long t = d[a];
        d[a] = d[b];
        d[b] = t;
        t = s[a];
        s[a] = s[b];
        s[b] = t;
        return new Tensor(storage, false, dtype, Shape.of(d), s, offset);
    }

    /**
     * A view of the same bytes as another dtype and shape, e.g. a checkpoint's I8 [N, K/2]
     * as FP4_E2M1 [N, K]. Needs a contiguous tensor and the same byte size.
     */
    public Tensor viewAs(DType newType, Shape newShape) {
        checkOpen("viewAs");
        if (!isContiguous()) {
            throw new IllegalArgumentException("viewAs: tensor " + shape + " is not contiguous");
        }
        if (newType == DType.FP4_E2M1 && newShape.rank() > 0 && (newShape.last() & 1) != 0) {
            throw new IllegalArgumentException("viewAs: FP4 tensors need an even last dimension, got " + newShape);
        }
        long have = dtype.byteSize(numel());
        long want = newType.byteSize(newShape.numel());
        if (have != want) {
            throw new IllegalArgumentException("viewAs: " + dtype + " " + shape + " is " + have + " bytes, "
                    + newType + " " + newShape + " needs " + want);
        }
        long byteOff = byteOffset();
        long newOffset = newType.bits() == 4 ? byteOff * 2 : byteOff / (newType.bits() / 8);
        if (newType.bits() > 8 && byteOff % (newType.bits() / 8) != 0) {
            throw new IllegalArgumentException("viewAs: offset " + byteOff + " is not aligned to " + newType);
        }
        return new Tensor(storage, false, newType, newShape, denseStrides(newShape), newOffset);
    }

    // ---- host copies ----

    /** All elements as floats in row-major order (quantized codes decoded without scales). */
    public float[] toFloatArray() {
        checkOpen("toFloatArray");
        if (numel() > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor " + shape + " is too large for a Java array");
        }
        try (Tensor host = onHost()) {
            float[] out = new float[(int) numel()];
            MemorySegment seg = host.storage.segment();
            host.forEachIndex((i, at) -> out[i] = HostMemory.getFloat(seg, host.dtype, at));
            return out;
        }
    }

    /** All elements of an integer tensor (I8, U8, I32, I64) in row-major order. */
    public long[] toLongArray() {
        checkOpen("toLongArray");
        checkInteger("toLongArray", dtype);
        try (Tensor host = onHost()) {
            long[] out = new long[Math.toIntExact(numel())];
            MemorySegment seg = host.storage.segment();
            host.forEachIndex((i, at) -> out[i] = HostMemory.getLong(seg, host.dtype, at));
            return out;
        }
    }

    /** The raw bytes of a contiguous tensor (codes for FP8/FP4, little-endian otherwise). */
    public byte[] toByteArray() {
        checkOpen("toByteArray");
        if (!isContiguous()) {
            throw new IllegalStateException("toByteArray: tensor is not contiguous");
        }
        try (Tensor host = onHost()) {
            return host.hostSegment().asSlice(0, dtype.byteSize(numel())).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** Overwrites every element with {@code values} (row-major), rounding to the dtype. */
    public void copyFrom(float[] values) {
        checkOpen("copyFrom");
        if (values.length != numel()) {
            throw new IllegalArgumentException("copyFrom: expected " + numel() + " values for " + shape + ", got " + values.length);
        }
        if (device().isHost()) {
            MemorySegment seg = storage.segment();
            forEachIndex((i, at) -> HostMemory.setFloat(seg, dtype, at, values[i]));
            return;
        }
        if (!isContiguous()) {
            throw new IllegalStateException("copyFrom: a device tensor must be contiguous");
        }
        try (Tensor staging = fromFloats(values, dtype, shape)) {
            storage.backend().copyFromHost(staging.hostSegment(), this);
        }
    }

    /** Overwrites this tensor with {@code src}'s elements (same dtype and shape; host or device). */
    public void copyFrom(Tensor src) {
        checkOpen("copyFrom");
        if (src == null) {
            throw new IllegalArgumentException("copyFrom: src must not be null");
        }
        src.checkOpen("copyFrom source");
        if (src.dtype != dtype || !src.shape.equals(shape)) {
            throw new IllegalArgumentException("copyFrom: expected " + dtype + " " + shape + ", got " + src.dtype + " " + src.shape);
        }
        if (src.device().isHost() && device().isHost()) {
            if (isContiguous() && src.isContiguous()) {
                MemorySegment.copy(src.hostSegment(), 0, hostSegment(), 0, dtype.byteSize(numel()));
            } else if (dtype.bits() == 4) {
                MemorySegment from = src.storage.segment();
                MemorySegment to = storage.segment();
                long[] srcOffsets = src.elementOffsets();
                forEachIndex((i, at) -> HostMemory.setNibble(to, at, HostMemory.nibble(from, srcOffsets[i])));
            } else {
                MemorySegment from = src.storage.segment();
                MemorySegment to = storage.segment();
                long[] srcOffsets = src.elementOffsets();
                long size = dtype.bits() / 8;
                forEachIndex((i, at) -> MemorySegment.copy(from, srcOffsets[i] * size, to, at * size, size));
            }
        } else if (src.device().isHost()) {
            if (!isContiguous() || !src.isContiguous()) {
                throw new IllegalStateException("copyFrom: host-device copies need contiguous tensors");
            }
            storage.backend().copyFromHost(src.hostSegment(), this);
        } else if (device().isHost()) {
            if (!isContiguous() || !src.isContiguous()) {
                throw new IllegalStateException("copyFrom: host-device copies need contiguous tensors");
            }
            src.storage.backend().copyToHost(src, hostSegment());
        } else if (src.device().equals(device())) {
            storage.backend().copy(src, this);
        } else {
            throw new IllegalArgumentException("copyFrom: copies between " + src.device() + " and " + device()
                    + " go through the host");
        }
    }

    /** A new contiguous host tensor with this tensor's elements (always a copy). */
    public Tensor toHost() {
        checkOpen("toHost");
        Tensor t = allocate(dtype, shape);
        t.copyFrom(this);
        return t;
    }

    /** This tensor if it is a contiguous host tensor (as a non-owning view), else a host copy. */
    private Tensor onHost() {
        if (device().isHost()) {
            return new Tensor(storage, false, dtype, shape, strides, offset);
        }
        if (!isContiguous()) {
            throw new IllegalStateException("tensor on " + device() + " is not contiguous; cannot copy to host");
        }
        return toHost();
    }

    /** Closes the storage if this tensor owns it; idempotent, and a no-op for views. */
    @Override
    public void close() {
        if (owner) {
            storage.close();
        }
    }

    /** True if closing this tensor frees its storage. */
    public boolean ownsStorage() {
        return owner;
    }

    @Override
    public String toString() {
        return "Tensor[" + dtype + " " + shape + " on " + storage.device() + (isContiguous() ? "" : ", strided") + "]";
    }

    // ---- helpers ----

    private static void checkInteger(String what, DType t) {
        if (t != DType.I8 && t != DType.U8 && t != DType.I32 && t != DType.I64) {
            throw new IllegalArgumentException(what + ": expected an integer dtype (I8, U8, I32 or I64), got " + t);
        }
    }

    private interface IndexVisitor {
        void visit(int linear, long elementOffset);
    }

    private long[] elementOffsets() {
        long[] out = new long[Math.toIntExact(numel())];
        forEachIndex((i, at) -> out[i] = at);
        return out;
    }

    /** Visits every element in row-major order with its element offset in the storage. */
    private void forEachIndex(IndexVisitor v) {
        int r = shape.rank();
        long n = numel();
        if (n == 0) {
            return;
        }
        if (isContiguous()) {
            for (int i = 0; i < n; i++) {
                v.visit(i, offset + i);
            }
            return;
        }
        long[] idx = new long[r];
        long at = offset;
        for (int i = 0; i < n; i++) {
            v.visit(i, at);
            for (int d = r - 1; d >= 0; d--) {
                idx[d]++;
                at += strides[d];
                if (idx[d] < shape.dim(d)) {
                    break;
                }
                at -= idx[d] * strides[d];
                idx[d] = 0;
            }
        }
    }

    static long[] denseStrides(Shape shape) {
        long[] s = new long[shape.rank()];
        long acc = 1;
        for (int i = s.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape.dim(i);
        }
        return s;
    }
}

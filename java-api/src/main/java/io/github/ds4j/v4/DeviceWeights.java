package io.github.ds4j.v4;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A layer's weights on its compute device, by checkpoint name. A source tensor that is already
 * there and contiguous is served as it is (zero-copy: on the CPU a memory-mapped checkpoint stays
 * mapped); any other (a mapped host file when computing on a GPU, a strided view) is copied to
 * the device the first time it is asked for, kept for later calls, and freed by {@link #close()}.
 * The source keeps owning what it returned. Safe to share between threads, so a layer can fetch
 * lazily (the MoE's routed experts) while serving calls.
 *
 * <p>The typed getters ({@link #f32}, {@link #mxfp4}, ...) also check dtype and exact shape, with
 * messages that start with the tensor's name.
 */
final class DeviceWeights implements TensorSource, AutoCloseable {
    private final Compute compute;
    private final TensorSource source;
    private final Map<String, Tensor> copies = new LinkedHashMap<>();
    private boolean closed;

    DeviceWeights(Compute compute, TensorSource source) {
        this.compute = compute;
        this.source = source;
    }

    /** The tensor called {@code name} on the compute device, contiguous; owned by the source or by this. */
    @Override
    public synchronized Tensor tensor(String name) {
        if (closed) {
            throw new IllegalStateException(name + ": the layer that loaded it is closed");
        }
        Tensor copy = copies.get(name);
        if (copy != null) {
            return copy;
        }
        Tensor t = source.tensor(name);
        if (t == null) {
            throw new IllegalArgumentException(name + ": the tensor source returned null");
        }
        t.checkOpen(name);
        if (t.device().equals(compute.device()) && t.isContiguous()) {
            return t;
        }
        if (!t.device().isHost() && !t.device().equals(compute.device())) {
            throw new IllegalArgumentException(name + ": expected a tensor on the host or on " + compute.device()
                    + ", got one on " + t.device());
        }
        copy = compute.upload(t);
        copies.put(name, copy);
        return copy;
    }

    /** A tensor of one of {@code dtypes} and exactly {@code dims}. */
    Tensor checked(String name, DType[] dtypes, long... dims) {
        return check(tensor(name), name, dtypes, dims);
    }

    /** An F32 or BF16 tensor of exactly {@code dims}. */
    Tensor real(String name, long... dims) {
        return checked(name, new DType[] {DType.F32, DType.BF16}, dims);
    }

    /** An F32 tensor of exactly {@code dims}. */
    Tensor f32(String name, long... dims) {
        return checked(name, new DType[] {DType.F32}, dims);
    }

    /**
     * An MXFP4 weight [out, in]: {@code prefix.weight} as the checkpoint packs it (I8 or U8
     * [out, in/2], the layout accepts both; or already FP4_E2M1 [out, in]) and
     * {@code prefix.scale} F8_E8M0 (or F32) [out, in/32].
     */
    BlockScaled mxfp4(String prefix, long out, long in) {
        String wName = prefix + ".weight";
        Tensor w = tensor(wName);
        Tensor values = w.dtype() == DType.FP4_E2M1
                ? check(w, wName, new DType[] {DType.FP4_E2M1}, out, in)
                : check(w, wName, new DType[] {DType.I8, DType.U8}, out, in / 2).viewAs(DType.FP4_E2M1, Shape.of(out, in));
        Tensor scale = checked(prefix + ".scale", new DType[] {DType.F8_E8M0, DType.F32}, out, in / 32);
        return BlockScaled.mxfp4Weight(values, scale);
    }

    /** An FP8 weight [out, in]: E4M3 {@code prefix.weight} and its 128x128 block scales. */
    BlockScaled fp8(String prefix, long out, long in) {
        Tensor values = checked(prefix + ".weight", new DType[] {DType.F8_E4M3}, out, in);
        Tensor scale = checked(prefix + ".scale", new DType[] {DType.F8_E8M0, DType.F32}, (out + 127) / 128, (in + 127) / 128);
        return BlockScaled.fp8Weight(values, scale);
    }

    private static Tensor check(Tensor t, String name, DType[] dtypes, long... dims) {
        if (!Arrays.asList(dtypes).contains(t.dtype()) || !t.shape().equals(Shape.of(dims))) {
            throw new IllegalArgumentException(name + ": expected " + describe(dtypes) + " " + Shape.of(dims)
                    + ", got " + t.dtype() + " " + t.shape());
        }
        return t;
    }

    /** "F32", "F32 or BF16", "A, B or C". */
    private static String describe(DType[] dtypes) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < dtypes.length; i++) {
            sb.append(i == 0 ? "" : i == dtypes.length - 1 ? " or " : ", ").append(dtypes[i]);
        }
        return sb.toString();
    }

    @Override
    public boolean contains(String name) {
        return source.contains(name);
    }

    /** Frees the copies made here; the source's tensors stay open. Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        copies.values().forEach(Tensor::close);
        copies.clear();
    }
}

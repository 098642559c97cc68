package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.safetensors.SafeTensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The input tensors of one op: looked up by name, checked against what the op expects (messages
 * name the tensor, the expectation and what the file holds), and placed on the op's device.
 * F16 inputs are widened to F32 on the host (the ops take F32 or BF16). Closes what it created.
 */
public final class Inputs implements AutoCloseable {
    private final SafeTensors file;
    private final String op;
    private final String reads;
    private final Compute compute;
    private final List<Tensor> owned = new ArrayList<>();
    private final Map<String, DType> stored = new HashMap<>();

    Inputs(SafeTensors file, String op, String reads, Compute compute) {
        this.file = file;
        this.op = op;
        this.reads = reads;
        this.compute = compute;
    }

    /** The tensor as stored in the file (a host view), or an error naming it. */
    public Tensor stored(String name) {
        if (!file.contains(name)) {
            throw new IllegalArgumentException(file.path() + " has no tensor \"" + name + "\" (op " + op + " reads " + reads + ")");
        }
        Tensor t = file.tensor(name);
        stored.put(name, t.dtype());
        return t;
    }

    /**
     * A real-valued input (F32, BF16 or F16) of at least {@code minRank} dimensions, on the
     * device; {@code expected} describes the shape for messages ("[M, K]").
     */
    public Tensor real(String name, int minRank, String expected) {
        Tensor t = stored(name);
        if (!t.dtype().isReal()) {
            throw new IllegalArgumentException(name + ": expected a real tensor (F32, BF16 or F16) " + expected + ", got " + describe(t));
        }
        if (t.rank() < minRank) {
            throw new IllegalArgumentException(name + ": expected " + expected + " (at least " + minRank + " dimension"
                    + (minRank == 1 ? "" : "s") + "), got " + describe(t));
        }
        if (t.dtype() == DType.F16) {
            t = own(Tensor.fromFloats(t.toFloatArray(), DType.F32, t.shape()));
        }
        return onDevice(t);
    }

    /** A real-valued input whose shape must equal {@code shape}. */
    public Tensor real(String name, Shape shape, String expected) {
        Tensor t = real(name, shape.rank(), expected);
        if (!t.shape().equals(shape)) {
            throw new IllegalArgumentException(name + ": expected shape " + shape + " " + expected + ", got " + describe(stored(name), t.shape()));
        }
        return t;
    }

    /** An input of one of {@code dtypes} with exactly {@code shape}, on the device. */
    public Tensor exact(String name, Shape shape, String expected, DType... dtypes) {
        Tensor t = stored(name);
        if (Arrays.stream(dtypes).noneMatch(d -> d == t.dtype()) || !t.shape().equals(shape)) {
            String types = dtypes.length == 1 ? dtypes[0].toString() : Arrays.toString(dtypes);
            throw new IllegalArgumentException(name + ": expected " + types + " " + shape + " " + expected + ", got " + describe(t));
        }
        return onDevice(t);
    }

    /** The dtype {@code name} had in the file (before any widening). */
    public DType storedDtype(String name) {
        return stored.get(name);
    }

    /**
     * {@code y} in the dtype input {@code like} had in the file: an F16 input gives an F16
     * output (computed in F32), others keep the op's dtype.
     */
    public Tensor asStored(String like, Tensor y) {
        if (stored.get(like) != DType.F16 || y.dtype() == DType.F16) {
            return y;
        }
        return own(Tensor.fromFloats(y.toFloatArray(), DType.F16, y.shape()));
    }

    /** Takes ownership: closed with the inputs. */
    public Tensor own(Tensor t) {
        owned.add(t);
        return t;
    }

    private Tensor onDevice(Tensor t) {
        return compute.device().isHost() ? t : own(compute.upload(t));
    }

    static String describe(Tensor t) {
        return t.dtype() + " " + t.shape();
    }

    private static String describe(Tensor t, Shape shape) {
        return t.dtype() + " " + shape;
    }

    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
        owned.clear();
    }
}

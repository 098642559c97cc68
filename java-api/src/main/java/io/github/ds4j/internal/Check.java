package io.github.ds4j.internal;

import io.github.ds4j.DType;
import io.github.ds4j.Device;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;

import java.util.Arrays;

/** Argument checks at the API boundary; every message names the argument, expected and actual. */
public final class Check {
    private Check() {
    }

    /** Open, on {@code device}, readable as rows. */
    public static Tensor rows(String name, Tensor t, Device device) {
        on(name, t, device);
        if (t.rank() < 1) {
            throw new IllegalArgumentException(name + ": expected at least one dimension, got a scalar");
        }
        if (!t.hasRowLayout()) {
            throw new IllegalArgumentException(name + ": expected a row layout (dense last dimension, leading dimensions "
                    + "that collapse into one row stride), got shape " + t.shape() + " with strides "
                    + Arrays.toString(t.strides()) + "; copy it first");
        }
        return t;
    }

    /** Open, on {@code device}, contiguous. */
    public static Tensor contiguous(String name, Tensor t, Device device) {
        on(name, t, device);
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(name + ": expected a contiguous tensor, got shape " + t.shape() + " with strides "
                    + Arrays.toString(t.strides()));
        }
        return t;
    }

    /** Not null, open, on {@code device}. */
    public static Tensor on(String name, Tensor t, Device device) {
        if (t == null) {
            throw new IllegalArgumentException(name + ": must not be null");
        }
        t.checkOpen(name);
        if (!t.device().equals(device)) {
            throw new IllegalArgumentException(name + ": expected a tensor on " + device + ", got one on " + t.device());
        }
        return t;
    }

    public static void dtype(String name, Tensor t, DType... allowed) {
        for (DType d : allowed) {
            if (t.dtype() == d) {
                return;
            }
        }
        throw new IllegalArgumentException(name + ": expected dtype " + (allowed.length == 1 ? allowed[0] : "one of " + Arrays.toString(allowed)) + ", got " + t.dtype());
    }

    public static void real(String name, Tensor t) {
        dtype(name, t, DType.F32, DType.BF16);
    }

    public static void realOut(String name, DType d) {
        if (d != DType.F32 && d != DType.BF16) {
            throw new IllegalArgumentException(name + ": expected F32 or BF16, got " + d);
        }
    }

    public static void shape(String name, Tensor t, Shape expected) {
        if (!t.shape().equals(expected)) {
            throw new IllegalArgumentException(name + ": expected shape " + expected + ", got " + t.shape());
        }
    }

    /** Shape against a pattern, -1 = any size; the message prints -1 as '*'. */
    public static void shape(String name, Tensor t, long... pattern) {
        if (!t.shape().matches(pattern)) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < pattern.length; i++) {
                sb.append(i == 0 ? "" : ", ").append(pattern[i] == -1 ? "*" : Long.toString(pattern[i]));
            }
            throw new IllegalArgumentException(name + ": expected shape " + sb + "], got " + t.shape());
        }
    }

    public static void positive(String name, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + ": expected a positive value, got " + v);
        }
    }

    /** {@code cols} must be a multiple of {@code block}. */
    public static void divisible(String name, long cols, long block, String what) {
        if (block <= 0 || cols % block != 0) {
            throw new IllegalArgumentException(name + ": expected the " + what + " to be a multiple of " + block + ", got " + cols);
        }
    }

    public static void finite(String name, float v) {
        if (!Float.isFinite(v)) {
            throw new IllegalArgumentException(name + ": expected a finite value, got " + v);
        }
    }
}

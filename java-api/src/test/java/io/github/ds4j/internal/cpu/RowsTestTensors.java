package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Random inputs, strided views, poisoned outputs and comparisons for the CPU row-op tests. */
final class RowsTestTensors {
    private RowsTestTensors() {
    }

    /** A random generator with its seed printed (set -Dds4j.test.seed=N to replay one). */
    static Random random(String test) {
        long seed = Long.getLong("ds4j.test.seed", System.nanoTime());
        System.out.println(test + ": seed " + seed);
        return new Random(seed);
    }

    /** A uniform value in ±[lo, hi), never zero. */
    static float nonZero(Random rnd, float lo, float hi) {
        float v = lo + rnd.nextFloat() * (hi - lo);
        return rnd.nextBoolean() ? v : -v;
    }

    static float[] nonZeros(Random rnd, int n, float lo, float hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = nonZero(rnd, lo, hi);
        }
        return v;
    }

    /**
     * A tensor of {@code shape} that is either the whole of its storage or a window of the last
     * dimension of a wider parent ({@code pad} more columns, the view starting at {@code offset}),
     * so that it has a row stride larger than its width. Closing it frees the parent.
     */
    record Held(Tensor parent, Tensor view, int offset) implements AutoCloseable {
        static Held of(DType dtype, long[] shape, int pad, int offset) {
            long[] wide = shape.clone();
            wide[wide.length - 1] += pad;
            Tensor parent = Tensor.allocate(dtype, Shape.of(wide));
            long last = shape[shape.length - 1];
            Tensor view = pad == 0 ? parent : parent.slice(-1, offset, offset + last);
            return new Held(parent, view, pad == 0 ? 0 : offset);
        }

        /** Fills the whole parent with NaN (codes: NaN; indices: -1), so unwritten elements show. */
        Held poison() {
            float[] nan = new float[Math.toIntExact(parent.numel())];
            Arrays.fill(nan, parent.dtype() == DType.I32 ? -1f : Float.NaN);
            parent.copyFrom(nan);
            return this;
        }

        /** Fills the parent with random non-zero values and the view with {@code values}. */
        Held fill(float[] values, Random rnd) {
            if (parent != view) {
                parent.copyFrom(nonZeros(rnd, Math.toIntExact(parent.numel()), 0.5f, 2f));
            }
            view.copyFrom(values);
            return this;
        }

        float[] values() {
            return view.toFloatArray();
        }

        float[] all() {
            return parent.toFloatArray();
        }

        @Override
        public void close() {
            parent.close();
        }
    }

    /** Asserts that the parent elements outside the view kept their bits from {@code before}. */
    static void assertOutsideUnchanged(Held h, float[] before, String what) {
        if (h.parent() == h.view()) {
            return;
        }
        float[] after = h.all();
        int wide = Math.toIntExact(h.parent().shape().last());
        int cols = Math.toIntExact(h.view().shape().last());
        for (int i = 0; i < after.length; i++) {
            int c = i % wide;
            if ((c < h.offset() || c >= h.offset() + cols) && Float.floatToIntBits(before[i]) != Float.floatToIntBits(after[i])) {
                fail(what + ": element " + i + " outside the view changed from " + before[i] + " to " + after[i]);
            }
        }
    }

    /** Same bits everywhere (NaNs of any payload count as equal). */
    static void assertSameBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
                fail(what + ": element " + i + " expected " + expected[i] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(expected[i]))
                        + "), got " + actual[i] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(actual[i])) + ")");
            }
        }
    }

    /**
     * Equal within {@code rel} of the expected magnitude for F32 outputs; for BF16 outputs (whose
     * f32 values differ by a few ulps before rounding) at most one BF16 step apart.
     */
    static void assertClose(float[] expected, float[] actual, DType out, double rel, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i];
            float a = actual[i];
            if (Float.floatToIntBits(e) == Float.floatToIntBits(a)) {
                continue;
            }
            boolean ok;
            if (Float.isNaN(e) || Float.isNaN(a)) {
                ok = false;
            } else if (out == DType.BF16) {
                ok = Math.abs((Float.floatToRawIntBits(e) >> 16) - (Float.floatToRawIntBits(a) >> 16)) <= 1;
            } else {
                ok = Math.abs((double) a - e) <= rel * Math.abs(e) + 1e-37;
            }
            if (!ok) {
                fail(what + ": element " + i + " expected " + e + ", got " + a + " (relative bound " + rel + ")");
            }
        }
    }

    /** Rounds values to what a tensor of {@code dtype} holds. */
    static float[] rounded(float[] values, DType dtype) {
        try (Tensor t = Tensor.fromFloats(values, dtype, Shape.of(values.length))) {
            return t.toFloatArray();
        }
    }
}

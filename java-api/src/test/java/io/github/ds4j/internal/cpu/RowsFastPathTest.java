package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.cpu.RowsTestTensors.Held;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static io.github.ds4j.internal.cpu.RowsTestTensors.assertClose;
import static io.github.ds4j.internal.cpu.RowsTestTensors.assertOutsideUnchanged;
import static io.github.ds4j.internal.cpu.RowsTestTensors.assertSameBits;
import static io.github.ds4j.internal.cpu.RowsTestTensors.nonZeros;
import static io.github.ds4j.internal.cpu.RowsTestTensors.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fast per-row ops (threads + SIMD, and threads + scalar rows) against the scalar reference
 * on ragged shapes: widths that are no multiple of any vector length, one row and many rows,
 * column windows of wider tensors, in place, F32 and BF16 in and out.
 */
class RowsFastPathTest {
    private static final CpuBackend REFERENCE = CpuBackend.scalarReference();

    /** How an op is run: the scalar reference, or one of the two fast paths. */
    enum Path {
        REFERENCE, THREADS_SCALAR, THREADS_SIMD
    }

    /** The fast paths this JVM can run (SIMD only with the incubator module, as under the test flags). */
    static List<Path> fastPaths() {
        return CpuPath.simd() ? List.of(Path.THREADS_SCALAR, Path.THREADS_SIMD) : List.of(Path.THREADS_SCALAR);
    }

    /** An op over input views writing y, run on one path. */
    interface Op {
        void run(Tensor[] in, Tensor y, Path path);
    }

    /** Where the output goes: a fresh contiguous tensor, a window of a wider one, or the first input. */
    enum Layout {
        CONTIGUOUS, STRIDED, IN_PLACE, STRIDED_IN_PLACE;

        boolean inPlace() {
            return this == IN_PLACE || this == STRIDED_IN_PLACE;
        }

        boolean strided() {
            return this == STRIDED || this == STRIDED_IN_PLACE;
        }
    }

    /** Generates one input's values. */
    interface Gen {
        float[] values(Random rnd, int n);
    }

    /** One run of {@code op} on {@code path}: inputs filled from {@code inputs}; returns y's values. */
    private static float[] runOnce(Op op, Path path, List<float[]> inputs, DType in, DType out, long[] shape, Layout layout, Random rnd, String what) {
        int pad = layout.strided() ? 5 : 0;
        int offset = layout.strided() ? 3 : 0;
        List<Held> held = new ArrayList<>();
        try {
            Tensor[] ins = new Tensor[inputs.size()];
            for (int i = 0; i < ins.length; i++) {
                Held h = Held.of(in, shape, pad, offset).fill(inputs.get(i), rnd);
                held.add(h);
                ins[i] = h.view();
            }
            Held y;
            if (layout.inPlace()) {
                y = held.get(0);
            } else {
                y = Held.of(out, shape, pad, offset).poison();
                held.add(y);
            }
            float[] before = y.all();
            op.run(ins, y.view(), path);
            assertOutsideUnchanged(y, before, what + " on " + path);
            return y.values();
        } finally {
            held.forEach(Held::close);
        }
    }

    /**
     * Runs {@code op} on every path for every dtype pair and layout, and compares the fast
     * results with the reference: bit for bit when {@code rel} is 0, else within rel (F32) or
     * one BF16 step.
     */
    private static void check(String name, Random rnd, Op op, int arity, long[] shape, Gen gen, double rel) {
        int n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, Math.toIntExact(d));
        }
        for (DType in : new DType[] {DType.F32, DType.BF16}) {
            for (DType out : new DType[] {DType.F32, DType.BF16}) {
                List<float[]> inputs = new ArrayList<>();
                for (int i = 0; i < arity; i++) {
                    inputs.add(gen.values(rnd, n));
                }
                for (Layout layout : Layout.values()) {
                    if (layout.inPlace() && in != out) {
                        continue;
                    }
                    String what = name + " " + in + "->" + out + " " + java.util.Arrays.toString(shape) + " " + layout;
                    float[] want = runOnce(op, Path.REFERENCE, inputs, in, out, shape, layout, rnd, what);
                    for (Path p : fastPaths()) {
                        float[] got = runOnce(op, p, inputs, in, out, shape, layout, rnd, what);
                        if (rel == 0) {
                            assertSameBits(want, got, what + " on " + p);
                        } else {
                            assertClose(want, got, out, rel, what + " on " + p);
                        }
                    }
                }
            }
        }
    }

    /** Ragged [rows, cols] shapes: one row, odd widths, and enough rows for several parallel chunks. */
    private static final long[][] SHAPES = {{1, 1}, {1, 7}, {2, 31}, {3, 33}, {1, 63}, {2, 100}, {5, 257}, {1, 4099}, {1000, 70}};

    @Test
    void rmsNormFastPathsMatchScalarReference() {
        Random rnd = random("rmsNormFastPathsMatchScalarReference");
        DType[] weightTypes = {null, DType.F32, DType.BF16};
        for (int si = 0; si < SHAPES.length; si++) {
            long[] shape = SHAPES[si];
            int cols = (int) shape[1];
            float[] w = nonZeros(rnd, cols, 0.5f, 1.5f);
            // no weight, F32 and BF16 weights take turns over the shapes, each on ragged and wide ones
            DType wt = weightTypes[si % 3];
            try (Tensor weight = wt == null ? null : Tensor.fromFloats(w, wt, io.github.ds4j.Shape.of(cols))) {
                Op op = (x, y, p) -> {
                    switch (p) {
                        case REFERENCE -> REFERENCE.rmsNorm(x[0], weight, 1e-6f, y);
                        case THREADS_SCALAR -> Rows.rmsNorm(x[0], weight, 1e-6f, y, false);
                        case THREADS_SIMD -> Rows.rmsNorm(x[0], weight, 1e-6f, y, true);
                    }
                };
                check("rmsNorm weight " + wt, rnd, op, 1, shape, (r, n) -> nonZeros(r, n, 0.01f, 8f), 2e-6);
            }
        }
    }

    @Test
    void ropeFastPathsMatchScalarReferenceBitForBit() {
        Random rnd = random("ropeFastPathsMatchScalarReferenceBitForBit");
        RopeSpec yarn = new RopeSpec(64, 160000, new RopeSpec.Yarn(16, 65536, 32, 1));
        long[][] shapes = {{64}, {1, 64}, {7, 3, 64}, {2, 5, 6}, {3, 34}, {40, 8, 64}};
        for (long[] shape : shapes) {
            int dims = (int) shape[shape.length - 1];
            RopeSpec spec = dims == 64 && rnd.nextBoolean() ? yarn : RopeSpec.plain(dims, 10000);
            for (boolean inverse : new boolean[] {false, true}) {
                long start = rnd.nextBoolean() ? rnd.nextInt(100) : 1_000_000 + rnd.nextInt(48_000);
                Op op = (x, y, p) -> {
                    switch (p) {
                        case REFERENCE -> REFERENCE.rope(x[0], y, spec, start, inverse);
                        case THREADS_SCALAR -> Rows.rope(x[0], y, spec, start, inverse, false);
                        case THREADS_SIMD -> Rows.rope(x[0], y, spec, start, inverse, true);
                    }
                };
                check("rope " + spec + " start " + start + " inverse " + inverse, rnd, op, 1, shape, (r, n) -> nonZeros(r, n, 0.01f, 4f), 0);
            }
        }
    }

    @Test
    void hadamardFastPathsMatchScalarReferenceBitForBit() {
        Random rnd = random("hadamardFastPathsMatchScalarReferenceBitForBit");
        long[][] shapes = {{3, 1}, {2, 2}, {5, 4}, {1, 8}, {4, 16}, {3, 32}, {2, 64}, {150, 128}, {1, 512}, {2, 4096}};
        for (long[] shape : shapes) {
            Op op = (x, y, p) -> {
                switch (p) {
                    case REFERENCE -> REFERENCE.hadamard(x[0], y);
                    case THREADS_SCALAR -> Rows.hadamard(x[0], y, false);
                    case THREADS_SIMD -> Rows.hadamard(x[0], y, true);
                }
            };
            check("hadamard", rnd, op, 1, shape, (r, n) -> nonZeros(r, n, 0.01f, 4f), 0);
        }
    }

    @Test
    void swigluFastPathsMatchScalarReferenceWithAndWithoutClamp() {
        Random rnd = random("swigluFastPathsMatchScalarReferenceWithAndWithoutClamp");
        for (long[] shape : SHAPES) {
            for (float limit : new float[] {0f, 10f}) {
                Op op = (x, y, p) -> {
                    switch (p) {
                        case REFERENCE -> REFERENCE.swiglu(x[0], x[1], limit, y);
                        case THREADS_SCALAR -> Rows.swiglu(x[0], x[1], limit, y, false);
                        case THREADS_SIMD -> Rows.swiglu(x[0], x[1], limit, y, true);
                    }
                };
                check("swiglu limit " + limit, rnd, op, 2, shape, (r, n) -> nonZeros(r, n, 0.01f, 25f), 4e-6);
            }
        }
    }

    @Test
    void softmaxFastPathsMatchScalarReference() {
        Random rnd = random("softmaxFastPathsMatchScalarReference");
        for (long[] shape : SHAPES) {
            Op op = (x, y, p) -> {
                switch (p) {
                    case REFERENCE -> REFERENCE.softmax(x[0], y);
                    case THREADS_SCALAR -> Rows.softmax(x[0], y, false);
                    case THREADS_SIMD -> Rows.softmax(x[0], y, true);
                }
            };
            check("softmax", rnd, op, 1, shape, (r, n) -> nonZeros(r, n, 0.01f, 12f), 4e-6);
        }
    }

    @Test
    void convertFastPathsMatchScalarReferenceForEveryRealDtypePair() {
        Random rnd = random("convertFastPathsMatchScalarReferenceForEveryRealDtypePair");
        DType[] types = {DType.F32, DType.BF16, DType.F16};
        for (long[] shape : new long[][] {{1, 7}, {3, 131}, {2, 63}, {40, 64}, {1000, 70}}) {
            int n = (int) (shape[0] * shape[1]);
            float[] x = nonZeros(rnd, n, 1e-3f, 1e3f);
            for (int i = 0; i < n; i += 3) { // ties of bf16 and f16, and the specials
                int bits = Float.floatToRawIntBits(x[i]);
                x[i] = Float.intBitsToFloat(i % 2 == 0 ? (bits & 0xFFFF_0000) | 0x8000 : (bits & 0xFFFF_E000) | 0x1000);
            }
            x[0] = Float.NaN;
            x[1] = Float.intBitsToFloat(0x7F80_0001); // NaN payloads that plain rounding would carry into infinity
            x[2] = Float.intBitsToFloat(0xFFFF_FFFF);
            x[n - 1] = shape[1] > 2 ? Float.NEGATIVE_INFINITY : x[n - 1];
            x[n / 2] = 1e9f; // past the F16 range
            for (DType in : types) {
                for (DType out : types) {
                    for (boolean strided : new boolean[] {false, true}) {
                        String what = "convert " + in + "->" + out + " " + java.util.Arrays.toString(shape) + (strided ? " strided" : "");
                        float[] want = convertOn(Path.REFERENCE, x, in, out, shape, strided, rnd, what);
                        for (Path p : fastPaths()) {
                            assertSameBits(want, convertOn(p, x, in, out, shape, strided, rnd, what), what + " on " + p);
                        }
                    }
                }
            }
        }
    }

    private static float[] convertOn(Path p, float[] x, DType in, DType out, long[] shape, boolean strided, Random rnd, String what) {
        int pad = strided ? 5 : 0;
        try (Held xh = Held.of(in, shape, pad, 3).fill(x, rnd);
             Held yh = Held.of(out, shape, pad, 3).poison()) {
            float[] before = yh.all();
            switch (p) {
                case REFERENCE -> REFERENCE.convert(xh.view(), yh.view());
                case THREADS_SCALAR -> Rows.convert(xh.view(), yh.view(), false);
                case THREADS_SIMD -> Rows.convert(xh.view(), yh.view(), true);
            }
            assertOutsideUnchanged(yh, before, what);
            return yh.values();
        }
    }

    @Test
    void topKFastPathsMatchScalarReferenceIncludingTiesNanAndFullK() {
        Random rnd = random("topKFastPathsMatchScalarReferenceIncludingTiesNanAndFullK");
        long[][] shapes = {{1, 1}, {3, 9}, {2, 100}, {1, 5000}, {400, 40}};
        for (long[] shape : shapes) {
            int cols = (int) shape[1];
            int n = (int) (shape[0] * cols);
            for (int kind = 0; kind < 3; kind++) {
                float[] x = switch (kind) {
                    case 0 -> nonZeros(rnd, n, 0.01f, 100f);
                    case 1 -> { // ties, signed zeros, infinities, NaN
                        float[] pool = {-3f, -1f, -0f, 0f, 1f, 2f, Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY};
                        float[] v = new float[n];
                        for (int i = 0; i < n; i++) {
                            v[i] = pool[rnd.nextInt(pool.length)];
                        }
                        yield v;
                    }
                    default -> { // ascending: every element enters the running top-k
                        float[] v = new float[n];
                        for (int i = 0; i < n; i++) {
                            v[i] = 1f + (i % cols);
                        }
                        yield v;
                    }
                };
                for (int k : new int[] {1, Math.min(6, cols), cols}) {
                    for (DType in : new DType[] {DType.F32, DType.BF16}) {
                        for (boolean strided : new boolean[] {false, true}) {
                            String what = "topK kind " + kind + " " + in + " " + java.util.Arrays.toString(shape) + " k " + k + (strided ? " strided" : "");
                            float[][] want = topKOn(Path.REFERENCE, x, in, shape, k, strided, rnd);
                            for (Path p : fastPaths()) {
                                float[][] got = topKOn(p, x, in, shape, k, strided, rnd);
                                assertSameBits(want[0], got[0], what + " values on " + p);
                                assertSameBits(want[1], got[1], what + " indices on " + p);
                            }
                        }
                    }
                }
            }
        }
    }

    private static float[][] topKOn(Path p, float[] x, DType in, long[] shape, int k, boolean strided, Random rnd) {
        long[] outShape = {shape[0], k};
        try (Held xh = Held.of(in, shape, strided ? 5 : 0, 3).fill(x, rnd);
             Held v = Held.of(DType.F32, outShape, 0, 0).poison();
             Held i = Held.of(DType.I32, outShape, 0, 0).poison()) {
            switch (p) {
                case REFERENCE -> REFERENCE.topK(xh.view(), k, v.view(), i.view());
                case THREADS_SCALAR -> Rows.topK(xh.view(), k, v.view(), i.view(), false);
                case THREADS_SIMD -> Rows.topK(xh.view(), k, v.view(), i.view(), true);
            }
            return new float[][] {v.values(), i.values()};
        }
    }

    @Test
    void vectorExpIsWithinTwoUlpsOfExactAcrossTheF32Range() {
        assertTrue(CpuPath.simd(), "the tests run with --add-modules jdk.incubator.vector (the parent pom's argLine)");
        Random rnd = random("vectorExpIsWithinTwoUlpsOfExactAcrossTheF32Range");
        float[] special = {Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, -0f, 0f, 1e-30f, -1e-30f,
            -104f, -103.97f, -103.9f, -87.34f, -87.33f, -87.3f, 88.72f, 88.7228f, 88.73f, 89f, 1e5f, -1e5f, 0.34657f, -0.34657f};
        int n = 40_003;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i < special.length ? special[i] : (float) ((rnd.nextDouble() * 2 - 1) * (rnd.nextBoolean() ? 2 : 110));
        }
        float[] y = new float[n];
        RowsSimd.exp(x, y, n);
        for (int i = 0; i < n; i++) {
            double exact = Math.exp(x[i]);
            float want = (float) exact;
            if (Float.isNaN(want) || Float.isInfinite(want)) {
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(y[i]), "exp(" + x[i] + ")");
            } else if (!(Math.abs(y[i] - exact) <= 2 * Math.ulp(want))) {
                assertEquals(want, y[i], 2 * Math.ulp(want), "exp(" + x[i] + ")");
            }
        }
    }

    @Test
    void sharedBackendRunsTheFastPathsAndSaysWhichCpuPath() {
        CpuBackend fast = CpuBackend.shared();
        assertTrue(fast.isFast(), "the shared CPU backend runs the fast paths");
        assertTrue(fast.description().contains(CpuPath.simd() ? "SIMD" : "scalar"), fast.description());
        assertEquals(false, CpuBackend.scalarReference().isFast());
        Random rnd = random("sharedBackendRunsTheFastPathsAndSaysWhichCpuPath");
        float[] x = nonZeros(rnd, 3 * 77, 0.1f, 3f);
        try (Held a = Held.of(DType.F32, new long[] {3, 77}, 0, 0).fill(x, rnd);
             Held b = Held.of(DType.F32, new long[] {3, 77}, 0, 0).poison();
             Held c = Held.of(DType.F32, new long[] {3, 77}, 0, 0).poison()) {
            fast.rmsNorm(a.view(), null, 1e-6f, b.view());
            Rows.rmsNorm(a.view(), null, 1e-6f, c.view(), CpuPath.simd());
            assertSameBits(c.values(), b.values(), "shared backend rmsNorm is the fast path");
        }
    }
}

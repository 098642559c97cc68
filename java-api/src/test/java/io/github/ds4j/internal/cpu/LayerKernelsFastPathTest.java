package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.spi.AttentionKernels;
import io.github.ds4j.spi.AttentionKernels.Fp8KvLayout;
import io.github.ds4j.spi.AttentionKernels.KvRows;
import io.github.ds4j.spi.HyperConnectionKernels;
import io.github.ds4j.spi.MoeKernels;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static io.github.ds4j.internal.cpu.RowsTestTensors.nonZeros;
import static io.github.ds4j.internal.cpu.RowsTestTensors.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The fast paths of the layer kernels (sparse attention, grouped output projection, indexer scores,
 * mHC mixing logits, stream sum and post update, MoE gate scores) against the plain loops of the scalar reference backend, on ragged sizes: head
 * counts that are no multiple of the four heads a pass shares, head sizes with a vector tail, key
 * counts across several pieces, one decode token (heads split over the cores) and several tokens.
 */
class LayerKernelsFastPathTest {
    private static final CpuBackend FAST = CpuBackend.shared();
    private static final CpuBackend REFERENCE = CpuBackend.scalarReference();

    /** Relative error of f32 sums of a few hundred terms taken in another order. */
    private static final double SUM_ORDER = 2e-5;

    @Test
    void sparseAttentionFastPathMatchesReferenceOverMixedSources() {
        Random rnd = random("sparse attention fast path");
        // heads, head size, batch, tokens: a decode token with ten heads (split over the cores),
        // six heads with a 40-wide head (a vector tail), three heads (no full block of four), a batch.
        int[][] shapes = {{10, 96, 1, 1}, {6, 40, 1, 3}, {3, 64, 1, 1}, {5, 128, 2, 2}};
        for (int[] s : shapes) {
            for (DType out : new DType[] {DType.F32, DType.BF16}) {
                sparseAttentionCase(rnd, s[0], s[1], s[2], s[3], out);
            }
        }
    }

    private static void sparseAttentionCase(Random rnd, int heads, int dim, int batch, int seq, DType outType) {
        String what = "sparse attention, " + heads + " heads of " + dim + ", batch " + batch + ", " + seq + " tokens, " + outType;
        int ropeDim = dim >= 64 ? 32 : 8;
        Fp8KvLayout layout = new Fp8KvLayout(dim, ropeDim, 4);
        List<Tensor> held = new ArrayList<>();
        try {
            Tensor bf16 = keep(held, tensor(rnd, DType.BF16, batch, 9, dim));
            Tensor f32Wide = keep(held, tensor(rnd, DType.F32, batch, 12, dim));
            Tensor fp8 = keep(held, Tensor.allocate(DType.U8, Shape.of(batch, layout.bytes(7))));
            try (Tensor rows = tensor(rnd, DType.F32, batch, 7, dim)) {
                FAST.attentionKernels().orElseThrow().storeKv(rows, KvRows.fp8(fp8, 7, layout), 0, 7);
            }
            // 9 bf16 rows, 7 FP8 rows, then the first 5 of 12 f32 rows: 21 rows in all
            List<KvRows> sources = List.of(KvRows.real(bf16), KvRows.fp8(fp8, 7, layout), new KvRows(f32Wide.slice(1, 0, 5), 5, null));
            int total = 21;
            Tensor q = keep(held, tensor(rnd, DType.BF16, batch, seq, heads, dim));
            Tensor sink = keep(held, Tensor.fromFloats(nonZeros(rnd, heads, 0.1f, 2f), DType.F32, Shape.of(heads)));
            // two lists; the last token of the last sequence selects nothing at all
            long[] a = new long[batch * seq * 12];
            long[] b = new long[batch * seq * 5];
            for (int i = 0; i < a.length; i++) {
                a[i] = rnd.nextInt(4) == 0 ? -1 : rnd.nextInt(total);
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = rnd.nextInt(3) == 0 ? -1 : rnd.nextInt(total);
            }
            if (batch * seq > 1) {
                Arrays.fill(a, a.length - 12, a.length, -1);
                Arrays.fill(b, b.length - 5, b.length, -1);
            }
            List<Tensor> lists = List.of(keep(held, Tensor.fromLongs(a, DType.I32, Shape.of(batch, seq, 12))),
                    keep(held, Tensor.fromLongs(b, DType.I32, Shape.of(batch, seq, 5))));
            float scale = (float) (1 / Math.sqrt(dim));
            float[][] results = new float[2][];
            for (int path = 0; path < 2; path++) {
                try (Tensor o = Tensor.allocate(outType, Shape.of(batch, seq, heads, dim))) {
                    poison(o);
                    (path == 0 ? REFERENCE : FAST).attentionKernels().orElseThrow().sparseAttention(q, sources, lists, sink, scale, o);
                    results[path] = o.toFloatArray();
                }
            }
            assertClose(results[0], results[1], outType, SUM_ORDER, what);
            if (batch * seq > 1) {
                int last = (batch * seq - 1) * heads * dim;
                for (int i = last; i < results[1].length; i++) {
                    assertEquals(0f, results[1][i], what + ": a token with no selected row gets zeros");
                }
            }
        } finally {
            held.forEach(Tensor::close);
        }
    }

    @Test
    void groupedProjectionFromFp8MatchesTheReferenceOnDecodeAndPrefillRows() {
        Random rnd = random("grouped projection fast path");
        // groups, rows per group, inputs per group: bands of 128 rows inside groups; a band that
        // spans two groups (192 rows each); groups of 6 rows (no multiple of four); 200 inputs (no
        // whole 128-blocks: every row exact)
        int[][] shapes = {{3, 256, 384}, {2, 192, 256}, {4, 6, 128}, {2, 64, 200}};
        for (int[] s : shapes) {
            for (int rows : new int[] {1, 3, 7}) {
                for (boolean f32Scales : new boolean[] {false, true}) {
                    groupedProjectionCase(rnd, s[0], s[1], s[2], rows, f32Scales);
                }
            }
        }
    }

    private static void groupedProjectionCase(Random rnd, int groups, int r, int in, int rows, boolean f32Scales) {
        String what = "grouped projection, " + groups + " groups of " + r + " x " + in + ", " + rows + " rows, "
                + (f32Scales ? "F32" : "E8M0") + " scales";
        int n = groups * r;
        int bands = (n + 127) / 128;
        int blocks = (in + 127) / 128;
        byte[] codes = new byte[n * in];
        for (int i = 0; i < codes.length; i++) {
            byte c = (byte) rnd.nextInt(256);
            codes[i] = (c & 0x7F) == 0x7F ? 0x38 : c; // no NaN codes here
        }
        codes[rnd.nextInt(codes.length)] = (byte) 0xFF; // but one: that row's output is NaN
        float[] scales = new float[bands * blocks];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = Math.scalb(1f, -6 - rnd.nextInt(6));
        }
        scales[rnd.nextInt(scales.length)] = 0x1p-70f; // a band the fast path leaves to the exact one
        if (f32Scales) {
            scales[rnd.nextInt(scales.length)] = 0.013f; // not a power of two: products rounded to bf16
        }
        try (Tensor values = Tensor.fromBytes(codes, DType.F8_E4M3, Shape.of(n, in));
             Tensor s = f32Scales ? Tensor.fromFloats(scales, DType.F32, Shape.of(bands, blocks))
                     : Tensor.fromFloats(scales, DType.F8_E8M0, Shape.of(bands, blocks));
             Tensor o = tensor(rnd, DType.BF16, rows, groups * in);
             Tensor expected = Tensor.allocate(DType.F32, Shape.of(rows, n));
             Tensor actual = Tensor.allocate(DType.F32, Shape.of(rows, n))) {
            var w = io.github.ds4j.BlockScaled.fp8Weight(values, s);
            poison(expected);
            poison(actual);
            REFERENCE.attentionKernels().orElseThrow().groupedProjection(o, w, groups, expected);
            FAST.attentionKernels().orElseThrow().groupedProjection(o, w, groups, actual);
            float[] e = expected.toFloatArray();
            float[] a = actual.toFloatArray();
            int nan = 0;
            for (int i = 0; i < e.length; i++) {
                assertEquals(Float.isNaN(e[i]), Float.isNaN(a[i]), what + ": NaN at " + i);
                if (Float.isNaN(e[i])) {
                    nan++;
                    e[i] = a[i] = 0;
                }
            }
            assertEquals(rows, nan, what + ": the row with a NaN code gives NaN for every token");
            assertClose(e, a, DType.F32, SUM_ORDER, what);
        }
    }

    @Test
    void indexerScoresFastPathMatchesReferenceWithIncompleteEntries() {
        Random rnd = random("indexer scores fast path");
        AttentionKernels fast = FAST.attentionKernels().orElseThrow();
        AttentionKernels ref = REFERENCE.attentionKernels().orElseThrow();
        // 150 keys span several pieces of keys, the last one partial; the queries at positions
        // 590..592 see 147 or 148 complete entries of ratio 4.
        int batch = 2;
        int seq = 3;
        int heads = 6;
        int dim = 48;
        int n = 150;
        long startPos = 590;
        try (Tensor q = tensor(rnd, DType.BF16, batch, seq, heads, dim);
             Tensor keys = tensor(rnd, DType.BF16, batch, n, dim);
             Tensor w = tensor(rnd, DType.BF16, batch, seq, heads);
             Tensor expected = Tensor.allocate(DType.F32, Shape.of(batch, seq, n));
             Tensor actual = Tensor.allocate(DType.F32, Shape.of(batch, seq, n))) {
            poison(expected);
            poison(actual);
            ref.indexerScores(q, keys, w, 0.125f, 4, startPos, expected);
            fast.indexerScores(q, keys, w, 0.125f, 4, startPos, actual);
            float[] e = expected.toFloatArray();
            int infinite = 0;
            for (float v : e) {
                infinite += v == Float.NEGATIVE_INFINITY ? 1 : 0;
            }
            assertTrue(infinite > 0 && infinite < e.length, "some entries are incomplete, not all");
            // keys in lanes, each lane in the reference's order: the same bits
            RowsTestTensors.assertSameBits(e, actual.toFloatArray(), "indexer scores");
        }
    }

    @Test
    void mixingLogitsFastPathMatchReferenceForOneAndSeveralTokens() {
        Random rnd = random("mHC mixes fast path");
        HyperConnectionKernels fast = FAST.hyperConnectionKernels().orElseThrow();
        HyperConnectionKernels ref = REFERENCE.hyperConnectionKernels().orElseThrow();
        // 4 streams of 37: 148 values, a vector tail; 24 logits as a sub-layer has
        for (int tokens : new int[] {1, 5}) {
            for (DType xType : new DType[] {DType.BF16, DType.F32}) {
                try (Tensor x = tensor(rnd, xType, tokens, 148);
                     Tensor fn = tensor(rnd, DType.F32, 24, 148);
                     Tensor expected = Tensor.allocate(DType.F32, Shape.of(tokens, 24));
                     Tensor actual = Tensor.allocate(DType.F32, Shape.of(tokens, 24))) {
                    poison(expected);
                    poison(actual);
                    ref.mixes(x, fn, 1e-6f, expected);
                    fast.mixes(x, fn, 1e-6f, actual);
                    // Both sum in f64; only the f32 rounding of the sum and of the product may differ.
                    assertClose(expected.toFloatArray(), actual.toFloatArray(), DType.F32, 1e-6,
                            "mixes of " + tokens + " tokens of " + xType);
                }
            }
        }
    }

    @Test
    void streamSumAndPostUpdateFastPathsGiveTheReferenceBits() {
        Random rnd = random("mHC sum and post fast paths");
        HyperConnectionKernels fast = FAST.hyperConnectionKernels().orElseThrow();
        HyperConnectionKernels ref = REFERENCE.hyperConnectionKernels().orElseThrow();
        int n = 4;
        int d = 37; // a vector tail
        for (int tokens : new int[] {1, 6}) {
            for (DType type : new DType[] {DType.BF16, DType.F32}) {
                String what = tokens + " tokens of " + type;
                try (Tensor x = tensor(rnd, type, tokens, n, d);
                     Tensor out = tensor(rnd, type, tokens, d);
                     Tensor pre = tensor(rnd, DType.F32, tokens, n);
                     Tensor post = tensor(rnd, DType.F32, tokens, n);
                     Tensor comb = tensor(rnd, DType.F32, tokens, n, n);
                     Tensor sumRef = Tensor.allocate(type, Shape.of(tokens, d));
                     Tensor sumFast = Tensor.allocate(type, Shape.of(tokens, d));
                     Tensor yRef = Tensor.allocate(type, Shape.of(tokens, n, d));
                     Tensor yFast = Tensor.allocate(type, Shape.of(tokens, n, d))) {
                    for (Tensor t : new Tensor[] {sumRef, sumFast, yRef, yFast}) {
                        poison(t);
                    }
                    ref.weightedSum(x, pre, sumRef);
                    fast.weightedSum(x, pre, sumFast);
                    RowsTestTensors.assertSameBits(sumRef.toFloatArray(), sumFast.toFloatArray(), "weighted sum, " + what);
                    ref.post(out, x, post, comb, yRef);
                    fast.post(out, x, post, comb, yFast);
                    RowsTestTensors.assertSameBits(yRef.toFloatArray(), yFast.toFloatArray(), "post, " + what);
                }
            }
        }
    }

    @Test
    void gateScoresFastPathMatchReference() {
        Random rnd = random("MoE gate scores fast path");
        MoeKernels fast = FAST.moeKernels().orElseThrow();
        MoeKernels ref = REFERENCE.moeKernels().orElseThrow();
        for (int tokens : new int[] {1, 3}) {
            try (Tensor x = tensor(rnd, DType.BF16, tokens, 264);
                 Tensor w = tensor(rnd, DType.BF16, 19, 264);
                 Tensor expected = Tensor.allocate(DType.F32, Shape.of(tokens, 19));
                 Tensor actual = Tensor.allocate(DType.F32, Shape.of(tokens, 19))) {
                poison(expected);
                poison(actual);
                ref.routerScores(x, w, expected);
                fast.routerScores(x, w, actual);
                // f32 sums of 264 terms against the reference's f64, through sqrt(softplus)
                assertClose(expected.toFloatArray(), actual.toFloatArray(), DType.F32, SUM_ORDER, "gate scores of " + tokens + " tokens");
            }
        }
    }

    // ---- helpers ----

    private static Tensor keep(List<Tensor> held, Tensor t) {
        held.add(t);
        return t;
    }

    /** Random non-zero values in ±[0.05, 1.5) rounded to dtype. */
    private static Tensor tensor(Random rnd, DType dtype, long... shape) {
        Shape s = Shape.of(shape);
        return Tensor.fromFloats(nonZeros(rnd, Math.toIntExact(s.numel()), 0.05f, 1.5f), dtype, s);
    }

    private static void poison(Tensor t) {
        float[] nan = new float[Math.toIntExact(t.numel())];
        Arrays.fill(nan, Float.NaN);
        t.copyFrom(nan);
    }

    /**
     * Equal within {@code rel} of the largest expected magnitude (a sum's error scales with its
     * terms, not with itself); BF16 outputs at most one BF16 step apart.
     */
    private static void assertClose(float[] expected, float[] actual, DType out, double rel, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = 0;
        for (float e : expected) {
            if (Float.isFinite(e)) {
                scale = Math.max(scale, Math.abs(e));
            }
        }
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i];
            float a = actual[i];
            if (Float.floatToIntBits(e) == Float.floatToIntBits(a)) {
                continue;
            }
            boolean ok = !Float.isNaN(e) && !Float.isNaN(a) && (out == DType.BF16
                    ? Math.abs((Float.floatToRawIntBits(e) >> 16) - (Float.floatToRawIntBits(a) >> 16)) <= 1
                    : Math.abs((double) a - e) <= rel * scale);
            if (!ok) {
                fail(what + ": element " + i + " expected " + e + ", got " + a + " (bound " + rel + " of " + scale + ")");
            }
        }
    }
}

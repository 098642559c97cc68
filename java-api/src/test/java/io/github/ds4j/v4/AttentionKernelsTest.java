package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.spi.AttentionKernels;
import io.github.ds4j.spi.AttentionKernels.Fp8KvLayout;
import io.github.ds4j.spi.AttentionKernels.KvRows;
import io.github.ds4j.v4.ref.AttentionFixtures;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.RefNumbers;
import io.github.ds4j.v4.ref.RefOps;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static io.github.ds4j.v4.LayerTests.CPU;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CPU attention kernels against their SPI contracts, computed independently in float64. */
class AttentionKernelsTest {
    static final AttentionKernels kernels = CPU.backend().attentionKernels().orElseThrow();

    @Test
    void sparseAttentionWithSinkMatchesFloat64OverMixedSourcesAndSkipsMinusOne() {
        long seed = 71;
        System.out.println("sparse attention: seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        int batch = 2;
        int seq = 3;
        int heads = 3;
        int hd = 96;
        int rd = 32;
        Fp8KvLayout layout = new Fp8KvLayout(hd, rd, 4);
        // Rows already on the FP8 grid of their 64-tiles, so the FP8 store keeps them exactly.
        double[][][] a = kvRows(rng, batch, 5, hd, rd);
        double[][][] f = kvRows(rng, batch, 7, hd, rd);
        double[][][] c = kvRows(rng, batch, 6, hd, rd);
        double[][][][] q = new double[batch][seq][heads][hd];
        for (double[][][] s : q) {
            for (double[][] t : s) {
                for (double[] h : t) {
                    for (int k = 0; k < hd; k++) {
                        h[k] = RefNumbers.bf16(rng.nextGaussian() * 0.3);
                    }
                }
            }
        }
        double[] sink = {0.5, -1.0, 3.0};
        // Rows 0..4: a; 5..11: f (FP8); 12..15: the first 4 rows of c.
        long[] list1 = {0, 3, -1, 7, 11, -1, 1, 2, 2, 12, 15, 5, -1, -1, -1, 4, 6, 8};
        long[] list2 = {13, -1, 10, 14, -1, 0, 9, 9, -1, -1, 0, 1};
        try (Tensor ta = tensor(a, DType.BF16);
             Tensor tcAll = tensor(c, DType.F32);
             Tensor fp8 = Tensor.allocate(DType.U8, Shape.of(batch, layout.bytes(7)));
             Tensor tf = tensor(f, DType.F32);
             Tensor tq = Tensor.fromFloats(flat(q), DType.BF16, Shape.of(batch, seq, heads, hd));
             Tensor tsink = Tensor.fromFloats(new float[] {0.5f, -1f, 3f}, DType.F32, Shape.of(heads));
             Tensor i1 = Tensor.fromLongs(list1, DType.I32, Shape.of(batch, seq, 3));
             Tensor i2 = Tensor.fromLongs(list2, DType.I32, Shape.of(batch, seq, 2));
             Tensor out = Tensor.allocate(DType.F32, Shape.of(batch, seq, heads, hd))) {
            AttentionFixtures.poison(fp8);
            AttentionFixtures.poison(out);
            KvRows fRows = KvRows.fp8(fp8, 7, layout);
            kernels.storeKv(tf, fRows, 0, 7);
            KvRows cRows = new KvRows(tcAll.slice(1, 0, 4), 4, null);
            float scale = 0.125f;
            kernels.sparseAttention(tq, List.of(KvRows.real(ta), fRows, cRows), List.of(i1, i2), tsink, scale, out);
            float[] got = out.toFloatArray();
            for (int b = 0; b < batch; b++) {
                for (int s = 0; s < seq; s++) {
                    java.util.List<double[]> rows = new java.util.ArrayList<>();
                    for (long j : new long[] {list1[(b * seq + s) * 3], list1[(b * seq + s) * 3 + 1], list1[(b * seq + s) * 3 + 2],
                            list2[(b * seq + s) * 2], list2[(b * seq + s) * 2 + 1]}) {
                        if (j >= 0) {
                            rows.add(j < 5 ? a[b][(int) j] : j < 12 ? f[b][(int) j - 5] : c[b][(int) j - 12]);
                        }
                    }
                    for (int h = 0; h < heads; h++) {
                        double[] expected = attend(q[b][s][h], rows, sink[h], scale);
                        double[] actual = new double[hd];
                        for (int k = 0; k < hd; k++) {
                            actual[k] = got[((b * seq + s) * heads + h) * hd + k];
                        }
                        double err = AttentionFixtures.relError(actual, expected);
                        assertTrue(err < 1e-5, "b " + b + ", s " + s + ", head " + h + ": relative error " + err);
                    }
                }
            }
            // Sequence 1, token 1 selects nothing: zeros, not NaN.
            for (int k = 0; k < heads * hd; k++) {
                assertEquals(0f, got[(1 * seq + 1) * heads * hd + k]);
            }
        }
    }

    @Test
    void fp8StoreWritesTheFlashMlaLayoutByteForByte() {
        Fp8KvLayout v4 = Fp8KvLayout.of(512, 64);
        assertEquals(576, v4.valueBytes());
        assertEquals(8, v4.scaleBytes());
        assertEquals(584, v4.tokenBytes());
        assertEquals(65 * 576, v4.pageBytes());

        long seed = 72;
        System.out.println("FP8 store layout: seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        int hd = 512;
        int rd = 64;
        int rows = 70;
        double[][][] v = new double[1][rows][hd];
        for (double[] row : v[0]) {
            for (int k = 0; k < hd; k++) {
                // Tiles of very different sizes, so each gets its own scale.
                row[k] = RefNumbers.bf16(rng.nextGaussian() * Math.scalb(1.0, k / 64 - 3));
            }
        }
        try (Tensor src = tensor(v, DType.BF16);
             Tensor bytes = Tensor.allocate(DType.U8, Shape.of(1, v4.bytes(rows)))) {
            AttentionFixtures.poison(bytes);
            kernels.storeKv(src, KvRows.fp8(bytes, rows, v4), 0, rows);
            byte[] raw = bytes.toByteArray();
            for (int r : new int[] {0, 1, 63, 64, 69}) {
                int page = r / 64;
                int slot = r % 64;
                int value = page * 65 * 576 + slot * 576;
                int scales = page * 65 * 576 + 64 * 576 + slot * 8;
                for (int t = 0; t < 7; t++) {
                    double amax = 1e-4;
                    for (int k = t * 64; k < t * 64 + 64; k++) {
                        amax = Math.max(amax, Math.abs(v[0][r][k]));
                    }
                    int e = RefNumbers.ceilLog2(amax / 448);
                    assertEquals(e + 127, raw[scales + t] & 0xFF, "row " + r + ", scale " + t);
                    for (int k = t * 64; k < t * 64 + 64; k++) {
                        double code = RefNumbers.decodeE4m3(raw[value + k]);
                        assertEquals(RefNumbers.e4m3(v[0][r][k] / Math.scalb(1.0, e)), code, "row " + r + ", value " + k);
                    }
                }
                assertEquals(0, raw[scales + 7], "row " + r + ": pad byte");
                for (int i = 0; i < rd; i++) {
                    int bits = (raw[value + 448 + 2 * i] & 0xFF) | (raw[value + 448 + 2 * i + 1] & 0xFF) << 8;
                    assertEquals((float) v[0][r][448 + i], Float.intBitsToFloat(bits << 16), "row " + r + ", rope " + i);
                }
            }
        }
    }

    @Test
    void storeWrapsAroundTheRingAndLeavesOtherSlotsAlone() {
        long seed = 73;
        System.out.println("ring store: seed " + seed);
        double[][][] v = kvRows(new SplittableRandom(seed), 2, 4, 96, 32);
        try (Tensor src = tensor(v, DType.BF16);
             Tensor ring = Tensor.allocate(DType.BF16, Shape.of(2, 5, 96))) {
            AttentionFixtures.poison(ring);
            kernels.storeKv(src, KvRows.real(ring), 8, 5);
            double[][] got = MoeFixtures.rows(ring);
            int[] slotOf = {3, 4, 0, 1};
            for (int b = 0; b < 2; b++) {
                for (int i = 0; i < 4; i++) {
                    for (int k = 0; k < 96; k++) {
                        assertEquals(v[b][i][k], got[b * 5 + slotOf[i]][k], "sequence " + b + ", row " + i);
                    }
                }
                assertTrue(Double.isNaN(got[b * 5 + 2][0]), "slot 2 was not written");
            }
        }
    }

    @Test
    void indexerScoresAreReluWeightedSumsAndHideIncompleteEntries() {
        long seed = 74;
        System.out.println("indexer scores: seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        int seq = 2;
        int heads = 2;
        int dim = 32;
        int n = 3;
        float[] q = gaussian(rng, seq * heads * dim);
        float[] k = gaussian(rng, n * dim);
        float[] w = gaussian(rng, seq * heads);
        try (Tensor tq = Tensor.fromFloats(q, DType.F32, Shape.of(1, seq, heads, dim));
             Tensor tk = Tensor.fromFloats(k, DType.F32, Shape.of(1, n, dim));
             Tensor tw = Tensor.fromFloats(w, DType.F32, Shape.of(1, seq, heads));
             Tensor scores = Tensor.allocate(DType.F32, Shape.of(1, seq, n))) {
            AttentionFixtures.poison(scores);
            // Queries at positions 6 and 7: 1 and 2 complete entries of ratio 4.
            kernels.indexerScores(tq, tk, tw, 0.5f, 4, 6, scores);
            float[] got = scores.toFloatArray();
            for (int s = 0; s < seq; s++) {
                int complete = (6 + s + 1) / 4;
                for (int j = 0; j < n; j++) {
                    if (j >= complete) {
                        assertEquals(Float.NEGATIVE_INFINITY, got[s * n + j], "token " + s + ", entry " + j + " is not complete");
                        continue;
                    }
                    double expected = 0;
                    for (int h = 0; h < heads; h++) {
                        double dot = 0;
                        for (int c = 0; c < dim; c++) {
                            dot += (double) q[(s * heads + h) * dim + c] * k[j * dim + c];
                        }
                        expected += Math.max(0, dot) * w[s * heads + h] * 0.5;
                    }
                    assertEquals(expected, got[s * n + j], 1e-5 * (1 + Math.abs(expected)), "token " + s + ", entry " + j);
                }
            }
        }
    }

    @Test
    void stridedRopeRotatesEachRowGroupAtItsOwnPosition() {
        long seed = 75;
        System.out.println("strided rope: seed " + seed);
        float[] x = gaussian(new SplittableRandom(seed), 3 * 2 * 8);
        RopeSpec spec = new RopeSpec(8, 160000, new RopeSpec.Yarn(16, 65536, 32, 1));
        double[] f = RefOps.frequencies(8, 160000, 16, 65536, 32, 1);
        try (Tensor t = Tensor.fromFloats(x, DType.F32, Shape.of(3, 2, 8));
             Tensor y = Tensor.allocate(DType.F32, Shape.of(3, 2, 8))) {
            AttentionFixtures.poison(y);
            kernels.rope(t, y, spec, 32, 16, false);
            float[] got = y.toFloatArray();
            for (int n = 0; n < 3; n++) {
                for (int r = 0; r < 2; r++) {
                    double[] row = new double[8];
                    for (int i = 0; i < 8; i++) {
                        row[i] = x[(n * 2 + r) * 8 + i];
                    }
                    RefOps.rope(row, 0, f, 32 + 16L * n, false);
                    for (int i = 0; i < 8; i++) {
                        assertEquals(row[i], got[(n * 2 + r) * 8 + i], 1e-5, "group " + n + ", row " + r + ", value " + i);
                    }
                }
            }
            kernels.rope(y, y, spec, 32, 16, true);
            float[] back = y.toFloatArray();
            for (int i = 0; i < x.length; i++) {
                assertEquals(x[i], back[i], 1e-5, "inverse rotation, value " + i);
            }
        }
    }

    // ---- helpers ----

    /** Random KV rows [B][n][hd]: nope dims on the FP8 grid of their 64-tiles, rope dims bf16. */
    static double[][][] kvRows(SplittableRandom rng, int batch, int n, int hd, int rd) {
        double[][][] v = new double[batch][n][hd];
        for (double[][] s : v) {
            for (double[] row : s) {
                for (int k = 0; k < hd; k++) {
                    row[k] = RefNumbers.bf16(rng.nextGaussian());
                }
                RefNumbers.fp8Simulate(row, 0, hd - rd, 64);
            }
        }
        return v;
    }

    static Tensor tensor(double[][][] v, DType dtype) {
        float[] f = new float[v.length * v[0].length * v[0][0].length];
        int at = 0;
        for (double[][] s : v) {
            for (double[] row : s) {
                for (double x : row) {
                    f[at++] = (float) x;
                }
            }
        }
        return Tensor.fromFloats(f, dtype, Shape.of(v.length, v[0].length, v[0][0].length));
    }

    static float[] flat(double[][][][] q) {
        java.util.List<Float> out = new java.util.ArrayList<>();
        for (double[][][] a : q) {
            for (double[][] b : a) {
                for (double[] c : b) {
                    for (double x : c) {
                        out.add((float) x);
                    }
                }
            }
        }
        float[] f = new float[out.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = out.get(i);
        }
        return f;
    }

    static float[] gaussian(SplittableRandom rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    /** softmax over the rows with the sink logit in the denominator only; K = V = the row. */
    static double[] attend(double[] q, List<double[]> rows, double sink, double scale) {
        double[] out = new double[q.length];
        if (rows.isEmpty()) {
            return out;
        }
        double[] s = new double[rows.size()];
        double m = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < s.length; j++) {
            double dot = 0;
            for (int k = 0; k < q.length; k++) {
                dot += q[k] * rows.get(j)[k];
            }
            s[j] = dot * scale;
            m = Math.max(m, s[j]);
        }
        double denom = Math.exp(sink - m);
        for (int j = 0; j < s.length; j++) {
            s[j] = Math.exp(s[j] - m);
            denom += s[j];
        }
        for (int j = 0; j < s.length; j++) {
            for (int k = 0; k < q.length; k++) {
                out[k] += s[j] / denom * rows.get(j)[k];
            }
        }
        return out;
    }
}

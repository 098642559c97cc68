package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.MoeKernels;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.RefNumbers;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The dispatch, gather, weighted SwiGLU and combine kernels against their contracts. */
class MoeDispatchTest {
    static final MoeKernels KERNELS = CpuBackend.shared().moeKernels().orElseThrow();
    static final int POISON = -12345;

    static Tensor poisonedInts(long... shape) {
        Shape s = Shape.of(shape);
        long[] v = new long[(int) s.numel()];
        Arrays.fill(v, POISON);
        return Tensor.fromLongs(v, DType.I32, s);
    }

    static int[] ints(Tensor t) {
        return Arrays.stream(t.toLongArray()).mapToInt(v -> (int) v).toArray();
    }

    /** Random routing: k distinct experts per token. */
    static int[] randomIndices(SplittableRandom rng, int tokens, int k, int experts) {
        int[] idx = new int[tokens * k];
        for (int t = 0; t < tokens; t++) {
            int[] pool = java.util.stream.IntStream.range(0, experts).toArray();
            for (int j = 0; j < k; j++) {
                int pick = j + rng.nextInt(experts - j);
                int tmp = pool[j];
                pool[j] = pool[pick];
                pool[pick] = tmp;
                idx[t * k + j] = pool[j];
            }
        }
        return idx;
    }

    record Dispatch(int[] counts, int[] offsets, int[] permutation, int[] rowOf) {
    }

    static Dispatch dispatch(int[] indices, int tokens, int k, int experts, int tile) {
        long cap = MoeKernels.dispatchCapacity((long) tokens * k, experts, tile);
        try (Tensor idx = Tensor.fromLongs(Arrays.stream(indices).asLongStream().toArray(), DType.I32, Shape.of(tokens, k));
             Tensor counts = poisonedInts(experts);
             Tensor offsets = poisonedInts(experts + 1);
             Tensor perm = poisonedInts(cap);
             Tensor rowOf = poisonedInts(tokens, k)) {
            KERNELS.dispatch(idx, tile, counts, offsets, perm, rowOf);
            return new Dispatch(ints(counts), ints(offsets), ints(perm), ints(rowOf));
        }
    }

    @Test
    void dispatchPlacesEveryPairOnceInItsExpertsGroupWithConsistentCountsOffsetsAndPadding() {
        for (long seed = 201; seed < 209; seed++) {
            System.out.println("MoeDispatchTest seed " + seed);
            SplittableRandom rng = new SplittableRandom(seed);
            int experts = 1 + rng.nextInt(12);
            int k = 1 + rng.nextInt(Math.min(experts, 4));
            int tokens = 1 + rng.nextInt(40);
            for (int tile : new int[] {1, 3, 8}) {
                int[] idx = randomIndices(rng, tokens, k, experts);
                Dispatch d = dispatch(idx, tokens, k, experts, tile);
                int[] expectedCounts = new int[experts];
                for (int e : idx) {
                    expectedCounts[e]++;
                }
                assertArrayEquals(expectedCounts, d.counts());
                assertEquals(0, d.offsets()[0]);
                for (int e = 0; e < experts; e++) {
                    int size = d.offsets()[e + 1] - d.offsets()[e];
                    assertEquals((expectedCounts[e] + tile - 1) / tile * tile, size, "group size of expert " + e);
                }
                int[] seen = new int[tokens * k];
                for (int e = 0; e < experts; e++) {
                    int last = -1;
                    for (int r = d.offsets()[e]; r < d.offsets()[e + 1]; r++) {
                        int p = d.permutation()[r];
                        if (r < d.offsets()[e] + expectedCounts[e]) {
                            assertEquals(e, idx[p], "row " + r + " holds a pair of another expert");
                            assertTrue(p > last, "pairs of a group must be in ascending order");
                            last = p;
                            seen[p]++;
                            assertEquals(r, d.rowOf()[p], "rowOf of pair " + p);
                        } else {
                            assertEquals(-1, p, "padding row " + r);
                        }
                    }
                }
                for (int r = d.offsets()[experts]; r < d.permutation().length; r++) {
                    assertEquals(-1, d.permutation()[r], "unused row " + r);
                }
                for (int p = 0; p < seen.length; p++) {
                    assertEquals(1, seen[p], "pair " + p + " dispatched " + seen[p] + " times");
                }
            }
        }
    }

    @Test
    void gatherRowsCopiesTheTokenOfEachPairAndZeroesPadding() {
        long seed = 211;
        System.out.println("MoeDispatchTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        int tokens = 9;
        int k = 2;
        int[] idx = randomIndices(rng, tokens, k, 5);
        Dispatch d = dispatch(idx, tokens, k, 5, 4);
        int rows = d.offsets()[5];
        for (DType dtype : new DType[] {DType.BF16, DType.F32, DType.F8_E4M3}) {
            try (Tensor src = MoeFixtures.randomTensor(rng, dtype, Shape.of(tokens, 6), 1.0);
                 Tensor perm = Tensor.fromLongs(Arrays.stream(d.permutation(), 0, rows).asLongStream().toArray(), DType.I32, Shape.of(rows));
                 Tensor dst = MoeFixtures.randomTensor(rng, dtype, Shape.of(rows, 6), 100.0)) {
                KERNELS.gatherRows(src, perm, k, dst);
                double[][] s = MoeFixtures.rows(src);
                double[][] g = MoeFixtures.rows(dst);
                for (int r = 0; r < rows; r++) {
                    int p = d.permutation()[r];
                    assertArrayEquals(p < 0 ? new double[6] : s[p / k], g[r], dtype + " row " + r);
                }
            }
        }
    }

    @Test
    void weightedSwigluScalesEachRowByItsPairsWeightBeforeRounding() {
        long seed = 221;
        System.out.println("MoeDispatchTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        int tokens = 6;
        int k = 2;
        int f = 10;
        int[] idx = randomIndices(rng, tokens, k, 4);
        Dispatch d = dispatch(idx, tokens, k, 4, 2);
        int rows = d.offsets()[4];
        float limit = 3f;
        try (Tensor g = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(rows, f), 4.0);
             Tensor u = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(rows, f), 4.0);
             Tensor w = MoeFixtures.randomTensor(rng, DType.F32, Shape.of(tokens, k), 1.0);
             Tensor perm = Tensor.fromLongs(Arrays.stream(d.permutation(), 0, rows).asLongStream().toArray(), DType.I32, Shape.of(rows));
             Tensor h = Tensor.fromFloats(RouterTest.nan(rows * f), DType.BF16, Shape.of(rows, f))) {
            KERNELS.weightedSwiglu(g, u, limit, w, perm, h);
            double[][] gs = MoeFixtures.rows(g);
            double[][] us = MoeFixtures.rows(u);
            float[] ws = w.toFloatArray();
            double[][] got = MoeFixtures.rows(h);
            int clamped = 0;
            for (int r = 0; r < rows; r++) {
                int p = d.permutation()[r];
                for (int c = 0; c < f; c++) {
                    double expected = 0;
                    if (p >= 0) {
                        double gv = Math.min(gs[r][c], limit);
                        double uv = Math.max(-limit, Math.min(limit, us[r][c]));
                        clamped += gv != gs[r][c] || uv != us[r][c] ? 1 : 0;
                        expected = RefNumbers.bf16(ws[p] * (gv / (1 + Math.exp(-gv)) * uv));
                    }
                    assertEquals(expected, got[r][c], Math.abs(expected) * 0x1p-8 + 1e-30, "h[" + r + "][" + c + "]");
                }
            }
            assertTrue(clamped > rows, "inputs should hit the clamp");
        }
    }

    @Test
    void combineIsIndependentOfTheDispatchLayout() {
        for (long seed = 231; seed < 234; seed++) {
            System.out.println("MoeDispatchTest seed " + seed);
            SplittableRandom rng = new SplittableRandom(seed);
            int tokens = 7;
            int k = 3;
            int d = 16;
            int[] idx = randomIndices(rng, tokens, k, 6);
            // every pair's expert output, in pair order
            float[] pairOut = MoeFixtures.gaussian(rng, tokens * k * d, 1.0);
            Dispatch a = dispatch(idx, tokens, k, 6, 1);
            Dispatch b = dispatch(idx, tokens, k, 6, 5);
            // layout c: the rows of layout a shuffled
            int rows = tokens * k;
            int[] shuffle = java.util.stream.IntStream.range(0, rows).toArray();
            for (int i = rows - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1);
                int t = shuffle[i];
                shuffle[i] = shuffle[j];
                shuffle[j] = t;
            }
            int[] rowOfC = new int[rows];
            for (int p = 0; p < rows; p++) {
                rowOfC[p] = shuffle[a.rowOf()[p]];
            }
            float[] shared = MoeFixtures.gaussian(rng, tokens * d, 1.0);
            float[] ya = combine(idx, a.rowOf(), a.offsets()[6], pairOut, shared, tokens, k, d);
            float[] yb = combine(idx, b.rowOf(), b.offsets()[6], pairOut, shared, tokens, k, d);
            float[] yc = combine(idx, rowOfC, rows, pairOut, shared, tokens, k, d);
            assertArrayEquals(ya, yb);
            assertArrayEquals(ya, yc);
            for (int t = 0; t < tokens; t++) {
                for (int c = 0; c < d; c++) {
                    double sum = shared[t * d + c];
                    for (int j = 0; j < k; j++) {
                        sum += pairOut[(t * k + j) * d + c];
                    }
                    assertEquals(sum, ya[t * d + c], 1e-5 * (1 + Math.abs(sum)));
                }
            }
        }
    }

    /** Writes each pair's output at its row (poison elsewhere) and combines to F32. */
    static float[] combine(int[] idx, int[] rowOf, int rows, float[] pairOut, float[] shared, int tokens, int k, int d) {
        float[] laid = new float[rows * d];
        Arrays.fill(laid, Float.NaN);
        for (int p = 0; p < tokens * k; p++) {
            System.arraycopy(pairOut, p * d, laid, rowOf[p] * d, d);
        }
        try (Tensor out = Tensor.fromFloats(laid, DType.F32, Shape.of(rows, d));
             Tensor indices = Tensor.fromLongs(Arrays.stream(idx).asLongStream().toArray(), DType.I32, Shape.of(tokens, k));
             Tensor rowsOf = Tensor.fromLongs(Arrays.stream(rowOf).asLongStream().toArray(), DType.I32, Shape.of(tokens, k));
             Tensor sh = shared == null ? null : Tensor.fromFloats(shared, DType.F32, Shape.of(tokens, d));
             Tensor y = Tensor.fromFloats(RouterTest.nan(tokens * d), DType.F32, Shape.of(tokens, d))) {
            KERNELS.combine(out, indices, rowsOf, sh, y);
            return y.toFloatArray();
        }
    }

    @Test
    void combineAddsInAscendingExpertOrderThenTheSharedRow() {
        // f32 addition is not associative: with 1e8 around, a 1 or 0.5 survives only when added
        // after the big terms cancel. Pair order (7, 1, 4) would give 1 + 1e8 - 1e8 = 0.
        int[] idx = {7, 1, 4};
        float[] pairOut = {1f, 1e8f, -1e8f};
        float[] y = combine(idx, new int[] {2, 0, 1}, 3, pairOut, new float[] {0.5f}, 1, 3, 1);
        assertArrayEquals(new float[] {1.5f}, y, "experts 1, 4, 7 in that order, then the shared row");
        float[] withoutShared = combine(idx, new int[] {0, 1, 2}, 3, pairOut, null, 1, 3, 1);
        assertArrayEquals(new float[] {1f}, withoutShared);
    }
}

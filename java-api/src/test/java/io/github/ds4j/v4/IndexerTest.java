package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.ref.MapSource;
import io.github.ds4j.spi.AttentionKernels;
import io.github.ds4j.v4.ref.AttentionFixtures;
import io.github.ds4j.v4.ref.RefAttention;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static io.github.ds4j.v4.LayerTests.CPU;
import static io.github.ds4j.v4.LayerTests.TINY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CSA indexer (spec §3.2) against the float64 reference: visibility, -1 padding, top-k choice. */
class IndexerTest {
    static final int LAYER = 1;
    /**
     * A selected entry may rank below the reference's k-th best by at most this much (relative to
     * the largest score): FP4 simulation flips between f32 and f64 move scores by about this.
     */
    static final double REGRET_TOLERANCE = 2e-2;

    @Test
    void topKPicksTheBestCompleteEntriesAndPadsWithMinusOne() {
        int batch = 2;
        int seq = 46;
        int offset = 1000;
        double worstRegret = 0;
        int differentChoices = 0;
        int choices = 0;
        for (long seed : new long[] {31, 32, 33, 34, 35, 36}) {
            System.out.println("indexer top-k vs float64 reference: seed " + seed);
            double[][][] x = AttentionFixtures.randomInput(seed, batch, seq, TINY.hiddenSize());
            try (MapSource w = MapSource.attention(TINY, LAYER, seed);
                 AttentionWeightSet set = new AttentionWeightSet(CPU, TINY, LAYER, w);
                 KvCache cache = KvCache.create(CPU, TINY, LAYER, batch, seq, KvCache.Format.BF16)) {
                AttentionKernels kernels = CPU.backend().attentionKernels().orElseThrow();
                Indexer indexer = Indexer.load(CPU, kernels, TINY, set, "layers.1.attn.indexer.", TINY.ropeFor(LAYER));
                RefAttention ref = new RefAttention(TINY, LAYER, w.tensors());
                double[][][] qr = new double[batch][seq][];
                double[][][] keys = new double[batch][][];
                for (int b = 0; b < batch; b++) {
                    for (int t = 0; t < seq; t++) {
                        qr[b][t] = ref.queryLatent(x[b][t]);
                    }
                    keys[b] = ref.indexCompressor().entries(x[b]);
                }
                AttentionTest.poison(cache);
                int start = 0;
                for (int n : new int[] {3, 10, 1, 1, 1, 1, 19, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) {
                    try (Tensor xs = AttentionFixtures.tokens(x, start, start + n, DType.BF16);
                         Tensor qs = AttentionFixtures.tokens(qr, start, start + n, DType.BF16);
                         Tensor sel = indexer.select(xs.reshape((long) batch * n, TINY.hiddenSize()),
                                 qs.reshape((long) batch * n, TINY.qLoraRank()), batch, n, start, cache, offset)) {
                        int end = start + n;
                        if (end / 4 == 0) {
                            assertNull(sel, "no entry is complete before position 3");
                        } else {
                            assertEquals(Math.min(TINY.indexTopK(), end / 4), sel.dim(2));
                            long[] got = sel.toLongArray();
                            int k = Math.toIntExact(sel.dim(2));
                            for (int b = 0; b < batch; b++) {
                                for (int i = 0; i < n; i++) {
                                    int t = start + i;
                                    double[] scores = ref.indexScores(x[b][t], qr[b][t], t, keys[b]);
                                    long[] row = Arrays.copyOfRange(got, (b * n + i) * k, (b * n + i + 1) * k);
                                    int valid = Math.min(k, (t + 1) / 4);
                                    double regret = checkSelection(row, valid, offset, scores, "seed " + seed + ", sequence " + b + ", token " + t);
                                    worstRegret = Math.max(worstRegret, regret);
                                    choices++;
                                    if (regret > 0) {
                                        differentChoices++;
                                    }
                                }
                            }
                        }
                    }
                    start += n;
                }
            }
        }
        System.out.printf("  worst regret %.2e; %d of %d choices differ from the reference's%n", worstRegret, differentChoices, choices);
        assertTrue(differentChoices <= choices / 20, differentChoices + " of " + choices + " choices differ from the reference's");
    }

    /**
     * Checks one token's selection: the first {@code valid} slots hold distinct complete entries
     * (+offset) in descending reference score (within tolerance), the rest −1, and no unselected
     * complete entry beats a selected one by more than the tolerance. Returns the regret.
     */
    static double checkSelection(long[] row, int valid, int offset, double[] scores, String where) {
        double max = 0;
        for (double s : scores) {
            max = Math.max(max, Math.abs(s));
        }
        double tol = REGRET_TOLERANCE * max;
        boolean[] chosen = new boolean[scores.length];
        double worstChosen = Double.POSITIVE_INFINITY;
        for (int i = 0; i < row.length; i++) {
            if (i >= valid) {
                assertEquals(-1, row[i], where + ": slot " + i + " beyond the " + valid + " complete entries");
                continue;
            }
            long j = row[i] - offset;
            assertTrue(j >= 0 && j < scores.length, where + ": slot " + i + " selects entry " + j + " of " + scores.length + " complete");
            assertTrue(!chosen[(int) j], where + ": entry " + j + " selected twice");
            chosen[(int) j] = true;
            if (i > 0) {
                double prev = scores[(int) (row[i - 1] - offset)];
                assertTrue(scores[(int) j] <= prev + tol, where + ": slot " + i + " is not in descending order");
            }
            worstChosen = Math.min(worstChosen, scores[(int) j]);
        }
        double bestLeft = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < scores.length; j++) {
            if (!chosen[j]) {
                bestLeft = Math.max(bestLeft, scores[j]);
            }
        }
        double regret = Math.max(0, bestLeft - worstChosen);
        assertTrue(regret <= tol, where + ": an unselected entry beats a selected one by " + regret + " (scores " + Arrays.toString(scores)
                + ", selected " + Arrays.toString(row) + ")");
        return regret / Math.max(max, 1e-300);
    }

    @Test
    void scoresHideIncompleteEntriesAndTopKPadsWithMinusOne() {
        // Kernel-level: 1 sequence, 3 queries at positions 6..8, 3 entries available.
        AttentionKernels kernels = CPU.backend().attentionKernels().orElseThrow();
        float[] s = {5, 1, 3, Float.NaN, 4, 9, 4, 4, 1};
        try (Tensor scores = Tensor.fromFloats(s, DType.F32, Shape.of(1, 3, 3));
             Tensor idx = Tensor.fromLongs(new long[] {77, 77, 77, 77, 77, 77}, DType.I32, Shape.of(1, 3, 2))) {
            kernels.indexerTopK(scores, 4, 6, 10, idx);
            // Position 6 sees 1 complete entry; 7 sees 2 (NaN ranks last, entry 2's 9 is hidden);
            // 8 sees 2 that tie, the lower index first.
            assertEquals(Arrays.toString(new long[] {10, -1, 11, 10, 10, 11}), Arrays.toString(idx.toLongArray()));
        }
    }
}

package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointGenerator;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.v4.ref.AttentionFixtures;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.HcReference;
import io.github.ds4j.v4.ref.RefBlock;
import io.github.ds4j.v4.ref.RefNumbers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static io.github.ds4j.v4.LayerTests.CPU;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The V4 block (mHC → attention → mHC → MoE → mHC) on the CPU against {@link RefBlock}, the float64
 * composition of the attention, MoE and mHC references, on {@link V4Config#tiny()} checkpoints
 * written by {@link CheckpointGenerator}: layer 0 (window only, hash-routed), 1 and 3 (CSA), 2 (HCA).
 */
class BlockTest {
    /** The tiny preset as make-checkpoint writes it: 4 layers, no MTP block. */
    static final V4Config TINY = CheckpointGenerator.withLayers(V4Config.tiny(), 4);
    static final long[] SEEDS = {31, 32, 33};
    /**
     * Relative L2 error of one token's streams [hc*D]. Most tokens agree to a few bf16 ulps; a few
     * differ by some percent where a one-ulp difference crosses an FP8 quantization step (KV rows,
     * the activations before wo_b and before the expert GEMMs) and the MoE amplifies it.
     */
    static final double TOKEN_TOLERANCE = 8e-2;
    /**
     * Mean over all tokens of a run. Flips are rare, but one flipped FP8 step in one KV row reaches
     * every token whose window holds that row (up to 16 of a run's 37-50 tokens, at 1-4% each):
     * over 48 seeded runs the means were mostly below 2e-3, with a few flipped runs up to 1.3e-2.
     * A wrong formula gives errors of order one.
     */
    static final double MEAN_TOLERANCE = 1.5e-2;
    static final double TIE_TOLERANCE = 2e-2;
    /** Attention begun at another position: every token differs by rounding (observed: ~1%). */
    static final double SHIFT_TOKEN_TOLERANCE = 5e-2;
    static final double SHIFT_MEAN_TOLERANCE = 2.5e-2;

    @TempDir
    static Path dir;
    static final Map<Long, Checkpoint> CHECKPOINTS = new HashMap<>();

    @AfterAll
    static void close() {
        CHECKPOINTS.values().forEach(Checkpoint::close);
    }

    /** A tiny checkpoint of seed {@code seed}, written once. */
    static Checkpoint checkpoint(long seed) {
        return CHECKPOINTS.computeIfAbsent(seed, s -> {
            Path p = dir.resolve("tiny-" + s);
            new CheckpointGenerator(TINY, s, null).write(p);
            return Checkpoint.open(p, null);
        });
    }

    @Test
    void blockMatchesFloat64ReferenceOverPrefillThenDecodeOnEveryLayerKind() {
        for (long seed : SEEDS) {
            for (int layer = 0; layer < TINY.numLayers(); layer++) {
                // 50 tokens: the 16-slot window wraps, CSA has 12 entries for its top-4, HCA 3 entries;
                // a prefill of 41 then 9 single-token decode steps.
                assertMatchesReference(seed, layer, 2, 50, KvCache.Format.BF16, 41, 1, 1, 1, 1, 1, 1, 1, 1, 1);
            }
        }
    }

    @Test
    void chunkedPrefillAndFp8CacheMatchReference() {
        for (int layer = 0; layer < 3; layer++) {
            assertMatchesReference(40 + layer, layer, 1, 37, KvCache.Format.FP8, 13, 7, 1, 15, 1);
        }
    }

    @Test
    void decodeEqualsPrefillWithinRounding() {
        for (int layer = 0; layer < TINY.numLayers(); layer++) {
            long seed = 50 + layer;
            System.out.println("block decode vs prefill: layer " + layer + ", seed " + seed);
            Inputs in = Inputs.random(seed, 2, 36);
            try (Block block = load(checkpoint(SEEDS[0]), layer)) {
                double[][] prefill = run(block, in, KvCache.Format.BF16, 36);
                double[][] decode = run(block, in, KvCache.Format.BF16, 20, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
                AttentionTest.assertDecodeMatchesPrefill(decode, prefill, TOKEN_TOLERANCE, "block layer " + layer);
            }
        }
    }

    @Test
    void fp8CacheGivesTheBf16CacheResultWithinFp8Tolerance() {
        for (int layer = 0; layer < TINY.numLayers(); layer++) {
            long seed = 60 + layer;
            System.out.println("block FP8 vs bf16 cache: layer " + layer + ", seed " + seed);
            Inputs in = Inputs.random(seed, 1, 40);
            try (Block block = load(checkpoint(SEEDS[1]), layer)) {
                double[][] bf16 = run(block, in, KvCache.Format.BF16, 30, 1, 1, 1, 1, 1, 5);
                double[][] fp8 = run(block, in, KvCache.Format.FP8, 30, 1, 1, 1, 1, 1, 5);
                for (int i = 0; i < bf16.length; i++) {
                    double err = AttentionFixtures.relError(fp8[i], bf16[i]);
                    assertTrue(err <= 1e-3, "layer " + layer + ", token row " + i + ": FP8 cache differs by " + err);
                }
            }
        }
    }

    @Test
    void streamsKeepTheirShapeAndDtypeAndRankThreeIsOneSequence() {
        Inputs in = Inputs.random(70, 1, 9);
        try (Block block = load(checkpoint(SEEDS[0]), 1);
             KvCache a = block.newCache(1, 9, KvCache.Format.BF16);
             KvCache b = block.newCache(1, 9, KvCache.Format.BF16);
             Tensor x = in.streams(0, 9);
             Tensor ids = in.ids(0, 9);
             Tensor y = block.forward(x, ids, a);
             Tensor x3 = x.reshape(9, TINY.hcMult(), TINY.hiddenSize());
             Tensor y3 = block.forward(x3, ids.reshape(9), b)) {
            assertEquals(Shape.of(1, 9, TINY.hcMult(), TINY.hiddenSize()), y.shape());
            assertEquals(DType.BF16, y.dtype());
            assertEquals(x3.shape(), y3.shape());
            assertArrayEquals(y.toFloatArray(), y3.toFloatArray());
            assertEquals(9, a.position());
            assertTrue(block.timings().calls() >= 2 && block.timings().attentionNanos() > 0 && block.timings().moeNanos() > 0
                    && block.timings().mixingNanos() > 0, "every part is timed");
        }
    }

    @Test
    void hashLayerWithoutIdsAndWrongStreamsAreRejectedBeforeTheCacheAdvances() {
        Inputs in = Inputs.random(71, 2, 5);
        try (Block block = load(checkpoint(SEEDS[0]), 0);
             KvCache cache = block.newCache(2, 16, KvCache.Format.BF16);
             Tensor x = in.streams(0, 5);
             Tensor ids = in.ids(0, 5);
             Tensor narrow = Tensor.fromFloats(new float[2 * 5 * 3 * 256], DType.BF16, Shape.of(2, 5, 3, 256))) {
            assertTrue(block.moe().isHashRouted());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> block.forward(x, null, cache));
            assertEquals("inputIds: layer 0 routes by token id (tid2eid) and needs the input ids", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> block.forward(x, ids.slice(1, 0, 4), cache));
            assertTrue(e.getMessage().startsWith("inputIds: expected one id per token (10"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> block.forward(narrow, ids, cache));
            assertTrue(e.getMessage().startsWith("x: expected the residual stream [*, 4, 256]"), e.getMessage());
            assertEquals(0, cache.position());
        }
    }

    @Test
    void cacheStartedAtALaterPositionNeverReadsTheAbsentPositions() {
        // A poisoned (NaN) cache begun at P: any read of a position before P shows as NaN. P is
        // not a multiple of 4 or 16, so the first compressed entry pools a partial block.
        for (int layer = 0; layer < TINY.numLayers(); layer++) {
            for (long p : new long[] {5, 37}) {
                Inputs in = Inputs.random(80 + layer, 2, 30);
                try (Block block = load(checkpoint(SEEDS[2]), layer);
                     KvCache cache = block.newCache(2, p + 30, KvCache.Format.BF16)) {
                    AttentionTest.poison(cache);
                    cache.startAt(p);
                    assertEquals(p, cache.origin());
                    for (int[] chunk : new int[][] {{0, 22}, {22, 23}, {23, 30}}) {
                        try (Tensor x = in.streams(chunk[0], chunk[1]);
                             Tensor ids = in.ids(chunk[0], chunk[1]);
                             Tensor y = block.forward(x, ids, cache)) {
                            for (float v : y.toFloatArray()) {
                                assertTrue(Float.isFinite(v), "layer " + layer + ", start " + p + ": non-finite output " + v);
                            }
                        }
                    }
                    assertEquals(p + 30, cache.position());
                }
            }
        }
    }

    @Test
    void attentionBegunLaterByAMultipleOfEveryRatioGivesTheSameResultUpToRounding() {
        // RoPE makes attention depend on position differences only, so moving a sequence by a
        // multiple of every compression ratio (its compressed blocks then line up alike) changes
        // the result only through the bf16 rounding of rotated values, which the FP8 quantization
        // before wo_b turns into about 1% per token. From 0 to 64 the blocks are whole; from 5 to
        // 37 the first block of each ratio is partial in both. 18 tokens keep the CSA layers at or
        // under their top-4 entries from every start, so the indexer's ranking cannot matter.
        for (long[] starts : new long[][] {{0, 64}, {5, 37}}) {
            for (int layer = 0; layer < TINY.numLayers(); layer++) {
                long seed = 90 + layer;
                double[][][] x = AttentionFixtures.randomInput(seed, 2, 18, TINY.hiddenSize());
                try (Block block = load(checkpoint(SEEDS[1]), layer)) {
                    double[][] a = runAttention(starts[0], block.attention(), x, 12, 1, 5);
                    double[][] b = runAttention(starts[1], block.attention(), x, 12, 1, 5);
                    double worst = 0;
                    double sum = 0;
                    for (int i = 0; i < a.length; i++) {
                        double err = AttentionFixtures.relError(b[i], a[i]);
                        worst = Math.max(worst, err);
                        sum += err;
                        assertTrue(err <= SHIFT_TOKEN_TOLERANCE, "layer " + layer + ", row " + i + ": the result begun at "
                                + starts[1] + " differs from that begun at " + starts[0] + " by " + err);
                    }
                    System.out.printf("attention begun at %d vs %d: layer %d, seed %d: worst token difference %.2e, mean %.2e%n",
                            starts[1], starts[0], layer, seed, worst, sum / a.length);
                    assertTrue(sum / a.length <= SHIFT_MEAN_TOLERANCE, "layer " + layer + ": mean difference " + sum / a.length);
                }
            }
        }
    }

    @Test
    void aPartialFirstBlockPoolsOnlyThePositionsTheCacheHolds() {
        // Begun at 5, block 1 of ratio 4 holds 5..7 and block 0 of ratio 16 holds 5..15: the same
        // tokens begun at 0 pool other groups, so the results must differ far beyond rounding.
        // Guards against a compressor that ignores the cache's origin.
        for (int layer : new int[] {1, 2}) {
            double[][][] x = AttentionFixtures.randomInput(95 + layer, 1, 18, TINY.hiddenSize());
            try (Block block = load(checkpoint(SEEDS[1]), layer)) {
                double[][] at5 = runAttention(5, block.attention(), x, 18);
                double[][] at0 = runAttention(0, block.attention(), x, 18);
                double worst = 0;
                for (int i = 0; i < at5.length; i++) {
                    worst = Math.max(worst, AttentionFixtures.relError(at5[i], at0[i]));
                }
                System.out.printf("attention begun at 5 vs 0: layer %d: worst token difference %.2e%n", layer, worst);
                assertTrue(worst > 4 * SHIFT_TOKEN_TOLERANCE, "layer " + layer + ": worst token difference " + worst);
            }
        }
    }

    // ---- helpers ----

    /** Random bf16 streams [B][T][hc][D] of unit variance and token ids [B][T]. */
    record Inputs(double[][][][] x, long[][] ids) {
        static Inputs random(long seed, int batch, int seq) {
            SplittableRandom rng = new SplittableRandom(seed);
            double[][][][] x = new double[batch][seq][TINY.hcMult()][TINY.hiddenSize()];
            long[][] ids = new long[batch][seq];
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < seq; t++) {
                    ids[b][t] = rng.nextInt(TINY.vocabSize());
                    for (double[] stream : x[b][t]) {
                        for (int i = 0; i < stream.length; i++) {
                            stream[i] = RefNumbers.bf16(rng.nextGaussian());
                        }
                    }
                }
            }
            return new Inputs(x, ids);
        }

        int batch() {
            return x.length;
        }

        int seq() {
            return x[0].length;
        }

        /** Tokens from..to as BF16 [B, to-from, hc, D]. */
        Tensor streams(int from, int to) {
            int n = TINY.hcMult();
            int d = TINY.hiddenSize();
            float[] v = new float[batch() * (to - from) * n * d];
            int at = 0;
            for (double[][][] s : x) {
                for (int t = from; t < to; t++) {
                    for (double[] stream : s[t]) {
                        for (double e : stream) {
                            v[at++] = (float) e;
                        }
                    }
                }
            }
            return Tensor.fromFloats(v, DType.BF16, Shape.of(batch(), to - from, n, d));
        }

        /** Ids from..to as I64 [B, to-from]. */
        Tensor ids(int from, int to) {
            long[] v = new long[batch() * (to - from)];
            for (int b = 0; b < batch(); b++) {
                System.arraycopy(ids[b], from, v, b * (to - from), to - from);
            }
            return Tensor.fromLongs(v, DType.I64, Shape.of(batch(), to - from));
        }
    }

    static Block load(Checkpoint ckpt, int layer) {
        return Block.load(CPU, ckpt.config(), layer, ckpt.layer(layer, Checkpoint.Part.BLOCK));
    }

    static void assertMatchesReference(long seed, int layer, int batch, int seq, KvCache.Format format, int... chunks) {
        System.out.println("block vs float64 reference: layer " + layer + " (ratio " + TINY.compressRatio(layer) + (TINY.isHashLayer(layer)
                ? ", hash" : ", biased") + "), seed " + seed + ", batch " + batch + ", " + seq + " tokens in chunks "
                + Arrays.toString(chunks) + ", " + format);
        Checkpoint ckpt = checkpoint(seed);
        Inputs in = Inputs.random(seed * 7 + layer, batch, seq);
        try (Block block = load(ckpt, layer)) {
            double[][] got = run(block, in, format, chunks);
            Map<String, Tensor> weights = new HashMap<>();
            TensorSource src = ckpt.layer(layer, Checkpoint.Part.BLOCK);
            for (CheckpointLayout.Entry e : new CheckpointLayout(ckpt.config()).block(layer)) {
                weights.put(e.name(), src.tensor(e.name()));
            }
            RefBlock ref = new RefBlock(TINY, layer, weights);
            double[][] attnIn = attentionInput(ckpt, layer, in);
            double worst = 0;
            double sum = 0;
            int ties = 0;
            for (int b = 0; b < batch; b++) {
                double[][][] xs = in.x()[b];
                double[][] mine = Arrays.copyOfRange(attnIn, b * seq, (b + 1) * seq);
                double[][] theirs = ref.attentionInput(xs);
                for (int t = 0; t < seq; t++) {
                    double rms = Math.sqrt(Arrays.stream(theirs[t]).map(v -> v * v).average().orElse(0));
                    for (int i = 0; i < theirs[t].length; i++) {
                        // Two bf16 steps at most: the stream sum and the normed value each round once,
                        // and an f32 sum may land on the other side of a rounding midpoint; plus f32
                        // noise where the weighted sum of the streams nearly cancels.
                        assertTrue(Math.abs(mine[t][i] - theirs[t][i]) <= 0x1p-6 * Math.abs(theirs[t][i]) + 1e-5 * rms,
                                "attention input of sequence " + b + ", token " + t + ", element " + i + ": " + mine[t][i]
                                        + " vs reference " + theirs[t][i]);
                    }
                }
                RefBlock.Result r = ref.run(xs, in.ids()[b], TIE_TOLERANCE, mine);
                for (int t = 0; t < seq; t++) {
                    double err = Double.POSITIVE_INFINITY;
                    for (double[][] alt : r.alternatives().get(t)) {
                        err = Math.min(err, AttentionFixtures.relError(got[b * seq + t], HcReference.flat(alt)));
                    }
                    ties += r.ambiguous(t) ? 1 : 0;
                    worst = Math.max(worst, err);
                    sum += err;
                    assertTrue(err < TOKEN_TOLERANCE, "layer " + layer + ", seed " + seed + ", sequence " + b + ", token " + t
                            + ": relative error " + err);
                }
            }
            double mean = sum / (batch * seq);
            System.out.printf("  worst token error %.2e, mean %.2e, %d tokens with tied indexer choices%n", worst, mean, ties);
            assertTrue(mean < MEAN_TOLERANCE, "mean relative error " + mean);
        }
    }

    /** The layer's own mHC pre output (the attention input) for every token, [B*T][D]. */
    static double[][] attentionInput(Checkpoint ckpt, int layer, Inputs in) {
        HyperConnections hc = HyperConnections.load(CPU, TINY, layer, HyperConnections.Site.ATTENTION,
                ckpt.layer(layer, Checkpoint.Part.BLOCK));
        try (Tensor x = in.streams(0, in.seq());
             HyperConnections.Pre pre = hc.pre(x)) {
            return MoeFixtures.rows(pre.input());
        }
    }

    /** Output rows [B*T][hc*D] of the block fed in chunks from a fresh poisoned cache begun at {@code start}. */
    static double[][] runFrom(long start, Block block, Inputs in, KvCache.Format format, int... chunks) {
        int batch = in.batch();
        int seq = in.seq();
        double[][] out = new double[batch * seq][];
        try (KvCache cache = block.newCache(batch, start + seq, format)) {
            AttentionTest.poison(cache);
            cache.startAt(start);
            int at = 0;
            for (int n : chunks) {
                try (Tensor x = in.streams(at, at + n);
                     Tensor ids = in.ids(at, at + n);
                     Tensor y = block.forward(x, ids, cache)) {
                    assertEquals(x.shape(), y.shape());
                    float[] v = y.toFloatArray();
                    int row = TINY.hcMult() * TINY.hiddenSize();
                    for (int b = 0; b < batch; b++) {
                        for (int i = 0; i < n; i++) {
                            double[] r = new double[row];
                            for (int k = 0; k < row; k++) {
                                r[k] = v[(b * n + i) * row + k];
                            }
                            out[b * seq + at + i] = r;
                        }
                    }
                }
                at += n;
                assertEquals(start + at, cache.position());
            }
            assertEquals(seq, at, "chunks must cover the sequence");
        }
        return out;
    }

    /** Attention output rows [B*T][D] for x [B][T][D] fed in chunks from a poisoned cache begun at {@code start}. */
    static double[][] runAttention(long start, Attention attn, double[][][] x, int... chunks) {
        int batch = x.length;
        int seq = x[0].length;
        double[][] out = new double[batch * seq][];
        try (KvCache cache = attn.newCache(batch, start + seq, KvCache.Format.BF16)) {
            AttentionTest.poison(cache);
            cache.startAt(start);
            int at = 0;
            for (int n : chunks) {
                try (Tensor xs = AttentionFixtures.tokens(x, at, at + n, DType.BF16);
                     Tensor y = attn.forward(xs, start + at, cache)) {
                    double[][] rows = MoeFixtures.rows(y);
                    for (int b = 0; b < batch; b++) {
                        for (int i = 0; i < n; i++) {
                            out[b * seq + at + i] = rows[b * n + i];
                        }
                    }
                }
                at += n;
            }
            assertEquals(seq, at, "chunks must cover the sequence");
        }
        return out;
    }

    static double[][] run(Block block, Inputs in, KvCache.Format format, int... chunks) {
        return runFrom(0, block, in, format, chunks);
    }
}

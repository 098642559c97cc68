package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.ref.MapSource;
import io.github.ds4j.v4.ref.AttentionFixtures;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.RefAttention;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static io.github.ds4j.v4.LayerTests.CPU;
import static io.github.ds4j.v4.LayerTests.TINY;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The attention layer on the CPU against the float64 reference of spec §3 ({@link RefAttention}),
 * on {@link V4Config#tiny()}: hidden 256, 4 heads of 128 (rope 32), window 16, index 4 x 64 with
 * top-4, layers with ratios 0, 4, 16.
 */
class AttentionTest {
    static final long[] SEEDS = {101, 202, 404};
    /**
     * Relative L2 error of any one token. Layer (f32) and reference (f64) round to bf16 at the same
     * points, so most tokens agree to the bit; but a 1-ulp bf16 difference just before an FP8
     * simulation can flip one E4M3 step (6-12% of that value) in a KV row, which every token whose
     * window holds the row then sees, amplified by the FP8 quantization before wo_b.
     */
    static final double TOKEN_TOLERANCE = 6e-2;
    /** Mean relative error over all compared tokens: such flips are rare. */
    static final double MEAN_TOLERANCE = 1e-2;
    /** Indexer scores this close (relative to the largest) at the top-k boundary make the choice a coin toss. */
    static final double TIE_TOLERANCE = 2e-2;

    @Test
    void windowLayerMatchesFloat64ReferenceWhenThePromptWrapsTheWindow() {
        for (long seed : SEEDS) {
            // 40 tokens over a 16-slot window: the ring wraps twice.
            assertMatchesReference(TINY, 0, seed, 2, 40, KvCache.Format.BF16, 40);
        }
    }

    @Test
    void csaLayerMatchesReferenceWhenTopKIsBelowTheCompleteEntries() {
        for (long seed : SEEDS) {
            // 41 tokens: up to 10 complete entries, of which the indexer keeps 4.
            assertMatchesReference(TINY, 1, seed, 2, 41, KvCache.Format.BF16, 41);
        }
    }

    @Test
    void hcaLayerMatchesReferenceWithSeveralEntries() {
        for (long seed : SEEDS) {
            // Ratio 16, 75 tokens: 4 complete entries and a partial block that must stay invisible.
            assertMatchesReference(TINY, 2, seed, 1, 75, KvCache.Format.BF16, 75);
        }
    }

    @Test
    void chunkedPrefillAndDecodeMatchReferenceOnEveryLayerKind() {
        for (int layer = 0; layer < 3; layer++) {
            // Chunks that straddle window, block and entry boundaries, then single-token decode.
            assertMatchesReference(TINY, layer, 400 + layer, 2, 37, KvCache.Format.BF16, 13, 6, 1, 9, 1, 1, 1, 1, 1, 1, 1, 1);
        }
    }

    @Test
    void fp8KvCacheMatchesReferenceOnCompressedLayers() {
        for (int layer = 0; layer < 3; layer++) {
            assertMatchesReference(TINY, layer, 500 + layer, 1, 36, KvCache.Format.FP8, 20, 1, 1, 1, 5, 8);
        }
    }

    @Test
    void groupedOutputProjectionMatchesReferenceWithFourGroups() {
        // Four groups of one head each: a mix-up of heads and wo_a rows shows at once.
        V4Config c = withGroups(TINY, 4, 64);
        for (long seed : SEEDS) {
            assertMatchesReference(c, 0, seed, 1, 20, KvCache.Format.BF16, 20);
        }
    }

    @Test
    void decodeEqualsPrefillWithinRounding() {
        for (int layer = 0; layer < 4; layer++) {
            long seed = 600 + layer;
            System.out.println("decodeEqualsPrefillWithinRounding: layer " + layer + ", seed " + seed);
            double[][][] x = AttentionFixtures.randomInput(seed, 2, 40, TINY.hiddenSize());
            try (MapSource w = MapSource.attention(TINY, layer, seed);
                 Attention attn = Attention.load(CPU, TINY, layer, w)) {
                double[][] prefill = run(attn, x, KvCache.Format.BF16, 40);
                double[][] decode = run(attn, x, KvCache.Format.BF16, 24, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
                assertDecodeMatchesPrefill(decode, prefill, 2e-2, "layer " + layer);
            }
        }
    }

    /**
     * Decode runs the GEMMs with M = 1 (the streaming GEMV) and prefill with M = 80 (the tiled
     * kernel): the same sums in another order. A last-bit difference before an FP8 quantization
     * point (the KV nope dims, the activations of every FP8 GEMM) can move one value by a whole
     * E4M3 step (up to 2^-3 of it), and later FP8 points amplify that, so rows agree to FP8
     * rounding, not bit for bit: per row within {@code rowTolerance} relative (observed up to
     * 3.4e-3 for attention and 3.7e-2 for a block), within 4e-3 on average; a real decode bug
     * is off by ~1.
     */
    static void assertDecodeMatchesPrefill(double[][] decode, double[][] prefill, double rowTolerance, String what) {
        double sum = 0;
        double worst = 0;
        for (int i = 0; i < prefill.length; i++) {
            double err = AttentionFixtures.relError(decode[i], prefill[i]);
            worst = Math.max(worst, err);
            sum += err;
            assertTrue(err <= rowTolerance, what + ", row " + i + ": decode differs from prefill by " + err);
        }
        System.out.printf("  %s: decode vs prefill worst row %.2e, mean %.2e%n", what, worst, sum / prefill.length);
        assertTrue(sum / prefill.length <= 4e-3, what + ": mean decode-vs-prefill difference " + sum / prefill.length);
    }

    @Test
    void fp8KvCacheGivesTheBf16CacheResultWithinFp8Tolerance() {
        for (int layer = 0; layer < 4; layer++) {
            long seed = 700 + layer;
            System.out.println("fp8KvCacheGivesTheBf16CacheResult: layer " + layer + ", seed " + seed);
            double[][][] x = AttentionFixtures.randomInput(seed, 2, 40, TINY.hiddenSize());
            try (MapSource w = MapSource.attention(TINY, layer, seed);
                 Attention attn = Attention.load(CPU, TINY, layer, w)) {
                double[][] bf16 = run(attn, x, KvCache.Format.BF16, 30, 1, 1, 1, 1, 1, 5);
                double[][] fp8 = run(attn, x, KvCache.Format.FP8, 30, 1, 1, 1, 1, 1, 5);
                for (int i = 0; i < bf16.length; i++) {
                    // The KV nope dims went through the same FP8 tiles already, so the FP8 cache
                    // stores them exactly; allow one FP8 step (2^-3) of one value per row anyway.
                    double err = AttentionFixtures.relError(fp8[i], bf16[i]);
                    assertTrue(err <= 1e-3, "layer " + layer + ", row " + i + ": FP8 cache differs by " + err);
                }
            }
        }
    }

    @Test
    void f32AndSingleSequenceInputsGiveTheBf16BatchResult() {
        long seed = 808;
        System.out.println("input forms: seed " + seed);
        double[][][] x = AttentionFixtures.randomInput(seed, 1, 21, TINY.hiddenSize());
        try (MapSource w = MapSource.attention(TINY, 1, seed);
             Attention attn = Attention.load(CPU, TINY, 1, w);
             KvCache a = attn.newCache(1, 21, KvCache.Format.BF16);
             KvCache b = attn.newCache(1, 21, KvCache.Format.BF16);
             Tensor bf16 = AttentionFixtures.tokens(x, 0, 21, DType.BF16);
             Tensor f32 = AttentionFixtures.tokens(x, 0, 21, DType.F32);
             Tensor ya = attn.forward(bf16, 0, a);
             Tensor yb = attn.forward(f32.reshape(21, TINY.hiddenSize()), 0, b)) {
            assertEquals(DType.F32, yb.dtype());
            assertArrayEquals(new long[] {21, TINY.hiddenSize()}, yb.shape().toArray());
            float[] expected = ya.toFloatArray();
            float[] got = yb.toFloatArray();
            for (int i = 0; i < got.length; i++) {
                // The same values in: only the final rounding to bf16 differs.
                assertEquals(expected[i], got[i], 0x1p-8 * Math.abs(expected[i]), "value " + i);
            }
        }
    }

    @Test
    void fp8CacheTakesLessMemoryThanBf16() {
        try (KvCache a = KvCache.create(CPU, TINY, 1, 1, 1024, KvCache.Format.BF16);
             KvCache b = KvCache.create(CPU, TINY, 1, 1, 1024, KvCache.Format.FP8)) {
            assertTrue(b.bytes() < a.bytes(), "FP8 " + b.bytes() + " bytes vs bf16 " + a.bytes());
            assertEquals(163, b.fp8Layout().tokenBytes());
        }
    }

    @Test
    void mtpBlockLoadsItsAttentionFromTheMtpPrefix() {
        int mtp = TINY.numLayers();
        try (MapSource w = MapSource.attention(TINY, mtp, 9)) {
            assertTrue(w.contains("mtp.0.attn.wq_a.weight"));
            try (Attention attn = Attention.load(CPU, TINY, mtp, w)) {
                assertMatchesReference(TINY, mtp, 9, 1, 18, KvCache.Format.BF16, 18);
                assertEquals(0, attn.compressRatio());
            }
        }
    }

    @Test
    void badWeightsAreNamedInTheException() {
        try (MapSource w = MapSource.attention(TINY, 1, 5)) {
            Map<String, Tensor> map = new HashMap<>(w.tensors());
            map.remove("layers.1.attn.indexer.wq_b.scale");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Attention.load(CPU, TINY, 1, source(map)));
            assertTrue(e.getMessage().contains("layers.1.attn.indexer.wq_b.scale") && e.getMessage().contains("missing"), e.getMessage());

            try (Tensor wrongShape = Tensor.allocate(DType.F8_E4M3, Shape.of(512, 256))) {
                map.put("layers.1.attn.indexer.wq_b.scale", w.tensor("layers.1.attn.indexer.wq_b.scale"));
                map.put("layers.1.attn.wq_b.weight", wrongShape);
                e = assertThrows(IllegalArgumentException.class, () -> Attention.load(CPU, TINY, 1, source(map)));
                assertTrue(e.getMessage().startsWith("layers.1.attn.wq_b.weight: expected shape [512, 128]"), e.getMessage());
            }
            try (Tensor wrongType = Tensor.allocate(DType.I32, Shape.of(128))) {
                map.put("layers.1.attn.wq_b.weight", w.tensor("layers.1.attn.wq_b.weight"));
                map.put("layers.1.attn.q_norm.weight", wrongType);
                e = assertThrows(IllegalArgumentException.class, () -> Attention.load(CPU, TINY, 1, source(map)));
                assertTrue(e.getMessage().startsWith("layers.1.attn.q_norm.weight: expected dtype"), e.getMessage());
                assertTrue(e.getMessage().endsWith("got I32"), e.getMessage());
            }
            try (Tensor wrongApe = Tensor.allocate(DType.F32, Shape.of(4, 128))) {
                map.put("layers.1.attn.q_norm.weight", w.tensor("layers.1.attn.q_norm.weight"));
                map.put("layers.1.attn.compressor.ape", wrongApe);
                e = assertThrows(IllegalArgumentException.class, () -> Attention.load(CPU, TINY, 1, source(map)));
                assertTrue(e.getMessage().startsWith("layers.1.attn.compressor.ape: expected shape [4, 256]"), e.getMessage());
            }
        }
    }

    @Test
    void forwardRejectsAWrongPositionBatchOrWidthBeforeComputing() {
        try (MapSource w = MapSource.attention(TINY, 0, 6);
             Attention attn = Attention.load(CPU, TINY, 0, w);
             KvCache cache = attn.newCache(2, 32, KvCache.Format.BF16);
             Tensor x = Tensor.fromFloats(new float[2 * 3 * 256], DType.BF16, Shape.of(2, 3, 256));
             Tensor x1 = Tensor.fromFloats(new float[3 * 256], DType.BF16, Shape.of(1, 3, 256));
             Tensor narrow = Tensor.fromFloats(new float[2 * 3 * 128], DType.BF16, Shape.of(2, 3, 128))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> attn.forward(x, 5, cache));
            assertEquals("startPos: expected the cache position 0, got 5", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> attn.forward(x1, 0, cache));
            assertEquals("cache: holds 2 sequences, x has 1", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> attn.forward(narrow, 0, cache));
            assertEquals("x: expected shape [B, S, 256] or [S, 256], got [2, 3, 128]", e.getMessage());
            try (KvCache small = attn.newCache(2, 2, KvCache.Format.BF16)) {
                e = assertThrows(IllegalArgumentException.class, () -> attn.forward(x, 0, small));
                assertEquals("x: positions 0..2 exceed the cache capacity of 2 positions", e.getMessage());
            }
            try (KvCache other = KvCache.create(CPU, TINY, 1, 2, 32, KvCache.Format.BF16)) {
                e = assertThrows(IllegalArgumentException.class, () -> attn.forward(x, 0, other));
                assertTrue(e.getMessage().startsWith("cache: expected a cache of layer 0"), e.getMessage());
            }
            assertEquals(0, cache.position());
        }
    }

    // ---- helpers ----

    /**
     * Runs the layer over B random sequences in the given chunks and compares every token with the
     * reference. Where the reference's indexer choice is a near-tie, the layer may match the output
     * of any of the tied choices.
     */
    static void assertMatchesReference(V4Config c, int layer, long seed, int batch, int seq, KvCache.Format format, int... chunks) {
        System.out.println("attention vs float64 reference: layer " + layer + " (ratio " + c.compressRatio(layer) + "), seed " + seed
                + ", batch " + batch + ", " + seq + " tokens in chunks " + java.util.Arrays.toString(chunks) + ", " + format);
        double[][][] x = AttentionFixtures.randomInput(seed, batch, seq, c.hiddenSize());
        try (MapSource w = MapSource.attention(c, layer, seed);
             Attention attn = Attention.load(CPU, c, layer, w)) {
            double[][] got = run(attn, x, format, chunks);
            RefAttention ref = new RefAttention(c, layer, w.tensors());
            int ties = 0;
            double worst = 0;
            double sum = 0;
            for (int b = 0; b < batch; b++) {
                RefAttention.Result r = ref.run(x[b], TIE_TOLERANCE);
                for (int t = 0; t < seq; t++) {
                    double err = Double.POSITIVE_INFINITY;
                    for (double[] alt : r.alternatives().get(t)) {
                        err = Math.min(err, AttentionFixtures.relError(got[b * seq + t], alt));
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

    /** Output rows [B*T][D] of the layer fed x [B][T][D] in chunks from a fresh, poisoned cache. */
    static double[][] run(Attention attn, double[][][] x, KvCache.Format format, int... chunks) {
        int batch = x.length;
        int seq = x[0].length;
        int hidden = x[0][0].length;
        double[][] out = new double[batch * seq][];
        try (KvCache cache = attn.newCache(batch, seq + 3, format)) {
            poison(cache);
            int start = 0;
            for (int n : chunks) {
                try (Tensor xs = AttentionFixtures.tokens(x, start, start + n, DType.BF16);
                     Tensor y = attn.forward(xs, start, cache)) {
                    assertArrayEquals(new long[] {batch, n, hidden}, y.shape().toArray());
                    double[][] rows = MoeFixtures.rows(y);
                    for (int b = 0; b < batch; b++) {
                        for (int i = 0; i < n; i++) {
                            out[b * seq + start + i] = rows[b * n + i];
                        }
                    }
                }
                start += n;
                assertEquals(start, cache.position());
            }
            assertEquals(seq, start, "chunks must cover the sequence");
        }
        return out;
    }

    /** NaN in every byte of the cache: reading a slot before writing it poisons the output. */
    static void poison(KvCache cache) {
        for (Tensor t : java.util.Arrays.asList(cache.windowRows().data(),
                cache.compressorKv(), cache.compressorScore(), cache.indexKeys(), cache.indexerKv(), cache.indexerScore())) {
            if (t != null) {
                AttentionFixtures.poison(t);
            }
        }
        if (cache.config().compressRatio(cache.layer()) != 0) {
            AttentionFixtures.poison(cache.compressedRows().data());
        }
    }

    static TensorSource source(Map<String, Tensor> map) {
        return new TensorSource() {
            @Override
            public Tensor tensor(String name) {
                return map.get(name);
            }

            @Override
            public boolean contains(String name) {
                return map.containsKey(name);
            }
        };
    }

    /** The tiny config with another output grouping. */
    static V4Config withGroups(V4Config c, int groups, int oLora) {
        return new V4Config(c.hiddenSize(), c.numLayers(), c.numHeads(), c.headDim(), c.ropeDim(), c.qLoraRank(), groups, oLora,
                c.slidingWindow(), c.indexHeads(), c.indexHeadDim(), c.indexTopK(), c.compressRatios(), c.routedExperts(),
                c.sharedExperts(), c.expertsPerToken(), c.moeIntermediate(), c.numHashLayers(), c.routedScalingFactor(),
                c.swigluLimit(), c.hcMult(), c.hcSinkhornIters(), c.hcEps(), c.ropeTheta(), c.compressRopeTheta(), c.yarn(),
                c.rmsNormEps(), c.vocabSize(), c.maxPositions(), c.mtpLayers());
    }
}

package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.ref.MapSource;
import io.github.ds4j.spi.AttentionKernels.Fp8KvLayout;
import io.github.ds4j.spi.AttentionKernels.KvRows;
import io.github.ds4j.v4.ref.AttentionFixtures;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.RefNumbers;
import org.junit.jupiter.api.Test;

import static io.github.ds4j.v4.LayerTests.CPU;
import static io.github.ds4j.v4.LayerTests.TINY;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The KV cache: its two row formats, what it holds after prefill and decode, reuse and misuse. */
class KvCacheTest {
    @Test
    void fp8CacheRowsDecodeToTheBf16CacheRowsExactly() {
        for (int layer = 0; layer < 3; layer++) {
            long seed = 80 + layer;
            System.out.println("FP8 vs bf16 cache rows: layer " + layer + ", seed " + seed);
            double[][][] x = AttentionFixtures.randomInput(seed, 2, 37, TINY.hiddenSize());
            try (MapSource w = MapSource.attention(TINY, layer, seed);
                 Attention attn = Attention.load(CPU, TINY, layer, w);
                 KvCache bf16 = attn.newCache(2, 40, KvCache.Format.BF16);
                 KvCache fp8 = attn.newCache(2, 40, KvCache.Format.FP8)) {
                for (KvCache cache : new KvCache[] {bf16, fp8}) {
                    AttentionTest.poison(cache);
                    feed(attn, cache, x, 20, 1, 1, 15);
                }
                // The KV nope dims went through the FP8 simulation with the same 64-tiles, so the
                // FP8 layout loses nothing: every written row decodes to the bf16 row bit for bit.
                assertRowsEqual(bf16.windowRows(), fp8.windowRows(), TINY.slidingWindow(), "window");
                if (TINY.compressRatio(layer) != 0) {
                    assertEquals(37 / TINY.compressRatio(layer), fp8.compressedEntries());
                    assertRowsEqual(bf16.compressedRows(), fp8.compressedRows(), (int) fp8.compressedEntries(), "compressed");
                }
            }
        }
    }

    @Test
    void resetStartsANewSequenceLikeAFreshCache() {
        for (int layer = 0; layer < 3; layer++) {
            long seed = 90 + layer;
            System.out.println("cache reset: layer " + layer + ", seed " + seed);
            double[][][] first = AttentionFixtures.randomInput(seed, 1, 29, TINY.hiddenSize());
            double[][][] second = AttentionFixtures.randomInput(seed + 1000, 1, 29, TINY.hiddenSize());
            try (MapSource w = MapSource.attention(TINY, layer, seed);
                 Attention attn = Attention.load(CPU, TINY, layer, w);
                 KvCache reused = attn.newCache(1, 32, KvCache.Format.FP8);
                 KvCache fresh = attn.newCache(1, 32, KvCache.Format.FP8)) {
                feed(attn, reused, first, 29);
                reused.reset();
                assertEquals(0, reused.position());
                double[][] again = feed(attn, reused, second, 17, 1, 1, 10);
                double[][] expected = feed(attn, fresh, second, 17, 1, 1, 10);
                for (int t = 0; t < expected.length; t++) {
                    assertArrayEquals(expected[t], again[t], "layer " + layer + ", token " + t + " after reset");
                }
            }
        }
    }

    @Test
    void aCopiedCacheContinuesExactlyLikeTheOriginal() {
        for (int layer = 0; layer < 3; layer++) {
            long seed = 95 + layer;
            System.out.println("cache copy: layer " + layer + ", seed " + seed);
            double[][][] x = AttentionFixtures.randomInput(seed, 2, 30, TINY.hiddenSize());
            try (MapSource w = MapSource.attention(TINY, layer, seed);
                 Attention attn = Attention.load(CPU, TINY, layer, w);
                 KvCache original = attn.newCache(2, 32, KvCache.Format.FP8);
                 KvCache copy = attn.newCache(2, 32, KvCache.Format.FP8)) {
                AttentionTest.poison(copy);
                feed(attn, copy, AttentionFixtures.randomInput(seed + 7, 2, 9, TINY.hiddenSize()), 9); // other contents first
                original.startAt(3);
                feedOn(attn, original, slice(x, 3, 21), 18);
                copy.copyFrom(original);
                assertEquals(21, copy.position());
                assertEquals(3, copy.origin());
                double[][] expected = feedOn(attn, original, slice(x, 21, 30), 1, 1, 7);
                double[][] again = feedOn(attn, copy, slice(x, 21, 30), 1, 1, 7);
                for (int t = 0; t < expected.length; t++) {
                    assertArrayEquals(expected[t], again[t], "layer " + layer + ", token " + t + " after the copy");
                }
            }
        }
    }

    @Test
    void copyFromRejectsACacheOfAnotherShape() {
        try (KvCache a = KvCache.create(CPU, TINY, 1, 1, 32, KvCache.Format.BF16);
             KvCache longer = KvCache.create(CPU, TINY, 1, 1, 64, KvCache.Format.BF16);
             KvCache fp8 = KvCache.create(CPU, TINY, 1, 1, 32, KvCache.Format.FP8);
             KvCache otherLayer = KvCache.create(CPU, TINY, 2, 1, 32, KvCache.Format.BF16)) {
            for (KvCache other : new KvCache[] {longer, fp8, otherLayer}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.copyFrom(other));
                assertTrue(e.getMessage().startsWith("source: expected a cache of layer 1 on cpu with 1 sequences of 32 positions in BF16, got"),
                        e.getMessage());
            }
            assertThrows(IllegalArgumentException.class, () -> a.copyFrom(null));
            fp8.close();
            IllegalStateException closed = assertThrows(IllegalStateException.class, () -> a.copyFrom(fp8));
            assertEquals("cache: the KV cache of layer 1 is closed", closed.getMessage());
        }
    }

    @Test
    void compressedEntriesCountOnlyCompleteBlocks() {
        try (MapSource w = MapSource.attention(TINY, 2, 3);
             Attention attn = Attention.load(CPU, TINY, 2, w);
             KvCache cache = attn.newCache(1, 40, KvCache.Format.BF16)) {
            double[][][] x = AttentionFixtures.randomInput(3, 1, 34, TINY.hiddenSize());
            int start = 0;
            // Ratio 16: an entry exists once positions 16e..16e+15 have all been seen.
            int[][] steps = {{15, 0}, {1, 1}, {15, 1}, {1, 2}, {2, 2}};
            for (int[] step : steps) {
                try (Tensor xs = AttentionFixtures.tokens(x, start, start + step[0], DType.BF16);
                     Tensor y = attn.forward(xs, start, cache)) {
                    start += step[0];
                    assertEquals(step[0], y.dim(1));
                    assertEquals(step[1], cache.compressedEntries(), "after " + start + " positions");
                }
            }
        }
    }

    @Test
    void fp8LayoutFollowsTheHeadSizes() {
        try (KvCache flash = KvCache.create(CPU, V4Config.flash(), 2, 1, 256, KvCache.Format.FP8);
             KvCache tiny = KvCache.create(CPU, TINY, 1, 1, 64, KvCache.Format.FP8)) {
            assertEquals(584, flash.fp8Layout().tokenBytes());
            assertEquals(65 * 576, flash.fp8Layout().pageBytes());
            // head 128 with rope 32: 96 E4M3 + 64 bytes of bf16, 2 scales + pad; pages of 64 tokens padded to 160 bytes.
            Fp8KvLayout t = tiny.fp8Layout();
            assertEquals(160, t.valueBytes());
            assertEquals(3, t.scaleBytes());
            assertEquals(10560, t.pageBytes());
            // Token 64 opens the second page: its value record first, its scales after the page's 64 value records.
            assertEquals(10560, t.valueOffset(64));
            assertEquals(10560 + 64 * 160, t.scaleOffset(64));
            assertEquals(64 * 160 + 3, t.scaleOffset(1));
        }
    }

    @Test
    void createAndForwardRejectMisuse() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KvCache.create(CPU, TINY, 0, 0, 16, KvCache.Format.BF16));
        assertEquals("batch: must be at least 1, got 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KvCache.create(CPU, TINY, 0, 1, 0, KvCache.Format.BF16));
        assertEquals("capacity: must be at least 1 position, got 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KvCache.create(CPU, TINY, 9, 1, 16, KvCache.Format.BF16));
        assertTrue(e.getMessage().startsWith("layer 9 out of range"), e.getMessage());
        try (MapSource w = MapSource.attention(TINY, 0, 4);
             Attention attn = Attention.load(CPU, TINY, 0, w);
             Tensor x = AttentionFixtures.tokens(AttentionFixtures.randomInput(4, 1, 2, TINY.hiddenSize()), 0, 2, DType.BF16)) {
            KvCache cache = attn.newCache(1, 8, KvCache.Format.FP8);
            cache.close();
            cache.close();
            IllegalStateException closed = assertThrows(IllegalStateException.class, () -> attn.forward(x, 0, cache));
            assertEquals("cache: the KV cache of layer 0 is closed", closed.getMessage());
        }
    }

    // ---- helpers ----

    /** Feeds x [1 or B][T][D] in chunks; returns the output rows [B*T][D]. */
    static double[][] feed(Attention attn, KvCache cache, double[][][] x, int... chunks) {
        int seq = x[0].length;
        double[][] out = new double[x.length * seq][];
        int start = 0;
        for (int n : chunks) {
            try (Tensor xs = AttentionFixtures.tokens(x, start, start + n, DType.BF16);
                 Tensor y = attn.forward(xs, start, cache)) {
                double[][] rows = MoeFixtures.rows(y);
                for (int b = 0; b < x.length; b++) {
                    for (int i = 0; i < n; i++) {
                        out[b * seq + start + i] = rows[b * n + i];
                    }
                }
            }
            start += n;
        }
        return out;
    }

    /** As {@link #feed}, the first token at the cache's position. */
    static double[][] feedOn(Attention attn, KvCache cache, double[][][] x, int... chunks) {
        int seq = x[0].length;
        double[][] out = new double[x.length * seq][];
        int start = 0;
        for (int n : chunks) {
            try (Tensor xs = AttentionFixtures.tokens(x, start, start + n, DType.BF16);
                 Tensor y = attn.forward(xs, cache.position(), cache)) {
                double[][] rows = MoeFixtures.rows(y);
                for (int b = 0; b < x.length; b++) {
                    for (int i = 0; i < n; i++) {
                        out[b * seq + start + i] = rows[b * n + i];
                    }
                }
            }
            start += n;
        }
        return out;
    }

    /** Tokens from..to of every sequence of x [B][T][D]. */
    static double[][][] slice(double[][][] x, int from, int to) {
        double[][][] out = new double[x.length][][];
        for (int b = 0; b < x.length; b++) {
            out[b] = java.util.Arrays.copyOfRange(x[b], from, to);
        }
        return out;
    }

    /** Compares the first rows of a bf16 store with an FP8 store decoded here from its bytes. */
    static void assertRowsEqual(KvRows bf16, KvRows fp8, int rows, String what) {
        double[][] expected = MoeFixtures.rows(bf16.data());
        byte[] bytes = fp8.data().toByteArray();
        Fp8KvLayout l = fp8.fp8();
        int hd = l.headDim();
        int nope = l.nopeDim();
        long perSequence = fp8.data().dim(1);
        long bf16Rows = bf16.data().dim(1);
        for (int b = 0; b < bf16.data().dim(0); b++) {
            for (int r = 0; r < rows; r++) {
                long base = b * perSequence;
                long page = base + (r / l.pageTokens()) * l.pageBytes();
                long value = page + (long) (r % l.pageTokens()) * l.valueBytes();
                long scales = page + (long) l.pageTokens() * l.valueBytes() + (long) (r % l.pageTokens()) * l.scaleBytes();
                double[] row = new double[hd];
                for (int k = 0; k < nope; k++) {
                    row[k] = RefNumbers.decodeE4m3(bytes[(int) (value + k)]) * RefNumbers.decodeUe8m0(bytes[(int) (scales + k / 64)]);
                }
                for (int i = 0; i < hd - nope; i++) {
                    int lo = bytes[(int) (value + nope + 2 * i)] & 0xFF;
                    int hi = bytes[(int) (value + nope + 2 * i + 1)] & 0xFF;
                    row[nope + i] = Float.intBitsToFloat((lo | hi << 8) << 16);
                }
                assertArrayEquals(expected[(int) (b * bf16Rows + r)], row, what + " row " + r + " of sequence " + b);
            }
        }
    }
}

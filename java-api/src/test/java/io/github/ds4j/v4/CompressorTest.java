package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.ref.MapSource;
import io.github.ds4j.spi.AttentionKernels;
import io.github.ds4j.v4.ref.AttentionFixtures;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.RefAttention;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static io.github.ds4j.v4.LayerTests.CPU;
import static io.github.ds4j.v4.LayerTests.TINY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The compressor (spec §3.1) against the float64 reference: gated pooling with and without overlap,
 * only complete entries emitted, the decode state carried across arbitrary chunk boundaries.
 */
class CompressorTest {
    /** Chunks that start and end inside blocks, cross several blocks at once, and decode single tokens. */
    static final int[] CHUNKS = {5, 3, 1, 1, 1, 1, 9, 16, 1, 1, 6};

    @Test
    void overlappingCsaCompressorMatchesReferenceAcrossChunkBoundaries() {
        for (long seed : new long[] {41, 42, 43}) {
            // One FP8 step (2^-3 relative) in one value of an entry is a rounding flip, not a bug.
            check(1, "layers.1.attn.compressor.", TINY.headDim(), false, seed, 0.05, 2e-3);
        }
    }

    @Test
    void indexerCompressorMatchesReferenceAcrossChunkBoundaries() {
        for (long seed : new long[] {51, 52, 53}) {
            // FP4 has one mantissa bit: a flip moves one value by up to a third of itself.
            check(1, "layers.1.attn.indexer.compressor.", TINY.indexHeadDim(), true, seed, 0.15, 1e-2);
        }
    }

    @Test
    void hcaCompressorMatchesReferenceAcrossChunkBoundaries() {
        for (long seed : new long[] {61, 62, 63}) {
            check(2, "layers.2.attn.compressor.", TINY.headDim(), false, seed, 0.05, 2e-3);
        }
    }

    /**
     * Feeds two random sequences through the compressor in {@link #CHUNKS} with a NaN-poisoned
     * state (so reading a slot never written, such as the block before entry 0, shows), and
     * compares every emitted entry with the reference's.
     */
    static void check(int layer, String prefix, int dim, boolean forIndexer, long seed, double entryTolerance, double meanTolerance) {
        int ratio = TINY.compressRatio(layer);
        int c = ratio == 4 ? 2 : 1;
        int batch = 2;
        int seq = Arrays.stream(CHUNKS).sum();
        System.out.println("compressor vs float64 reference: " + prefix + " (ratio " + ratio + "), seed " + seed);
        double[][][] x = AttentionFixtures.randomInput(seed, batch, seq, TINY.hiddenSize());
        try (MapSource w = MapSource.attention(TINY, layer, seed);
             AttentionWeightSet set = new AttentionWeightSet(CPU, TINY, layer, w);
             Tensor kvState = Tensor.allocate(DType.F32, Shape.of(batch, c * ratio, c * dim));
             Tensor scoreState = Tensor.allocate(DType.F32, Shape.of(batch, c * ratio, c * dim))) {
            AttentionFixtures.poison(kvState);
            AttentionFixtures.poison(scoreState);
            AttentionKernels kernels = CPU.backend().attentionKernels().orElseThrow();
            Compressor compressor = Compressor.load(CPU, kernels, set, prefix, ratio, dim, TINY.ropeDim(), TINY.ropeFor(layer),
                    (float) TINY.rmsNormEps(), forIndexer);
            RefAttention ref = new RefAttention(TINY, layer, w.tensors());
            RefAttention.Compressor refCompressor = forIndexer ? ref.indexCompressor() : ref.compressor();
            double[][][] expected = new double[batch][][];
            for (int b = 0; b < batch; b++) {
                expected[b] = refCompressor.entries(x[b]);
            }
            int start = 0;
            int compared = 0;
            double sum = 0;
            double worst = 0;
            for (int n : CHUNKS) {
                int end = start + n;
                try (Tensor xs = AttentionFixtures.tokens(x, start, end, DType.BF16);
                     Tensor entries = compressor.compress(xs.reshape((long) batch * n, TINY.hiddenSize()), batch, n, start, kvState, scoreState)) {
                    // Only entries whose whole block lies before `end` exist.
                    int first = start / ratio;
                    assertEquals(end / ratio - first, entries.dim(1), "entries emitted by tokens " + start + ".." + (end - 1));
                    double[][] got = MoeFixtures.rows(entries);
                    for (int b = 0; b < batch; b++) {
                        for (int e = 0; e < entries.dim(1); e++) {
                            double err = AttentionFixtures.relError(got[(int) (b * entries.dim(1) + e)], expected[b][first + e]);
                            assertTrue(err <= entryTolerance, "seed " + seed + ", sequence " + b + ", entry " + (first + e) + ": relative error " + err);
                            worst = Math.max(worst, err);
                            sum += err;
                            compared++;
                        }
                    }
                }
                start = end;
            }
            assertEquals(batch * (seq / ratio), compared, "every complete entry is emitted exactly once");
            System.out.printf("  %d entries, worst relative error %.2e, mean %.2e%n", compared, worst, sum / compared);
            assertTrue(sum / compared <= meanTolerance, "mean relative error " + sum / compared);
        }
    }
}

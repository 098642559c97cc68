package io.github.ds4j.samples;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointGenerator;
import io.github.ds4j.v4.Block;
import io.github.ds4j.v4.Checkpoint;
import io.github.ds4j.v4.HyperConnections;
import io.github.ds4j.v4.KvCache;
import io.github.ds4j.v4.V4Config;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The RunBlock sample on a tiny checkpoint: its prefill-then-decode output is the one-call prefill's, within rounding. */
class RunBlockTest {
    @TempDir
    Path dir;

    @Test
    void sampleDecodesAsAOneCallPrefillWouldOnCsaAndHashLayers() {
        long seed = 4242;
        System.out.println("RunBlockTest: checkpoint seed " + seed);
        V4Config config = CheckpointGenerator.withLayers(V4Config.tiny(), 2);
        new CheckpointGenerator(config, seed, null).write(dir);
        long[] ids = new SplittableRandom(seed).longs(27, 0, config.vocabSize()).toArray();
        for (int layer = 0; layer < 2; layer++) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            float[] got = RunBlock.run(dir, layer, "cpu", ids, 5, new PrintStream(log, true, StandardCharsets.UTF_8));
            String text = log.toString(StandardCharsets.UTF_8);
            assertTrue(text.contains("tokens 0..21 done, cache at position 22") && text.contains("tokens 26..26 done, cache at position 27"), text);
            float[] want = prefill(dir, layer, ids);
            assertEquals(want.length, got.length);
            int row = config.hcMult() * config.hiddenSize();
            for (int t = 0; t < ids.length; t++) {
                double max = 0;
                double diff = 0;
                for (int i = t * row; i < (t + 1) * row; i++) {
                    assertTrue(Float.isFinite(got[i]), "token " + t);
                    max = Math.max(max, Math.abs(want[i]));
                    diff = Math.max(diff, Math.abs(got[i] - want[i]));
                }
                // The same math in another order: a bf16 step of the row's largest values at most.
                assertTrue(diff <= 0x1p-6 * max, "layer " + layer + ", token " + t + ": differs by " + diff + " of " + max);
            }
        }
    }

    /** The block over all of ids in one call, streams built from the embedding like the sample does. */
    private static float[] prefill(Path dir, int layer, long[] ids) {
        try (Compute cpu = Compute.open("cpu");
             Checkpoint ckpt = Checkpoint.open(dir, null)) {
            V4Config c = ckpt.config();
            Tensor embed = ckpt.model().tensor("embed.weight");
            float[] e = embed.toFloatArray();
            float[] h = new float[ids.length * c.hiddenSize()];
            for (int t = 0; t < ids.length; t++) {
                System.arraycopy(e, (int) ids[t] * c.hiddenSize(), h, t * c.hiddenSize(), c.hiddenSize());
            }
            try (Block block = Block.load(cpu, c, layer, ckpt.layer(layer, Checkpoint.Part.BLOCK));
                 KvCache cache = block.newCache(1, ids.length, KvCache.Format.BF16);
                 Tensor emb = Tensor.fromFloats(h, embed.dtype(), Shape.of(1, ids.length, c.hiddenSize()));
                 Tensor x = HyperConnections.expand(cpu, emb, c.hcMult());
                 Tensor tokens = Tensor.fromLongs(ids, DType.I64, Shape.of(1, ids.length));
                 Tensor y = block.forward(x, tokens, cache)) {
                return y.toFloatArray();
            }
        }
    }
}

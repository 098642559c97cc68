package io.github.ds4j.samples;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.Block;
import io.github.ds4j.v4.Checkpoint;
import io.github.ds4j.v4.HyperConnections;
import io.github.ds4j.v4.KvCache;
import io.github.ds4j.v4.V4Config;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One V4 block of a checkpoint from Java: a prompt's residual streams through the block in one
 * call (prefill), then more tokens one at a time through its KV cache (decode).
 * {@code RunBlock CHECKPOINT_DIR [LAYER] [DEVICE]}; make a checkpoint with
 * {@code ds4j make-checkpoint --preset tiny --out DIR}.
 */
public final class RunBlock {
    private RunBlock() {
    }

    public static void main(String[] args) {
        int layer = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        float[] y = run(Path.of(args[0]), layer, args.length > 2 ? args[2] : "cpu", new long[] {3, 14, 15, 92, 65, 35, 89, 79}, 3, System.out);
        System.out.println("last token's streams start with " + Arrays.toString(Arrays.copyOf(y, 4)));
    }

    /** Runs {@code ids} through block {@code layer}, the last {@code decode} one by one; returns y [S, hc, D] as floats. */
    public static float[] run(Path dir, int layer, String device, long[] ids, int decode, PrintStream log) {
        // The CPU has every layer kernel; accelerators get them in a later release.
        try (Compute compute = Compute.open(device);
             Checkpoint checkpoint = Checkpoint.open(dir)) {
            V4Config config = checkpoint.config();
            Tensor embed = checkpoint.model().tensor("embed.weight");  // memory-mapped, owned by the checkpoint
            int streams = config.hcMult();
            int hidden = config.hiddenSize();
            float[] out = new float[ids.length * streams * hidden];
            try (Block block = Block.load(compute, config, layer, checkpoint.layer(layer, Checkpoint.Part.BLOCK));
                 KvCache cache = block.newCache(1, ids.length, KvCache.Format.BF16)) {
                int prefill = ids.length - decode;
                for (int from = 0, to; from < ids.length; from = to) {
                    to = from < prefill ? prefill : from + 1;  // the prompt at once, then one token per call
                    long[] chunk = Arrays.copyOfRange(ids, from, to);
                    try (Tensor h = Tensor.allocate(embed.dtype(), Shape.of(1, chunk.length, hidden));
                         Tensor tokens = Tensor.fromLongs(chunk, DType.I64, Shape.of(1, chunk.length))) {
                        for (int i = 0; i < chunk.length; i++) {
                            h.select(1, i).select(0, 0).copyFrom(embed.select(0, chunk[i]));
                        }
                        // The residual streams are hc_mult copies of the embedding (spec §5).
                        try (Tensor onDevice = compute.upload(h);
                             Tensor x = HyperConnections.expand(compute, onDevice, streams);
                             Tensor y = block.forward(x, tokens, cache)) {
                            System.arraycopy(y.toFloatArray(), 0, out, from * streams * hidden, chunk.length * streams * hidden);
                        }
                    }
                    log.printf("layer %d: tokens %d..%d done, cache at position %d%n", layer, from, to - 1, cache.position());
                }
            }
            return out;
        }
    }
}

package io.github.ds4j.cli;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointGenerator;
import io.github.ds4j.v4.Block;
import io.github.ds4j.v4.Checkpoint;
import io.github.ds4j.v4.HyperConnectionHead;
import io.github.ds4j.v4.HyperConnections;
import io.github.ds4j.v4.KvCache;
import io.github.ds4j.v4.TensorSource;
import io.github.ds4j.v4.V4Config;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code ds4j demo}, the main job: a V4 model's blocks over a token prompt, then greedy decoding
 * through the KV caches. Token ids → embedding → hc_mult residual streams → every layer's
 * {@link Block} → the mHC head → the f32 LM head → the next token. Without {@code --checkpoint}
 * it writes a tiny random checkpoint first (every path of the layers at small sizes). Prints the
 * time of each part for the prefill and per decoded token, and a checksum of the logits.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run the V4 blocks of a checkpoint over a prompt, then decode a few tokens greedily through the KV caches.",
                "Prints the time of each part (embedding, attention, MoE, mHC, head) and a checksum of the logits.",
                "Without --checkpoint, a tiny checkpoint with random weights is written to a temporary folder first."})
public final class DemoCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--checkpoint", paramLabel = "DIR",
            description = "A V4 checkpoint folder (default: a tiny random one, written to a temporary folder and deleted after).")
    Path checkpoint;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "S",
            description = "Seed of the prompt and of the tiny checkpoint's weights (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--prompt-tokens", paramLabel = "N",
            description = "Prompt length (default: 3 x the larger of the window and the largest compression ratio, + 5: "
                    + "the window wraps and every compressed layer has several entries).")
    Integer promptTokens;

    @Option(names = "--prompt", paramLabel = "IDS", split = ",",
            description = "The prompt's token ids, comma-separated (default: --prompt-tokens random ids from --seed).")
    long[] prompt;

    @Option(names = "--decode-steps", defaultValue = "8", paramLabel = "K", description = "Tokens to decode after the prompt (default: ${DEFAULT-VALUE}).")
    int decodeSteps;

    @Option(names = "--layers", paramLabel = "L", description = "Run only the first L layers (default: all).")
    Integer layers;

    @Option(names = "--kv-cache", defaultValue = "bf16", paramLabel = "bf16|fp8", description = "KV cache rows (default: ${DEFAULT-VALUE}).")
    String kvCache;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "W",
            description = "Untimed runs of the prompt first, through reset caches, so that the timings show compiled code "
                    + "(default: ${DEFAULT-VALUE}).")
    int warmup;

    @Mixin
    DeviceOption device;

    /** Nanoseconds per part of one phase (the prefill, or all decode steps together). */
    private static final class Phase {
        long embed;
        long attention;
        long moe;
        long mixing;
        long head;
        long total;
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        KvCache.Format format = FlagValues.kvCache(kvCache);
        if (decodeSteps < 0) {
            throw new IllegalArgumentException("--decode-steps: must be >= 0, got " + decodeSteps);
        }
        if (warmup < 0) {
            throw new IllegalArgumentException("--warmup: must be >= 0, got " + warmup);
        }
        long start = System.nanoTime();
        Path dir = checkpoint;
        Path temporary = null;
        try {
            if (dir == null) {
                temporary = Files.createTempDirectory("ds4j-demo-");
                dir = temporary;
                V4Config tiny = CheckpointGenerator.withLayers(V4Config.tiny(), V4Config.tiny().numLayers());
                long t = System.nanoTime();
                new CheckpointGenerator(tiny, seed, null).write(dir);
                out.printf(Locale.ROOT, "checkpoint: tiny preset with random weights (seed %d), written to %s in %.0f ms%n",
                        seed, dir, ms(System.nanoTime() - t));
            }
            return run(dir, format, out, err, start);
        } catch (IOException e) {
            throw new UncheckedIOException("demo: cannot create a temporary folder: " + e.getMessage(), e);
        } finally {
            if (temporary != null) {
                deleteTree(temporary);
            }
        }
    }

    private int run(Path dir, KvCache.Format format, PrintWriter out, PrintWriter err, long start) {
        List<Block> blocks = new ArrayList<>();
        List<KvCache> caches = new ArrayList<>();
        List<Tensor> owned = new ArrayList<>();
        HyperConnectionHead head = null;
        try (Compute c = LayerCommand.openForLayers(device, err);
             // No progress stream: layers fetch routed experts lazily, long after loading began.
             Checkpoint ckpt = Checkpoint.open(dir, null)) {
            V4Config config = ckpt.config();
            int count = layers == null ? config.numLayers() : layers;
            if (count < 1 || count > config.numLayers()) {
                throw new IllegalArgumentException("--layers: expected 1.." + config.numLayers() + ", got " + count);
            }
            long[] tokens = promptIds(config, count);
            int promptLength = tokens.length;
            out.printf(Locale.ROOT, "model: hidden %d, %d of %d layers (compress ratios %s), %d heads, %d experts top-%d, window %d, vocab %d%n",
                    config.hiddenSize(), count, config.numLayers(), config.compressRatios().subList(0, count), config.numHeads(),
                    config.routedExperts(), config.expertsPerToken(), config.slidingWindow(), config.vocabSize());
            out.println("device: " + c.device() + " (" + c.description() + ")");

            long t = System.nanoTime();
            TensorSource model = ckpt.model();
            Tensor embed = model.tensor("embed.weight");
            Tensor lmHead = onDevice(c, model.tensor("head.weight"), owned);
            head = HyperConnectionHead.load(c, config, model);
            for (int l = 0; l < count; l++) {
                Block b = Block.load(c, config, l, ckpt.layer(l, Checkpoint.Part.BLOCK));
                blocks.add(b);
                caches.add(b.newCache(1, (long) promptLength + decodeSteps, format));
            }
            out.printf(Locale.ROOT, "loaded %d blocks and the head in %.0f ms; KV cache %s, %.1f KiB for %d positions%n", count,
                    ms(System.nanoTime() - t), format.name().toLowerCase(Locale.ROOT),
                    caches.stream().mapToLong(KvCache::bytes).sum() / 1024.0, promptLength + decodeSteps);

            out.println("prompt: " + promptLength + (prompt == null ? " random" : "") + " tokens " + preview(tokens));

            if (warmup > 0) {
                long w = System.nanoTime();
                for (int i = 0; i < warmup; i++) {
                    step(c, config, blocks, caches, head, embed, lmHead, tokens, new Phase());
                    step(c, config, blocks, caches, head, embed, lmHead, new long[] {tokens[0]}, new Phase());
                    caches.forEach(KvCache::reset);
                }
                out.printf(Locale.ROOT, "warm-up: %d untimed run%s of the prompt and one decode step in %.0f ms%n", warmup,
                        warmup == 1 ? "" : "s", ms(System.nanoTime() - w));
            }
            Phase prefill = new Phase();
            Phase decode = new Phase();
            List<float[]> logits = new ArrayList<>();
            float[] last = step(c, config, blocks, caches, head, embed, lmHead, tokens, prefill);
            logits.add(last);
            long[] generated = new long[decodeSteps];
            for (int k = 0; k < decodeSteps; k++) {
                generated[k] = argmax(logits.get(logits.size() - 1));
                logits.add(step(c, config, blocks, caches, head, embed, lmHead, new long[] {generated[k]}, decode));
            }
            long next = argmax(logits.get(logits.size() - 1));

            out.printf(Locale.ROOT, "%-10s %14s %18s%n", "time (ms)", "prefill", "decode per token");
            row(out, "embedding", prefill.embed, decode.embed);
            row(out, "attention", prefill.attention, decode.attention);
            row(out, "MoE", prefill.moe, decode.moe);
            row(out, "mHC", prefill.mixing, decode.mixing);
            row(out, "head", prefill.head, decode.head);
            row(out, "total", prefill.total, decode.total);
            out.printf(Locale.ROOT, "%-10s %14.1f %18s%n", "tokens/s", promptLength / (prefill.total / 1e9),
                    decodeSteps == 0 ? "-" : String.format(Locale.ROOT, "%.1f", decodeSteps / (decode.total / 1e9)));
            out.println("greedy tokens: " + Arrays.toString(generated) + " then " + next);
            double sum = 0;
            long hash = 0xcbf29ce484222325L;
            for (float[] row : logits) {
                for (float v : row) {
                    sum += v;
                    hash = (hash ^ Float.floatToIntBits(v)) * 0x100000001b3L;
                }
            }
            String checksum = String.format(Locale.ROOT, "sum %.6e, fnv64 %016x", sum, hash);
            out.println("logits checksum (" + logits.size() + " rows of " + config.vocabSize() + "): " + checksum);
            double prefillMs = ms(prefill.total);
            out.printf(Locale.ROOT, "ok: demo on %s: %d layers, %d-token prompt + %d decoded; prefill %.0f ms, decode %s; logits %s; %.1f s in all%n",
                    c.device(), count, promptLength, decodeSteps, prefillMs,
                    decodeSteps == 0 ? "none" : String.format(Locale.ROOT, "%.1f ms/token", ms(decode.total) / decodeSteps),
                    checksum, (System.nanoTime() - start) / 1e9);
            return 0;
        } finally {
            caches.forEach(KvCache::close);
            blocks.forEach(Block::close);
            if (head != null) {
                head.close();
            }
            owned.forEach(Tensor::close);
        }
    }

    /**
     * Runs {@code ids} through every block (continuing the caches), the head and the LM head;
     * returns the f32 logits of the last token and adds each part's time to {@code phase}.
     */
    private static float[] step(Compute c, V4Config config, List<Block> blocks, List<KvCache> caches, HyperConnectionHead head,
                                Tensor embed, Tensor lmHead, long[] ids, Phase phase) {
        long t0 = System.nanoTime();
        int n = ids.length;
        int hidden = config.hiddenSize();
        long[] before = new long[3];
        for (Block b : blocks) {
            before[0] += b.timings().attentionNanos();
            before[1] += b.timings().moeNanos();
            before[2] += b.timings().mixingNanos();
        }
        Tensor x;
        // Host ids are fine: only hash-routed layers read them, and they upload what they need.
        try (Tensor h = embedding(c, embed, ids, hidden);
             Tensor idt = Tensor.fromLongs(ids, DType.I64, Shape.of(1, n))) {
            x = HyperConnections.expand(c, h, config.hcMult());
            c.synchronize();
            phase.embed += System.nanoTime() - t0;
            for (int l = 0; l < blocks.size(); l++) {
                try (Tensor in = x) {
                    x = blocks.get(l).forward(in, idt, caches.get(l));
                }
            }
        }
        c.synchronize();
        long t1 = System.nanoTime();
        float[] logits;
        Tensor streams = x;
        try (streams;
             Tensor normed = head.apply(streams);
             Tensor y = c.linear(normed.reshape(n, hidden).slice(0, n - 1, n), lmHead, DType.F32)) {
            logits = y.toFloatArray();
        }
        long t2 = System.nanoTime();
        phase.head += t2 - t1;
        phase.total += t2 - t0;
        for (Block b : blocks) {
            phase.attention += b.timings().attentionNanos();
            phase.moe += b.timings().moeNanos();
            phase.mixing += b.timings().mixingNanos();
        }
        phase.attention -= before[0];
        phase.moe -= before[1];
        phase.mixing -= before[2];
        return logits;
    }

    /** The embedding rows of {@code ids}, [1, n, D] in the embedding's dtype, on the device. */
    private static Tensor embedding(Compute c, Tensor embed, long[] ids, int hidden) {
        try (Tensor h = Tensor.allocate(embed.dtype(), Shape.of(1, ids.length, hidden))) {
            Tensor rows = h.reshape(ids.length, hidden);
            for (int i = 0; i < ids.length; i++) {
                rows.select(0, i).copyFrom(embed.select(0, ids[i]));
            }
            return c.upload(h);
        }
    }

    private static Tensor onDevice(Compute c, Tensor t, List<Tensor> owned) {
        if (t.device().equals(c.device())) {
            return t;
        }
        Tensor u = c.upload(t);
        owned.add(u);
        return u;
    }

    /** The --prompt ids checked against the vocabulary, or random ones. */
    private long[] promptIds(V4Config config, int layerCount) {
        if (prompt != null) {
            if (prompt.length == 0) {
                throw new IllegalArgumentException("--prompt: expected at least one token id");
            }
            for (long id : prompt) {
                if (id < 0 || id >= config.vocabSize()) {
                    throw new IllegalArgumentException("--prompt: token id " + id + " is outside the vocabulary 0.."
                            + (config.vocabSize() - 1));
                }
            }
            return prompt.clone();
        }
        int n = promptTokens != null ? promptTokens : defaultPrompt(config, layerCount);
        if (n < 1) {
            throw new IllegalArgumentException("--prompt-tokens: must be at least 1, got " + n);
        }
        return new SplittableRandom(seed).longs(n, 0, config.vocabSize()).toArray();
    }

    /** 3 x max(window, largest ratio of the layers run) + 5 tokens. */
    static int defaultPrompt(V4Config config, int layers) {
        int ratio = config.compressRatios().subList(0, layers).stream().max(Comparator.naturalOrder()).orElse(0);
        return 3 * Math.max(config.slidingWindow(), ratio) + 5;
    }

    private static long argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    private void row(PrintWriter out, String part, long prefillNs, long decodeNs) {
        out.printf(Locale.ROOT, "%-10s %14.1f %18s%n", part, ms(prefillNs),
                decodeSteps == 0 ? "-" : String.format(Locale.ROOT, "%.2f", ms(decodeNs) / decodeSteps));
    }

    private static String preview(long[] tokens) {
        int n = Math.min(tokens.length, 8);
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : ", ").append(tokens[i]);
        }
        return sb.append(tokens.length > n ? ", ...]" : "]").toString();
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // A temporary folder left behind is harmless; say nothing.
        }
    }
}

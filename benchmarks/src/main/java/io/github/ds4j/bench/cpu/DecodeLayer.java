package io.github.ds4j.bench.cpu;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.internal.checkpoint.RandomWeights;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.v4.Block;
import io.github.ds4j.v4.KvCache;
import io.github.ds4j.v4.V4Config;

import java.util.Locale;

/**
 * One decode step of one Flash-sized V4 block ({@link V4Config#flash()}: D 4096, 64 heads of 512,
 * 256 experts top-6, mHC 4 streams) on the CPU, at context {@link #CONTEXT}: the token at position
 * 4095 after 4095 earlier ones. Weights are random ({@link GeneratedWeights}, generated lazily).
 *
 * <p>The context is built cheaply: a block's KV cache depends only on what its attention sees, so
 * the layer's {@code Attention} alone prefills positions 0..4093 from random unit-RMS bf16 rows
 * (the output of the mHC pre norm is such a row), in chunks of {@link #CHUNK} tokens; the
 * MoE and the mHC, which the cache does not depend on, are skipped there. Then the whole block
 * runs positions 4094 and 4095 twice, as one 2-token prefill and as two decode steps, and the
 * outputs of position 4095 must agree within rounding ({@link #check}). The cache after
 * position 4094 is the snapshot every benchmarked step starts from ({@link #restore}), so each
 * step decodes the same token at the same position and routes to the same 6 experts.
 */
final class DecodeLayer implements AutoCloseable {
    /** Positions in the context of the decoded token, itself included. */
    static final int CONTEXT = 4096;
    /** Tokens per prefill call while filling the cache. */
    static final int CHUNK = 512;
    /** Max |decode − prefill| over the output, relative to its RMS: a few bf16 ulps. */
    static final double TOLERANCE = 0x1p-6;

    /** The three attention kinds, by the Flash layer that has them. */
    enum Kind {
        /** Compressed sparse attention: ratio 4, the indexer's top 512 of 1024 entries (layer 4). */
        CSA(4),
        /** Heavily compressed attention: ratio 128, all 32 entries (layer 3). */
        HCA(3),
        /** Sliding window only (layer 1, routed by token id). */
        WINDOW(1);

        final int layer;

        Kind(int layer) {
            this.layer = layer;
        }
    }

    final String name;
    final V4Config config;
    final int layer;
    /** Positions in the context of the decoded token, itself included. */
    final int context;
    final Compute compute = Compute.of(CpuBackend.shared());
    final GeneratedWeights weights;
    final Block block;
    private final KvCache prompt;
    private final KvCache cache;
    /** Residual streams of positions CONTEXT-2 and CONTEXT-1 [1, 2, hc, D], and each alone. */
    private final Tensor x;
    private final Tensor x0;
    private final Tensor x1;
    /** Their token ids (read by the hash-routed layer), [1, 2] and each alone. */
    private final Tensor ids;
    private final Tensor ids0;
    private final Tensor ids1;
    private float[] expected;

    /** Layer {@code kind.layer} of {@link V4Config#flash()} at context {@link #CONTEXT}. */
    DecodeLayer(Kind kind, long seed) {
        this(kind.name(), V4Config.flash(), kind.layer, CONTEXT, seed);
    }

    /** Layer {@code layer} of any model (the tiny one, for overheads) at context {@code context} (>= 3). */
    DecodeLayer(String name, V4Config config, int layer, int context, long seed) {
        this.name = name;
        this.config = config;
        this.layer = layer;
        this.context = context;
        this.weights = new GeneratedWeights(config, layer, seed);
        this.block = Block.load(compute, config, layer, weights);
        this.prompt = block.newCache(1, context, KvCache.Format.BF16);
        this.cache = block.newCache(1, context, KvCache.Format.BF16);
        RandomWeights random = new RandomWeights(seed ^ 0x5EED);
        int d = config.hiddenSize();
        int n = config.hcMult();
        this.x = random.real(DType.BF16, Shape.of(1, 2, n, d), 1.0);
        long[] tokens = {(long) random.uniform(0, config.vocabSize()), (long) random.uniform(0, config.vocabSize())};
        this.ids = Tensor.fromLongs(tokens, DType.I64, Shape.of(1, 2));
        this.x0 = compute.upload(x.slice(1, 0, 1));
        this.x1 = compute.upload(x.slice(1, 1, 2));
        this.ids0 = Tensor.fromLongs(new long[] {tokens[0]}, DType.I64, Shape.of(1, 1));
        this.ids1 = Tensor.fromLongs(new long[] {tokens[1]}, DType.I64, Shape.of(1, 1));
    }

    /** Prefills positions 0..context-3 through the attention alone; returns the time taken in ms. */
    double fill(long seed) {
        long t0 = System.nanoTime();
        RandomWeights random = new RandomWeights(seed ^ 0xF111);
        int d = config.hiddenSize();
        for (int at = 0; at < context - 2; at += CHUNK) {
            int s = Math.min(CHUNK, context - 2 - at);
            try (Tensor in = random.real(DType.BF16, Shape.of(1, s, d), 1.0);
                 Tensor out = block.attention().forward(in, prompt.position(), prompt)) {
                // the output is not needed: only the cache is
            }
        }
        return (System.nanoTime() - t0) / 1e6;
    }

    /**
     * Runs positions context-2 and context-1 as a 2-token prefill and as two decode steps and
     * checks that the last token's outputs agree; leaves the snapshot at context-1 positions.
     */
    void check() {
        float[] prefill;
        cache.copyFrom(prompt);
        try (Tensor y = block.forward(x, ids, cache)) {
            float[] all = y.toFloatArray();
            int per = all.length / 2;
            prefill = java.util.Arrays.copyOfRange(all, per, all.length);
        }
        cache.copyFrom(prompt);
        try (Tensor y = block.forward(x0, ids0, cache)) {
            // position context-2 decoded; its output is not compared
        }
        prompt.copyFrom(cache);
        expected = step();
        double err = relMaxError(expected, prefill);
        if (!(err <= TOLERANCE)) {
            throw new AssertionError(String.format(Locale.ROOT,
                    "%s layer %d: decode of position %d differs from the prefill by %.3g of the RMS (max %.3g)",
                    name, layer, context - 1, err, TOLERANCE));
        }
    }

    /** Puts the cache back to the snapshot (context-1 positions). */
    void restore() {
        cache.copyFrom(prompt);
    }

    /** One decode step of the token at position context-1 from the restored cache; its output. */
    float[] step() {
        restore();
        try (Tensor y = decode()) {
            return y.toFloatArray();
        }
    }

    /** The decode step alone (the cache must be at context-1); the caller closes the output. */
    Tensor decode() {
        return block.forward(x1, ids1, cache);
    }

    /** Checks that {@code y} (a benchmarked step's output) is what the checked step gave. */
    void verify(float[] y) {
        double err = relMaxError(y, expected);
        if (!(err <= TOLERANCE)) {
            throw new AssertionError(String.format(Locale.ROOT, "%s: a benchmarked decode step differs from the checked one by %.3g",
                    name, err));
        }
    }

    /** Max |a − b| over the RMS of b. */
    static double relMaxError(float[] a, float[] b) {
        double ss = 0;
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            ss += (double) b[i] * b[i];
            max = Math.max(max, Math.abs((double) a[i] - b[i]));
            if (Float.isNaN(a[i]) != Float.isNaN(b[i])) {
                return Double.NaN;
            }
        }
        return max / Math.sqrt(ss / a.length);
    }

    /**
     * Checks that the block fetched exactly the tensors {@link Traffic#of} counts (and of the
     * routed experts, {@code k} per decoded token), so the traffic figures describe this run.
     */
    void checkTraffic() {
        CheckpointLayout layout = new CheckpointLayout(config);
        String experts = layout.prefix(layer) + "ffn.experts.";
        java.util.Set<String> counted = new java.util.TreeSet<>(Traffic.counted(config, layer));
        java.util.Set<String> fetched = new java.util.TreeSet<>();
        java.util.Set<String> expertIds = new java.util.TreeSet<>();
        for (String name : weights.served().keySet()) {
            if (name.startsWith(experts)) {
                expertIds.add(name.substring(experts.length(), name.indexOf('.', experts.length())));
            } else {
                fetched.add(name);
            }
        }
        if (!counted.equals(fetched)) {
            throw new AssertionError("the traffic count assumes " + counted + " but the block fetched " + fetched);
        }
        // the checked 2-token prefill and the two decode steps route to at most 2k experts
        if (expertIds.size() < config.expertsPerToken() || expertIds.size() > 2 * config.expertsPerToken()) {
            throw new AssertionError("expected " + config.expertsPerToken() + " to " + 2 * config.expertsPerToken()
                    + " routed experts fetched, got " + expertIds);
        }
    }

    /**
     * Bytes one decode step reads, by part: the weights of the attention (every projection,
     * norm, compressor and indexer tensor), of the MoE (gate, bias or the token's tid2eid row,
     * shared expert, k routed experts, values and scales) and of the mHC (fn, base, scale and
     * the two sub-layer norms); and separately the KV cache rows the attention reads.
     */
    record Traffic(long attention, long moe, long mixing, long kv) {
        long weights() {
            return attention + moe + mixing;
        }

        static Traffic of(V4Config config, int layer, int context) {
            CheckpointLayout layout = new CheckpointLayout(config);
            String prefix = layout.prefix(layer);
            long attention = 0;
            for (CheckpointLayout.Entry e : layout.attention(layer)) {
                attention += bytes(e);
            }
            long mixing = 0;
            for (CheckpointLayout.Entry e : layout.blockWrappers(layer)) {
                mixing += bytes(e);
            }
            long moe = 0;
            for (CheckpointLayout.Entry e : layout.moe(layer)) {
                String name = e.name().substring(prefix.length());
                if (name.equals("ffn.gate.tid2eid")) {
                    moe += (long) config.expertsPerToken() * e.dtype().byteSize(1);
                } else if (!name.startsWith("ffn.experts.")) {
                    moe += bytes(e);
                }
            }
            for (CheckpointLayout.Entry e : layout.expert(layer, 0)) {
                moe += config.expertsPerToken() * bytes(e);
            }
            return new Traffic(attention, moe, mixing, kvBytes(config, layer, context));
        }

        /** Names of the tensors other than routed experts that a block loads. */
        static java.util.List<String> counted(V4Config config, int layer) {
            CheckpointLayout layout = new CheckpointLayout(config);
            String experts = layout.prefix(layer) + "ffn.experts.";
            java.util.List<String> names = new java.util.ArrayList<>();
            for (CheckpointLayout.Entry e : layout.block(layer)) {
                if (!e.name().startsWith(experts)) {
                    names.add(e.name());
                }
            }
            return names;
        }

        private static long bytes(CheckpointLayout.Entry e) {
            return e.dtype().byteSize(e.shape().numel());
        }

        /** KV-cache bytes a step at position context-1 reads: window rows, attended entries, scored indexer keys (bf16). */
        static long kvBytes(V4Config config, int layer, int context) {
            long row = 2L * config.headDim();
            long window = Math.min(config.slidingWindow(), context) * row;
            int ratio = config.compressRatio(layer);
            if (ratio == 0) {
                return window;
            }
            long entries = context / ratio;
            if (ratio == 4) {
                long keys = entries * 2L * config.indexHeadDim();
                return window + Math.min(config.indexTopK(), entries) * row + keys;
            }
            return window + entries * row;
        }
    }

    @Override
    public void close() {
        cache.close();
        prompt.close();
        block.close();
        weights.close();
        for (Tensor t : new Tensor[] {x, x0, x1, ids, ids0, ids1}) {
            t.close();
        }
    }
}

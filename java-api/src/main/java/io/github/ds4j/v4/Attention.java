package io.github.ds4j.v4;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.Check;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.spi.AttentionKernels;
import io.github.ds4j.spi.AttentionKernels.KvRows;

import java.util.ArrayList;
import java.util.List;

/**
 * One DeepSeek-V4 attention layer (spec §3): Q-LoRA with per-head RMS norm, one shared KV vector
 * per token, RoPE on the last rope dims, FP8 simulation of the KV nope dims, the sliding window,
 * and on compressed layers the compressor (ratio 4: with the indexer's top-k, CSA; other ratios:
 * every complete entry, HCA), sparse attention with a per-head sink, inverse RoPE and the grouped
 * low-rank output projection. Runs on any backend that has {@link AttentionKernels}.
 *
 * <p>Tokens go through {@link #forward}: a prompt of S tokens at once (prefill), then one or a
 * few at a time (decode), each call continuing the sequences in the {@link KvCache}. Decoding
 * tokens one by one gives the same result as a prefill of the same tokens, up to rounding.
 *
 * <pre>{@code
 * try (Attention attn = Attention.load(compute, config, 2, checkpoint);
 *      KvCache cache = attn.newCache(1, 8192, KvCache.Format.BF16);
 *      Tensor y = attn.forward(x, 0, cache)) {     // x [1, S, hidden] bf16
 *     ...
 * }
 * }</pre>
 */
public final class Attention implements AutoCloseable {
    private final Compute compute;
    private final AttentionKernels kernels;
    private final V4Config config;
    private final int layer;
    private final int ratio;
    private final RopeSpec rope;
    private final float eps;
    private final AttentionWeightSet weights;
    private final Tensor sink;
    private final Tensor qNorm;
    private final Tensor kvNorm;
    private final BlockScaled wqA;
    private final BlockScaled wqB;
    private final BlockScaled wkv;
    private final BlockScaled woA;
    private final BlockScaled woB;
    private final Compressor compressor;
    private final Indexer indexer;
    private boolean closed;

    private Attention(Compute compute, AttentionKernels kernels, V4Config config, int layer, AttentionWeightSet w) {
        this.compute = compute;
        this.kernels = kernels;
        this.config = config;
        this.layer = layer;
        this.ratio = config.compressRatio(layer);
        this.rope = config.ropeFor(layer);
        this.eps = (float) config.rmsNormEps();
        this.weights = w;
        String p = new CheckpointLayout(config).prefix(layer) + "attn.";
        this.sink = w.f32(p + "attn_sink");
        this.qNorm = w.real(p + "q_norm.weight");
        this.kvNorm = w.real(p + "kv_norm.weight");
        this.wqA = w.fp8(p + "wq_a");
        this.wqB = w.fp8(p + "wq_b");
        this.wkv = w.fp8(p + "wkv");
        // The reference stores wo_a dequantized to bf16 and runs the grouped product in bf16,
        // without quantizing the activations; the kernel does the same from the FP8 weight.
        this.woA = w.fp8(p + "wo_a");
        this.woB = w.fp8(p + "wo_b");
        this.compressor = ratio == 0 ? null
                : Compressor.load(compute, kernels, w, p + "compressor.", ratio, config.headDim(), config.ropeDim(), rope, eps, false);
        this.indexer = ratio == 4 ? Indexer.load(compute, kernels, config, w, p + "indexer.", rope) : null;
    }

    /**
     * Loads layer {@code layer}'s attention from {@code weights} by the shipped names
     * ({@code layers.N.attn.*}, or {@code mtp.0.attn.*} for layer num_hidden_layers). Every tensor
     * is checked against the dtype and shape the config implies; a missing or mismatched one
     * throws {@link IllegalArgumentException} naming it. Tensors on another device are copied.
     */
    public static Attention load(Compute compute, V4Config config, int layer, TensorSource weights) {
        if (compute == null || config == null || weights == null) {
            throw new IllegalArgumentException("compute, config and weights must not be null");
        }
        int ratio = config.compressRatio(layer);
        checkConfig(config, ratio);
        AttentionKernels kernels = compute.backend().attentionKernels().orElseThrow(() -> new UnsupportedOperationException(
                "the " + compute.device() + " backend has no attention kernels (" + compute.description() + ")"));
        AttentionWeightSet w = new AttentionWeightSet(compute, config, layer, weights);
        try {
            return new Attention(compute, kernels, config, layer, w);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** A new cache for this layer: {@code batch} sequences of up to {@code capacity} positions. */
    public KvCache newCache(int batch, long capacity, KvCache.Format format) {
        return KvCache.create(compute, config, layer, batch, capacity, format);
    }

    /** The layer index. */
    public int layer() {
        return layer;
    }

    /** The compression ratio: 0 window only, 4 CSA, other values HCA. */
    public int compressRatio() {
        return ratio;
    }

    /**
     * Runs S tokens of each of B sequences at positions {@code startPos .. startPos+S-1}.
     *
     * @param x the normalized hidden states, F32 or BF16 [B, S, hidden] (a [S, hidden] tensor is one sequence)
     * @param startPos the cache's current position ({@link KvCache#position()})
     * @param cache this layer's cache for the B sequences; advanced by S
     * @return a new tensor [B, S, hidden] (or [S, hidden]) in x's dtype, owned by the caller
     */
    public Tensor forward(Tensor x, long startPos, KvCache cache) {
        checkOpen();
        Check.rows("x", x, compute.device());
        Check.real("x", x);
        int hidden = config.hiddenSize();
        if (x.rank() != 2 && x.rank() != 3 || x.dim(-1) != hidden) {
            throw new IllegalArgumentException("x: expected shape [B, S, " + hidden + "] or [S, " + hidden + "], got " + x.shape());
        }
        int batch = x.rank() == 3 ? Math.toIntExact(x.dim(0)) : 1;
        int seq = Math.toIntExact(x.dim(-2));
        if (batch < 1 || seq < 1) {
            throw new IllegalArgumentException("x: expected at least one token, got " + x.shape());
        }
        checkCache(cache, batch, seq, startPos);
        try (AttentionScratch tmp = new AttentionScratch()) {
            Tensor x2 = x.isContiguous() ? x.reshape((long) batch * seq, hidden) : tmp.keep(compute.upload(x)).reshape((long) batch * seq, hidden);
            Tensor z = tmp.keep(attend(x2, batch, seq, startPos, cache, tmp));
            Tensor out = compute.gemm(x.rank() == 3 ? z.reshape(batch, seq, z.dim(-1)) : z, woB, x.dtype());
            cache.advance(seq);
            return out;
        }
    }

    /** Everything up to the grouped projection: returns z [B*S, G*o_lora] bf16. */
    private Tensor attend(Tensor x, int batch, int seq, long startPos, KvCache cache, AttentionScratch tmp) {
        int heads = config.numHeads();
        int hd = config.headDim();
        int rd = config.ropeDim();
        int window = config.slidingWindow();
        long rows = (long) batch * seq;

        // Queries: low-rank, normalized latent qr (kept for the indexer), per-head RMS norm, RoPE.
        Tensor qr;
        try (Tensor a = compute.gemm(x, wqA, DType.BF16)) {
            qr = tmp.keep(compute.rmsNorm(a, qNorm, eps));
        }
        Tensor q = tmp.keep(compute.gemm(qr, wqB, DType.BF16));
        Tensor qHeads = q.reshape(rows * heads, hd);
        compute.rmsNormInto(qHeads, null, eps, qHeads);
        Tensor q4 = q.reshape(batch, seq, heads, hd);
        AttentionOps.ropeTail(compute, q4, rd, rope, startPos, false);

        // One KV vector per token: norm, RoPE, FP8 simulation of the nope dims.
        Tensor kv = tmp.keep(compute.gemm(x, wkv, DType.BF16));
        compute.rmsNormInto(kv, kvNorm, eps, kv);
        Tensor kv3 = kv.reshape(batch, seq, hd);
        AttentionOps.ropeTail(compute, kv3, rd, rope, startPos, false);
        AttentionOps.fp8SimulateNope(compute, kv, hd - rd);

        // Sources: the window ring as it was before this block, the block's rows, the compressed entries.
        List<KvRows> sources = new ArrayList<>(List.of(cache.windowRows(), KvRows.real(kv3)));
        List<Tensor> lists = new ArrayList<>();
        lists.add(tmp.keep(onDevice(AttentionIndices.window(batch, seq, startPos, window, cache.origin()), tmp)));
        long offset = (long) window + seq;
        if (ratio > 0) {
            long entries = (startPos + seq) / ratio;
            // A cache that began at a later position has no entries before its origin's block.
            long first = cache.origin() / ratio;
            try (Tensor fresh = compressor.compress(x, batch, seq, startPos, cache.compressorKv(), cache.compressorScore())) {
                if (fresh.dim(1) > 0) {
                    kernels.storeKv(fresh, cache.compressedRows(), startPos / ratio, cache.compressedRows().rows());
                }
            }
            Tensor selected = indexer != null
                    ? indexer.select(x, qr, batch, seq, startPos, cache, offset)
                    : entries <= first ? null
                    : onDevice(AttentionIndices.allCompressed(batch, seq, startPos, ratio, offset, first), tmp);
            if (selected != null) {
                lists.add(tmp.keep(selected));
                sources.add(cache.compressedRows().first(entries));
            }
        }

        Tensor o = tmp.keep(compute.allocate(q.dtype(), Shape.of(batch, seq, heads, hd)));
        kernels.sparseAttention(q4, sources, lists, sink, (float) (1.0 / Math.sqrt(hd)), o);
        // The window ring keeps the last W positions, written only now that attention has read the old ones.
        int keep = Math.min(seq, window);
        kernels.storeKv(kv3.slice(1, seq - keep, seq), cache.windowRows(), startPos + seq - keep, window);
        AttentionOps.ropeTail(compute, o, rd, rope, startPos, true);

        // Grouped low-rank output projection: group g's heads times its own o_lora rows of wo_a.
        Tensor z = compute.allocate(DType.BF16, Shape.of(rows, (long) config.oGroups() * config.oLoraRank()));
        try {
            kernels.groupedProjection(o.reshape(rows, (long) heads * hd), woA, config.oGroups(), z);
            return z;
        } catch (RuntimeException e) {
            z.close();
            throw e;
        }
    }

    /** A host-built tensor on this device (itself on the CPU). */
    private Tensor onDevice(Tensor host, AttentionScratch tmp) {
        if (compute.device().equals(host.device())) {
            return host;
        }
        tmp.keep(host);
        return compute.upload(host);
    }

    private void checkCache(KvCache cache, int batch, int seq, long startPos) {
        if (cache == null) {
            throw new IllegalArgumentException("cache: must not be null");
        }
        cache.checkOpen();
        if (cache.compute() != compute && !cache.compute().device().equals(compute.device())) {
            throw new IllegalArgumentException("cache: expected a cache on " + compute.device() + ", got one on " + cache.compute().device());
        }
        if (cache.layer() != layer || !cache.config().equals(config)) {
            throw new IllegalArgumentException("cache: expected a cache of layer " + layer + " of this model, got one of layer " + cache.layer());
        }
        if (cache.batch() != batch) {
            throw new IllegalArgumentException("cache: holds " + cache.batch() + " sequences, x has " + batch);
        }
        if (startPos != cache.position()) {
            throw new IllegalArgumentException("startPos: expected the cache position " + cache.position() + ", got " + startPos);
        }
        if (startPos + seq > cache.capacity()) {
            throw new IllegalArgumentException("x: positions " + startPos + ".." + (startPos + seq - 1)
                    + " exceed the cache capacity of " + cache.capacity() + " positions");
        }
    }

    /** Sizes the ops need that config.json could still get wrong; each message names the key. */
    private static void checkConfig(V4Config c, int ratio) {
        multipleOf128("hidden_size", c.hiddenSize());
        multipleOf128("q_lora_rank", c.qLoraRank());
        multipleOf128("o_groups * o_lora_rank", (long) c.oGroups() * c.oLoraRank());
        if (c.slidingWindow() < 1) {
            throw new IllegalArgumentException("config: sliding_window must be positive, got " + c.slidingWindow());
        }
        if (ratio < 0) {
            throw new IllegalArgumentException("config: compress_ratios must be >= 0, got " + ratio);
        }
        if (ratio == 4) {
            int di = c.indexHeadDim();
            if (c.indexHeads() < 1 || c.indexTopK() < 1) {
                throw new IllegalArgumentException("config: a ratio-4 layer needs index_n_heads and index_topk >= 1, got "
                        + c.indexHeads() + " and " + c.indexTopK());
            }
            if (di < c.ropeDim() || (di & (di - 1)) != 0 || di % AttentionOps.INDEX_FP4_BLOCK != 0) {
                throw new IllegalArgumentException("config: index_head_dim must be a power of two, a multiple of 32 and >= qk_rope_head_dim ("
                        + c.ropeDim() + "), got " + di);
            }
        }
    }

    private static void multipleOf128(String key, long v) {
        if (v % 128 != 0) {
            throw new IllegalArgumentException("config: " + key + " must be a multiple of 128 (FP8 activation blocks), got " + v);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("attention layer " + layer + " is closed");
        }
    }

    /** Frees the weight copies and conversions this layer made; the source's tensors stay open. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            weights.close();
        }
    }
}

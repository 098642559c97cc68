package io.github.ds4j.v4;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.spi.AttentionKernels;

/**
 * The indexer of CSA layers (spec §3.2): scores every complete compressed entry for each query
 * with ReLU-weighted dot products of Hadamard-rotated, FP4-simulated queries and keys, and
 * selects the top-k (−1 where fewer entries are complete).
 */
final class Indexer {
    private final Compute compute;
    private final AttentionKernels kernels;
    private final int heads;
    private final int dim;
    private final int ropeDim;
    private final int topK;
    private final RopeSpec rope;
    private final BlockScaled wqB;
    private final Tensor weightsProj;
    private final Compressor compressor;

    private Indexer(Compute compute, AttentionKernels kernels, V4Config config, AttentionWeightSet weights, String prefix,
                    RopeSpec rope) {
        this.compute = compute;
        this.kernels = kernels;
        this.heads = config.indexHeads();
        this.dim = config.indexHeadDim();
        this.ropeDim = config.ropeDim();
        this.topK = config.indexTopK();
        this.rope = rope;
        this.wqB = weights.fp8(prefix + "wq_b");
        this.weightsProj = weights.real(prefix + "weights_proj.weight");
        this.compressor = Compressor.load(compute, kernels, weights, prefix + "compressor.", 4, dim, ropeDim, rope,
                (float) config.rmsNormEps(), true);
    }

    /** The indexer whose tensors are named {@code prefix + "wq_b.weight"} and so on. */
    static Indexer load(Compute compute, AttentionKernels kernels, V4Config config, AttentionWeightSet weights, String prefix,
                        RopeSpec rope) {
        return new Indexer(compute, kernels, config, weights, prefix, rope);
    }

    /** 1/sqrt(index_head_dim) * 1/sqrt(index_heads): the factor on the head weights. */
    float weightScale() {
        return (float) (1.0 / Math.sqrt(dim) / Math.sqrt(heads));
    }

    /**
     * Updates the indexer keys with the block's tokens and selects, for each query, the top-k
     * complete entries as {@code offset + entry} (−1 in the remaining slots).
     *
     * @param x the block's tokens [B*S, D]
     * @param qr the normalized query latent [B*S, q_lora_rank]
     * @return I32 [B, S, min(index_topk, entries held)], or null while the cache holds no complete entry
     */
    Tensor select(Tensor x, Tensor qr, int batch, int seq, long startPos, KvCache cache, long offset) {
        long end = startPos + seq;
        long firstEntry = startPos / 4;
        try (Tensor keys = compressor.compress(x, batch, seq, startPos, cache.indexerKv(), cache.indexerScore())) {
            if (keys.dim(1) > 0) {
                kernels.storeKv(keys, cache.indexKeyRows(), firstEntry, cache.indexKeyRows().rows());
            }
        }
        int entries = Math.toIntExact(end / 4);
        // Entries before the cache's origin do not exist: score only entries first.., and shift
        // the positions the kernels use for visibility by as many blocks (RoPE keeps startPos).
        long first = cache.origin() / 4;
        int present = Math.toIntExact(entries - first);
        if (present <= 0) {
            return null;
        }
        int k = Math.min(topK, present);
        long visibleFrom = startPos - 4 * first;
        try (Tensor q = compute.gemm(qr, wqB, DType.BF16);
             Tensor w = compute.linear(x, weightsProj, DType.BF16);
             Tensor scores = compute.allocate(DType.F32, Shape.of(batch, seq, present))) {
            Tensor q4 = q.reshape(batch, seq, heads, dim);
            AttentionOps.ropeTail(compute, q4, ropeDim, rope, startPos, false);
            Tensor flat = q.reshape((long) batch * seq * heads, dim);
            compute.hadamardInto(flat, flat);
            compute.fp4SimulateInto(flat, AttentionOps.INDEX_FP4_BLOCK, flat);
            Tensor keys = cache.indexKeys().slice(1, first, entries);
            // Scores stay f32: the public reference rounds the per-head dots, products and sum to
            // bf16, which only reorders entries whose scores tie within bf16 precision.
            kernels.indexerScores(q4, keys, w.reshape(batch, seq, heads), weightScale(), 4, visibleFrom, scores);
            Tensor selected = compute.allocate(DType.I32, Shape.of(batch, seq, k));
            try {
                kernels.indexerTopK(scores, 4, visibleFrom, Math.toIntExact(offset + first), selected);
                return selected;
            } catch (RuntimeException e) {
                selected.close();
                throw e;
            }
        }
    }
}

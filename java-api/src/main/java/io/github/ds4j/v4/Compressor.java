package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.spi.AttentionKernels;

/**
 * The compressor of spec §3.1: gated pooling of {@code ratio} tokens into one entry (overlapping
 * blocks when ratio is 4), then RMSNorm, RoPE at the entry's first position, and the quantization
 * simulation of its consumer: FP8 on the nope dims for attention, Hadamard then FP4 for the
 * indexer. Its decode state lives in the {@link KvCache}.
 */
final class Compressor {
    private final Compute compute;
    private final AttentionKernels kernels;
    private final int ratio;
    private final boolean overlap;
    private final int dim;
    private final int ropeDim;
    private final boolean forIndexer;
    private final RopeSpec rope;
    private final float eps;
    private final Tensor wkv;
    private final Tensor wgate;
    private final Tensor ape;
    private final Tensor norm;

    private Compressor(Compute compute, AttentionKernels kernels, AttentionWeightSet weights, String prefix, int ratio,
                       int dim, int ropeDim, RopeSpec rope, float eps, boolean forIndexer) {
        this.compute = compute;
        this.kernels = kernels;
        this.ratio = ratio;
        this.overlap = ratio == 4;
        this.dim = dim;
        this.ropeDim = ropeDim;
        this.forIndexer = forIndexer;
        this.rope = rope;
        this.eps = eps;
        this.wkv = weights.real(prefix + "wkv.weight");
        this.wgate = weights.real(prefix + "wgate.weight");
        this.ape = weights.f32(prefix + "ape");
        this.norm = weights.real(prefix + "norm.weight");
    }

    /**
     * The compressor whose tensors are named {@code prefix + "wkv.weight"} and so on.
     *
     * @param dim entry size d: head_dim for attention, index_head_dim for the indexer
     * @param forIndexer true for Hadamard + FP4 simulation, false for FP8 on the nope dims
     */
    static Compressor load(Compute compute, AttentionKernels kernels, AttentionWeightSet weights, String prefix, int ratio,
                           int dim, int ropeDim, RopeSpec rope, float eps, boolean forIndexer) {
        return new Compressor(compute, kernels, weights, prefix, ratio, dim, ropeDim, rope, eps, forIndexer);
    }

    /** Channels of the projections: 2d with overlap, d without. */
    int width() {
        return (overlap ? 2 : 1) * dim;
    }

    int ratio() {
        return ratio;
    }

    /**
     * Compresses the tokens x [B*S, D] at positions startPos..startPos+S-1 of each sequence and
     * returns the entries they complete, bf16 [B, n, d] with
     * {@code n = floor((startPos+S)/ratio) − floor(startPos/ratio)} (the caller closes it). The state
     * tensors (F32 [B, c*ratio, c*d]) carry the last tokens from call to call.
     */
    Tensor compress(Tensor x, int batch, int seq, long startPos, Tensor kvState, Tensor scoreState) {
        long firstEntry = Math.floorDiv(startPos, ratio);
        int n = Math.toIntExact(Math.floorDiv(startPos + seq, ratio) - firstEntry);
        // The reference projects in f32: x (bf16) times the bf16 weights, accumulated in f32.
        try (Tensor kv = compute.linear(x, wkv, DType.F32);
             Tensor gate = compute.linear(x, wgate, DType.F32)) {
            Tensor out = compute.allocate(DType.BF16, Shape.of(batch, n, dim));
            try {
                kernels.compressorPool(kv.reshape(batch, seq, width()), gate.reshape(batch, seq, width()), ape, ratio, overlap,
                        startPos, kvState, scoreState, out);
                if (n > 0) {
                    finish(out, batch, n, firstEntry);
                }
                return out;
            } catch (RuntimeException e) {
                out.close();
                throw e;
            }
        }
    }

    /** Norm, RoPE at position e*ratio, and the quantization simulation of new entries [B, n, d]. */
    private void finish(Tensor entries, int batch, int n, long firstEntry) {
        Tensor flat = entries.reshape((long) batch * n, dim);
        compute.rmsNormInto(flat, norm, eps, flat);
        for (int b = 0; b < batch; b++) {
            Tensor r = entries.select(0, b).slice(-1, dim - ropeDim, dim);
            kernels.rope(r, r, rope, firstEntry * ratio, ratio, false);
        }
        if (forIndexer) {
            compute.hadamardInto(flat, flat);
            compute.fp4SimulateInto(flat, AttentionOps.INDEX_FP4_BLOCK, flat);
        } else {
            AttentionOps.fp8SimulateNope(compute, flat, dim - ropeDim);
        }
    }
}

package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Tensor;

/** Steps the attention, compressor and indexer share, composed from {@link Compute} ops. */
final class AttentionOps {
    /** FP8 simulation block of the KV nope dims (spec §3). */
    static final int KV_FP8_BLOCK = 64;
    /** FP4 simulation block of the indexer (spec §3.2). */
    static final int INDEX_FP4_BLOCK = 32;

    private AttentionOps() {
    }

    /**
     * FP8 quantize-dequantize, in place, of the first {@code nope} columns of x [rows, cols] in
     * 64-column blocks. When nope is not a multiple of 64 (small test configs) the last block is
     * shorter, the same tiles the FP8 cache layout uses.
     */
    static void fp8SimulateNope(Compute compute, Tensor x, int nope) {
        int full = nope / KV_FP8_BLOCK * KV_FP8_BLOCK;
        if (full > 0) {
            Tensor v = x.slice(-1, 0, full);
            compute.fp8SimulateInto(v, KV_FP8_BLOCK, v);
        }
        if (nope > full) {
            Tensor v = x.slice(-1, full, nope);
            compute.fp8SimulateInto(v, nope - full, v);
        }
    }

    /**
     * RoPE, in place, on the last {@code ropeDim} columns of x [B, S, ..., headDim]; token s of
     * every sequence sits at {@code startPos + s}.
     */
    static void ropeTail(Compute compute, Tensor x, int ropeDim, RopeSpec rope, long startPos, boolean inverse) {
        long dim = x.dim(-1);
        for (long b = 0; b < x.dim(0); b++) {
            Tensor r = x.select(0, b).slice(-1, dim - ropeDim, dim);
            compute.ropeInto(r, rope, startPos, inverse, r);
        }
    }
}

package io.github.ds4j.spi;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Tensor;

import java.util.List;

/**
 * Kernels of the V4 attention layer that have no generic {@link Backend} op: sparse attention
 * with a sink over index lists, KV cache writes (bf16 rows or the FP8 layout), the compressor's
 * gated pooling, the indexer's scores and top-k, and RoPE at strided positions. A backend that has
 * them returns an implementation from {@link Backend#attentionKernels()}; the layer code in
 * {@code io.github.ds4j.v4} calls only these and the {@link Backend} ops.
 *
 * <p>The layer validates every argument before calling (the contracts below are what a kernel may
 * assume): tensors are open and on the backend's device, dtypes and shapes are as stated, and
 * outputs overlap no input. "Real" means F32 or BF16. Batched tensors have the batch B first;
 * unless a method says otherwise, a batched tensor needs a dense last dimension and may have any
 * strides on its leading dimensions (views of the first rows of a cache are passed as they are).
 */
public interface AttentionKernels {

    /**
     * Token rows of K (= V) that sparse attention reads: real rows, or the FP8 layout of
     * {@link Fp8KvLayout}.
     *
     * @param data real [B, rows or more, headDim] (dense last dimension); or, for FP8, U8
     *     [B, bytes] contiguous with {@code bytes >= fp8.bytes(rows)}
     * @param rows rows of each sequence that may be indexed
     * @param fp8 the byte layout of FP8 rows, or null for real rows
     */
    record KvRows(Tensor data, long rows, Fp8KvLayout fp8) {
        public KvRows {
            if (data == null) {
                throw new IllegalArgumentException("data: must not be null");
            }
            if (rows < 0) {
                throw new IllegalArgumentException("rows: must be >= 0, got " + rows);
            }
            if (fp8 == null) {
                if (data.rank() != 3 || !data.dtype().isReal() || data.dtype() == DType.F16) {
                    throw new IllegalArgumentException("data: expected real rows F32/BF16 [B, rows, headDim], got " + data.dtype() + " " + data.shape());
                }
                if (data.dim(1) < rows) {
                    throw new IllegalArgumentException("data: " + data.shape() + " has fewer than " + rows + " rows");
                }
            } else {
                if (data.rank() != 2 || data.dtype() != DType.U8) {
                    throw new IllegalArgumentException("data: expected FP8 rows as U8 [B, bytes], got " + data.dtype() + " " + data.shape());
                }
                if (data.dim(1) < fp8.bytes(rows)) {
                    throw new IllegalArgumentException("data: " + rows + " FP8 rows need " + fp8.bytes(rows) + " bytes per sequence, got " + data.dim(1));
                }
            }
        }

        /** Real rows: all rows of {@code data} [B, rows, headDim]. */
        public static KvRows real(Tensor data) {
            return new KvRows(data, data.rank() == 3 ? data.dim(1) : 0, null);
        }

        /** FP8 rows: {@code rows} tokens per sequence in {@code bytes} U8 [B, bytes]. */
        public static KvRows fp8(Tensor bytes, long rows, Fp8KvLayout layout) {
            if (layout == null) {
                throw new IllegalArgumentException("layout: must not be null");
            }
            return new KvRows(bytes, rows, layout);
        }

        /** The same storage with only the first {@code n} rows indexable. */
        public KvRows first(long n) {
            if (n < 0 || n > rows) {
                throw new IllegalArgumentException("n: expected 0.." + rows + ", got " + n);
            }
            return new KvRows(data, n, fp8);
        }

        /** True for the FP8 layout. */
        public boolean isFp8() {
            return fp8 != null;
        }

        /** The batch size B. */
        public long batch() {
            return data.dim(0);
        }
    }

    /**
     * The FP8 KV layout of FlashMLA's "MODEL1" (spec §3.3), generalized from the head sizes. A token
     * is a value record of {@code nopeDim} E4M3 codes followed by {@code ropeDim} bf16 values
     * (little-endian), and a scale record of one UE8M0 scale per {@link #TILE} nope values (the last
     * tile may be shorter) plus one pad byte. Tokens are grouped in pages of {@code pageTokens}: a
     * page holds all its value records, then all its scale records, and is padded to a multiple of
     * the value record size. For V4 (512 = 448 + 64): 576 + 8 = 584 bytes per token, and a 64-token
     * page takes 65 * 576 bytes.
     *
     * <p>A nope tile's scale is {@code 2^ceil(log2(max(amax, 1e-4) / 448))} (the rule of spec §2) and
     * its codes {@code e4m3(clamp(x / scale, -448, 448))}; values that went through the FP8
     * simulation with the same tiles are therefore stored exactly.
     *
     * @param headDim values per token
     * @param ropeDim trailing values kept in bf16
     * @param pageTokens tokens per page
     */
    record Fp8KvLayout(int headDim, int ropeDim, int pageTokens) {
        /** Nope values per scale. */
        public static final int TILE = 64;
        /** Tokens per page of FlashMLA's paged cache. */
        public static final int PAGE_TOKENS = 64;

        public Fp8KvLayout {
            if (ropeDim < 0 || ropeDim > headDim || headDim <= 0) {
                throw new IllegalArgumentException("FP8 KV layout: need 0 <= ropeDim <= headDim, got head " + headDim + ", rope " + ropeDim);
            }
            if (pageTokens <= 0) {
                throw new IllegalArgumentException("FP8 KV layout: pageTokens must be positive, got " + pageTokens);
            }
        }

        /** The layout for a head size with the standard 64-token pages. */
        public static Fp8KvLayout of(int headDim, int ropeDim) {
            return new Fp8KvLayout(headDim, ropeDim, PAGE_TOKENS);
        }

        /** Values stored as E4M3. */
        public int nopeDim() {
            return headDim - ropeDim;
        }

        /** Scales per token: one per 64 nope values, rounded up. */
        public int tiles() {
            return (nopeDim() + TILE - 1) / TILE;
        }

        /** Bytes of a value record: E4M3 nope codes then bf16 rope values. */
        public int valueBytes() {
            return nopeDim() + 2 * ropeDim;
        }

        /** Bytes of a scale record: the scales and one pad byte. */
        public int scaleBytes() {
            return tiles() + 1;
        }

        /** Bytes per token before page padding (584 for V4). */
        public int tokenBytes() {
            return valueBytes() + scaleBytes();
        }

        /** Bytes of one page, padded to a multiple of {@link #valueBytes()}. */
        public long pageBytes() {
            long raw = (long) pageTokens * tokenBytes();
            return (raw + valueBytes() - 1) / valueBytes() * valueBytes();
        }

        /** Bytes that hold {@code rows} tokens: whole pages. */
        public long bytes(long rows) {
            return (rows + pageTokens - 1) / pageTokens * pageBytes();
        }

        /** Byte offset of token {@code row}'s value record. */
        public long valueOffset(long row) {
            return row / pageTokens * pageBytes() + row % pageTokens * valueBytes();
        }

        /** Byte offset of token {@code row}'s scale record. */
        public long scaleOffset(long row) {
            return row / pageTokens * pageBytes() + (long) pageTokens * valueBytes() + row % pageTokens * scaleBytes();
        }
    }

    /**
     * Sparse attention with a sink (spec §3): for each query row (b, s) and head h, over the
     * selected rows j of all index lists (−1 entries skipped),
     * {@code s_j = q·k_j * scale}, {@code m = max s_j},
     * {@code out = sum exp(s_j − m) v_j / (sum exp(s_j − m) + exp(sink_h − m))}, with K = V = the
     * row, in f32; a query with no selected row gets zeros. Rows are numbered across the
     * concatenation of {@code sources} (the first source's rows, then the second's, ...), per
     * sequence b.
     *
     * @param q real [B, S, H, headDim]
     * @param sources row stores, each with batch B and headDim columns; together fewer than 2^31 rows
     * @param indices I32 [B, S, K_i] contiguous, one per list; each entry −1 or a row number below
     *     the total row count
     * @param sink F32 [H] contiguous
     * @param scale the logit scale (headDim^-0.5 in V4)
     * @param out real [B, S, H, headDim]
     */
    void sparseAttention(Tensor q, List<KvRows> sources, List<Tensor> indices, Tensor sink, float scale, Tensor out);

    /**
     * The grouped low-rank output projection (spec §3): for each group g of {@code groups},
     * {@code z[r, g*R .. (g+1)*R) = o[r, g*I .. (g+1)*I) · w[g*R .. (g+1)*R, :]^T}, with
     * {@code R = w.rows / groups} and {@code I = w.cols}. The weight's values are used
     * dequantized to bf16 (E4M3 value times its block's scale, rounded to bf16: exact for every
     * scale in the normal range), the activations as they are (not quantized); sums in f32,
     * rounded to z's dtype.
     *
     * @param o real [rows, groups*I] with a row layout
     * @param w FP8 E4M3 weight [groups*R, I] with 128x128 scales (F8_E8M0 or F32)
     * @param groups G, dividing w's rows
     * @param z real [rows, groups*R] with a row layout
     */
    void groupedProjection(Tensor o, BlockScaled w, int groups, Tensor z);

    /**
     * Writes token rows into a row store: row i of sequence b goes to row
     * {@code (firstRow + i) mod modulus} of {@code dst}. Real stores round to their dtype; FP8
     * stores quantize as {@link Fp8KvLayout} describes.
     *
     * @param rows real [B, n, headDim]
     * @param dst the store, batch B, with {@code modulus} rows
     * @param firstRow row of the first token (>= 0)
     * @param modulus the ring size, or the store's row count for a plain append ({@code n <= modulus})
     */
    void storeKv(Tensor rows, KvRows dst, long firstRow, long modulus);

    /**
     * The compressor's gated pooling (spec §3.1) over a block of tokens at positions
     * {@code startPos .. startPos+S-1}, producing every compressed entry whose last token lies in the
     * block. With {@code c = overlap ? 2 : 1} and {@code d = channels / c}: token p contributes
     * {@code kv[p]} with score {@code gate[p] + ape[p mod ratio]}; entry e pools, per channel, with a
     * softmax over its slots: without overlap the ratio tokens of block e (channels 0..d-1); with
     * overlap the tokens of block e−1 on channels 0..d−1, then those of block e on channels d..2d−1
     * (block −1 does not exist: its slots are left out).
     *
     * <p>Tokens before {@code startPos} come from the state: row {@code p mod (c*ratio)} of sequence b
     * holds token p's kv and its score (ape included) for the last {@code c*ratio} positions before
     * {@code startPos}. On return the state holds the last {@code c*ratio} positions before
     * {@code startPos+S}.
     *
     * @param kv F32 [B, S, c*d] projections
     * @param gate F32 [B, S, c*d] gate projections (without ape)
     * @param ape F32 [ratio, c*d] contiguous
     * @param ratio tokens per entry
     * @param overlap true for the overlapping ratio-4 compressor
     * @param startPos position of the first token
     * @param kvState F32 [B, c*ratio, c*d] contiguous
     * @param scoreState F32 [B, c*ratio, c*d] contiguous
     * @param out real [B, n, d] with {@code n = floor((startPos+S)/ratio) − floor(startPos/ratio)}:
     *     entries {@code floor(startPos/ratio)} onward
     */
    void compressorPool(Tensor kv, Tensor gate, Tensor ape, int ratio, boolean overlap, long startPos,
                        Tensor kvState, Tensor scoreState, Tensor out);

    /**
     * Indexer scores (spec §3.2): for the query at position {@code p = startPos + s},
     * {@code scores[b, s, j] = sum_h relu(q[b,s,h]·keys[b,j]) * weights[b,s,h] * weightScale} in f32
     * for the complete entries {@code j < floor((p+1)/ratio)}, and −infinity for the others.
     *
     * @param q real [B, S, Hi, di]
     * @param keys real [B, N, di] compressed indexer keys
     * @param weights real [B, S, Hi] per-head weights
     * @param weightScale factor applied to the weights
     * @param ratio compression ratio of the keys
     * @param startPos position of the first query
     * @param scores F32 [B, S, N] contiguous
     */
    void indexerScores(Tensor q, Tensor keys, Tensor weights, float weightScale, int ratio, long startPos, Tensor scores);

    /**
     * The indexer's selection: for the query at {@code p = startPos + s}, the K = indices.dim(-1)
     * complete entries {@code j < floor((p+1)/ratio)} (and {@code j < N}) with the highest scores,
     * in descending order (ties and NaN as {@link Backend#topK}), written as {@code j + offset};
     * slots beyond the number of complete entries get −1.
     *
     * @param scores F32 [B, S, N]
     * @param ratio compression ratio of the entries
     * @param startPos position of the first query
     * @param offset added to every selected entry (its row number among the attention's sources)
     * @param indices I32 [B, S, K] contiguous
     */
    void indexerTopK(Tensor scores, int ratio, long startPos, int offset, Tensor indices);

    /**
     * RoPE at strided positions: like {@link Backend#rope}, but row group n (index n of the first
     * dimension of x [N, ..., R]) has position {@code firstPos + n * posStride}. Compressed entries
     * use it (entry e sits at position e * ratio).
     *
     * @param x real [N, ..., R] with a row layout
     * @param y real, x's shape and row layout (may be x)
     */
    void rope(Tensor x, Tensor y, RopeSpec rope, long firstPos, long posStride, boolean inverse);
}

package io.github.ds4j.spi;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Tensor;

import java.util.List;

/**
 * Kernels of the V4 MoE layer (spec §4): gating and routing, dispatch, grouped expert GEMMs,
 * the weighted SwiGLU and the combine. A backend that has them returns an implementation from
 * {@link Backend#moeKernels()}; the layer code in {@code io.github.ds4j.v4} calls only these and
 * the {@link Backend} ops, and checks every argument first, so an implementation may assume the
 * shapes and dtypes written here. All tensors live on the backend's device.
 *
 * <p>Names: T tokens, D hidden size, E routed experts, k experts per token, F expert width,
 * P rows of the dispatched (expert-contiguous) order. "Pair" {@code p = t*k + j} is slot j of
 * token t. Index tensors are I32 and contiguous.
 */
public interface MoeKernels {

    /**
     * The padding granularity this backend wants for each expert's group of rows (its grouped
     * GEMM tile); 1 for none.
     */
    default int rowTile() {
        return 1;
    }

    /**
     * Rows the dispatched order may need at most: every pair once plus, for each expert that
     * can be non-empty, up to {@code tile - 1} rows of padding.
     */
    static long dispatchCapacity(long pairs, int experts, int tile) {
        return pairs + Math.min(experts, pairs) * (long) (tile - 1);
    }

    /**
     * Gate scores {@code scores[t, e] = sqrt(softplus(x[t] . w[e]))} in f32, with softplus(z) = z
     * for z > 20 and log1p(exp(z)) otherwise. x [T, D] F32/BF16, w [E, D] F32/BF16, scores
     * [T, E] F32 contiguous.
     */
    void routerScores(Tensor x, Tensor w, Tensor scores);

    /**
     * Biased top-k routing. Selects, per token, the k experts with the largest
     * {@code scores + bias} (f32 sum; descending, ties to the lower index, NaN last); the weights
     * are the UNBIASED scores of the selected experts divided by their f32 sum, times
     * {@code scale}. scores [T, E] F32, bias [E] F32 or null, weights [T, k] F32, indices
     * [T, k] I32 (k = indices.dim(-1)), all contiguous.
     */
    void route(Tensor scores, Tensor bias, float scale, Tensor weights, Tensor indices);

    /**
     * Hash routing: {@code indices[t] = tid2eid[ids[t]]} in table order, weights from the
     * scores as in {@link #route}. tid2eid [vocab, k] I64/I32, ids [T] I64/I32, both contiguous.
     * An id outside the vocabulary or a table entry outside [0, E) is an
     * {@link IllegalArgumentException} where the backend can detect it.
     */
    void routeByHash(Tensor scores, Tensor tid2eid, Tensor ids, float scale, Tensor weights, Tensor indices);

    /**
     * Groups the pairs by expert. {@code counts[e]} = pairs routed to e; {@code offsets[0] = 0},
     * {@code offsets[e+1] = offsets[e] + roundUp(counts[e], tile)}; the group of e occupies rows
     * {@code offsets[e] .. offsets[e]+counts[e]-1} of {@code permutation} with its pairs in
     * ascending pair order, the rest of the group (padding) and every row from
     * {@code offsets[E]} on hold -1. {@code rowOf[t, j]} is the row of pair (t, j).
     * indices [T, k] (values in [0, E)), counts [E], offsets [E+1], permutation [>= P],
     * rowOf [T, k]; all I32 contiguous.
     */
    void dispatch(Tensor indices, int tile, Tensor counts, Tensor offsets, Tensor permutation, Tensor rowOf);

    /**
     * Gathers token rows into dispatched order: {@code dst[r] = src[permutation[r] / k]}, or
     * all-zero bytes where {@code permutation[r] == -1}. Any dtype (byte copies): src [T, C]
     * with a row layout, dst [P, C] contiguous, permutation [P].
     */
    void gatherRows(Tensor src, Tensor permutation, int k, Tensor dst);

    /**
     * Grouped block-scaled GEMM: for each expert e with a non-empty group, rows
     * {@code offsets[e] .. offsets[e+1]-1} of {@code y} = the same rows of {@code a} times
     * {@code weights.get(e)}^T, with the semantics of {@link Backend#fp4Gemm} (MXFP4 weights)
     * or {@link Backend#fp8Gemm} (FP8 weights). {@code weights.get(e)} is null for experts whose
     * group is empty. a: E4M3 [P, K] with 1x128 scales, contiguous; y [P, N] F32/BF16; offsets
     * [E+1] I32.
     */
    void groupedGemm(BlockScaled a, List<BlockScaled> weights, Tensor offsets, Tensor y);

    /**
     * The routed experts' activation with the routing weight applied before w2:
     * {@code y[r] = weights[p] * silu(min(gate[r], limit)) * clamp(up[r], -limit, limit)} in f32
     * with {@code p = permutation[r]}, rounded to y's dtype; rows with p == -1 are zero.
     * limit 0 means no clamp. gate, up, y [P, F] F32/BF16; weights [T, k] F32; permutation [P].
     */
    void weightedSwiglu(Tensor gate, Tensor up, float limit, Tensor weights, Tensor permutation, Tensor y);

    /**
     * Combine back to token order in f32: {@code y[t] = (sum over its k pairs of
     * expertOut[rowOf[t, j]]) + shared[t]}, the pairs added in ascending expert id (then slot)
     * order starting from 0, the shared row last, rounded once to y's dtype. The order depends
     * on the routing only, never on the dispatch layout. expertOut [P, D] F32/BF16; indices,
     * rowOf [T, k]; shared [T, D] F32/BF16 or null; y [T, D] F32/BF16.
     */
    void combine(Tensor expertOut, Tensor indices, Tensor rowOf, Tensor shared, Tensor y);
}

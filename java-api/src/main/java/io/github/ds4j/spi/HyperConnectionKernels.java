package io.github.ds4j.spi;

import io.github.ds4j.Tensor;

/**
 * Kernels of mHC, the manifold-constrained hyper-connections (spec §5): the mixing logits, the
 * Sinkhorn split into pre / post / comb weights, the weighted sum of the streams and the post
 * update. A backend that has them returns an implementation from
 * {@link Backend#hyperConnectionKernels()}; the layer code in {@code io.github.ds4j.v4} checks
 * every argument and calls only these and the {@link Backend} ops.
 *
 * <p>Names: T tokens, n = hc_mult streams, D hidden size, M = (2 + n) * n mixing logits of a
 * sub-layer (n for the final head). Everything computed here is f32; weights (fn, scale, base)
 * are F32; pre, post, comb and the mixes are F32 and contiguous.
 */
public interface HyperConnectionKernels {

    /**
     * Mixing logits {@code mixes[t] = (xf[t] @ fn^T) * rsqrt(mean(xf[t]^2) + normEps)} where
     * xf[t] is token t's n streams flattened to n*D values. x [T, n*D] F32/BF16 with a row
     * layout; fn [M, n*D]; mixes [T, M].
     */
    void mixes(Tensor x, Tensor fn, float normEps, Tensor mixes);

    /**
     * Splits mixing logits into the three weight sets of a sub-layer, per token:
     * <pre>
     * pre  = sigmoid(mix[0:n] * scale[0] + base[0:n]) + eps
     * post = 2 * sigmoid(mix[n:2n] * scale[1] + base[n:2n])
     * C    = (mix[2n:] * scale[2] + base[2n:]) viewed [n, n], row-major
     * C    = softmax of each row + eps;  C = C / (column sums + eps)
     * iters - 1 times:  C = C / (row sums + eps);  C = C / (column sums + eps)
     * </pre>
     * mixes [T, M], scale [3], base [M], pre and post [T, n], comb [T, n, n].
     */
    void sinkhornSplit(Tensor mixes, Tensor scale, Tensor base, int iters, float eps, Tensor pre, Tensor post, Tensor comb);

    /**
     * The final head's stream weights: {@code pre = sigmoid(mix * scale[0] + base) + eps}.
     * mixes [T, n], scale [1], base [n], pre [T, n].
     */
    void headSplit(Tensor mixes, Tensor scale, Tensor base, float eps, Tensor pre);

    /**
     * {@code y[t] = sum over i of pre[t, i] * x[t, i]} in f32 (streams in order), rounded to y's
     * dtype. x [T, n, D] F32/BF16 contiguous; pre [T, n]; y [T, D] F32/BF16 with a row layout.
     */
    void weightedSum(Tensor x, Tensor pre, Tensor y);

    /**
     * The residual update after a sub-layer:
     * {@code y[t, j] = post[t, j] * out[t] + sum over i of comb[t, i, j] * x[t, i]} in f32
     * (the sum over i in order, then the post term added), rounded to y's dtype.
     * out [T, D] F32/BF16 with a row layout; x, y [T, n, D] F32/BF16 contiguous; post [T, n];
     * comb [T, n, n]. y must not overlap x.
     */
    void post(Tensor out, Tensor x, Tensor post, Tensor comb, Tensor y);
}

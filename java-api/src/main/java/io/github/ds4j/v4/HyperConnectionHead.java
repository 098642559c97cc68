package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;

/**
 * The final mHC head (spec §5): folds the residual stream X [T, n, D] into one row per token for
 * the LM head, without Sinkhorn:
 * <pre>
 * mix = (xf @ hc_head_fn^T) * rsqrt(mean(xf^2) + rms_norm_eps)     [T, n]
 * pre = sigmoid(mix * hc_head_scale + hc_head_base) + hc_eps
 * y   = RMSNorm(sum_i pre[i] * X[:, i]; norm.weight)              the sum rounded to X's dtype first
 * </pre>
 * Weights: {@code hc_head_fn [n, n*D]}, {@code hc_head_base [n]}, {@code hc_head_scale [1]} (F32)
 * and {@code norm.weight [D]}; the MTP block's own are {@code mtp.K.hc_head_*} and
 * {@code mtp.K.norm.weight}.
 */
public final class HyperConnectionHead implements AutoCloseable {
    private final StreamMixer mixer;

    private HyperConnectionHead(StreamMixer mixer) {
        this.mixer = mixer;
    }

    /** The model's head: {@code hc_head_*} and {@code norm.weight}. */
    public static HyperConnectionHead load(Compute compute, V4Config config, TensorSource source) {
        return load(compute, config, "", source);
    }

    /** The head of MTP block {@code index}: {@code mtp.<index>.hc_head_*} and {@code mtp.<index>.norm.weight}. */
    public static HyperConnectionHead loadMtp(Compute compute, V4Config config, int index, TensorSource source) {
        if (config != null && (index < 0 || index >= config.mtpLayers())) {
            throw new IllegalArgumentException("index: expected 0.." + (config.mtpLayers() - 1) + " (num_nextn_predict_layers = "
                    + config.mtpLayers() + "), got " + index);
        }
        return load(compute, config, "mtp." + index + ".", source);
    }

    private static HyperConnectionHead load(Compute compute, V4Config config, String prefix, TensorSource source) {
        if (compute == null || config == null || source == null) {
            throw new IllegalArgumentException("compute, config and source must not be null");
        }
        return new HyperConnectionHead(StreamMixer.load(compute, config, source, prefix + "hc_head_", prefix + "norm.weight",
                config.hcMult(), 1));
    }

    /**
     * The normed head input for x [T, n, D] or [B, S, n, D] (F32/BF16, contiguous): [T, D] or
     * [B, S, D] in x's dtype.
     */
    public Tensor apply(Tensor x) {
        Tensor x3 = mixer.checkStreams(x);
        long tokens = x3.dim(0);
        Compute compute = mixer.compute;
        Tensor y = compute.allocate(x.dtype(), StreamMixer.dropStreams(x.shape()));
        try (Tensor mixes = mixer.mixes(x3);
             Tensor pre = compute.allocate(DType.F32, Shape.of(tokens, mixer.streams))) {
            mixer.kernels.headSplit(mixes, mixer.scale, mixer.base, mixer.hcEps, pre);
            mixer.normedSum(x3, pre, y.reshape(tokens, mixer.hidden));
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    /** Frees the weight copies this head made on its device; the source's tensors stay open. */
    @Override
    public void close() {
        mixer.close();
    }
}

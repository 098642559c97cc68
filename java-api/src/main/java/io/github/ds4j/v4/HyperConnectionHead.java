package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.spi.HyperConnectionKernels;

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
public final class HyperConnectionHead {
    private final Compute compute;
    private final HyperConnectionKernels kernels;
    private final Tensor fn;
    private final Tensor base;
    private final Tensor scale;
    private final Tensor norm;
    private final int streams;
    private final int hidden;
    private final float hcEps;
    private final float normEps;

    private HyperConnectionHead(Compute compute, HyperConnectionKernels kernels, Tensor fn, Tensor base, Tensor scale,
                                Tensor norm, V4Config config) {
        this.compute = compute;
        this.kernels = kernels;
        this.fn = fn;
        this.base = base;
        this.scale = scale;
        this.norm = norm;
        this.streams = config.hcMult();
        this.hidden = config.hiddenSize();
        this.hcEps = (float) config.hcEps();
        this.normEps = (float) config.rmsNormEps();
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
        HyperConnections.checkConfig(config);
        HyperConnectionKernels kernels = HyperConnections.kernels(compute);
        int n = config.hcMult();
        Tensor fn = MoeTensors.f32(source, prefix + "hc_head_fn", compute.device(), n, (long) n * config.hiddenSize());
        Tensor base = MoeTensors.f32(source, prefix + "hc_head_base", compute.device(), n);
        Tensor scale = MoeTensors.f32(source, prefix + "hc_head_scale", compute.device(), 1);
        Tensor norm = MoeTensors.real(source, prefix + "norm.weight", compute.device(), config.hiddenSize());
        return new HyperConnectionHead(compute, kernels, fn, base, scale, norm, config);
    }

    /**
     * The normed head input for x [T, n, D] or [B, S, n, D] (F32/BF16, contiguous): [T, D] or
     * [B, S, D] in x's dtype.
     */
    public Tensor apply(Tensor x) {
        Tensor x3 = HyperConnections.checkStreams(compute, x, streams, hidden);
        long tokens = x3.dim(0);
        Tensor y = compute.allocate(x.dtype(), HyperConnections.dropStreams(x.shape()));
        try (Tensor mixes = compute.allocate(DType.F32, Shape.of(tokens, streams));
             Tensor pre = compute.allocate(DType.F32, Shape.of(tokens, streams))) {
            kernels.mixes(x3.reshape(tokens, (long) streams * hidden), fn, normEps, mixes);
            kernels.headSplit(mixes, scale, base, hcEps, pre);
            Tensor y2 = y.reshape(tokens, hidden);
            kernels.weightedSum(x3, pre, y2);
            compute.rmsNormInto(y2, norm, normEps, y2);
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }
}

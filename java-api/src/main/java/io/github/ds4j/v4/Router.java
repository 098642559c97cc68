package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.spi.MoeKernels;

/**
 * The MoE gate of one layer: sqrt-softplus scores from {@code ffn.gate.weight}, then the top-k
 * of the scores plus {@code ffn.gate.bias} on learned layers, or the {@code ffn.gate.tid2eid} row
 * of the token id on hash layers; the weights are the unbiased scores of the chosen experts,
 * normalized and scaled by routed_scaling_factor.
 */
final class Router {
    private final Compute compute;
    private final MoeKernels kernels;
    private final Tensor weight;
    private final Tensor bias;
    private final Tensor tid2eid;
    private final int experts;
    private final int k;
    private final float scale;

    private Router(Compute compute, MoeKernels kernels, Tensor weight, Tensor bias, Tensor tid2eid,
                   int experts, int k, float scale) {
        this.compute = compute;
        this.kernels = kernels;
        this.weight = weight;
        this.bias = bias;
        this.tid2eid = tid2eid;
        this.experts = experts;
        this.k = k;
        this.scale = scale;
    }

    /** Loads and checks the gate of {@code layer} ({@code prefix} = "layers.N."). */
    static Router load(Compute compute, MoeKernels kernels, V4Config config, int layer, String prefix, DeviceWeights weights) {
        int e = config.routedExperts();
        int k = config.expertsPerToken();
        String gate = prefix + "ffn.gate.";
        Tensor w = weights.real(gate + "weight", e, config.hiddenSize());
        Tensor bias = null;
        Tensor table = null;
        if (config.isHashLayer(layer)) {
            table = weights.checked(gate + "tid2eid", new DType[] {DType.I64, DType.I32}, config.vocabSize(), k);
        } else {
            bias = weights.f32(gate + "bias", e);
        }
        return new Router(compute, kernels, w, bias, table, e, k, (float) config.routedScalingFactor());
    }

    boolean isHash() {
        return tid2eid != null;
    }

    /** Routing of x [T, D]; ids [T] (I32/I64, on the device) is read on hash layers only. */
    MoeRouting route(Tensor x, Tensor ids) {
        long tokens = x.dim(0);
        Tensor scores = compute.allocate(DType.F32, Shape.of(tokens, experts));
        try (scores) {
            Tensor weights = compute.allocate(DType.F32, Shape.of(tokens, k));
            Tensor indices = compute.allocate(DType.I32, Shape.of(tokens, k));
            MoeRouting r = new MoeRouting(weights, indices);
            try {
                kernels.routerScores(x, weight, scores);
                if (tid2eid != null) {
                    kernels.routeByHash(scores, tid2eid, ids, scale, weights, indices);
                } else {
                    kernels.route(scores, bias, scale, weights, indices);
                }
                return r;
            } catch (RuntimeException ex) {
                r.close();
                throw ex;
            }
        }
    }
}

package io.github.ds4j.v4;

import io.github.ds4j.BlockScaled;

/**
 * The weights of one SwiGLU expert: w1 (gate) and w3 (up) [F, D], w2 (down) [D, F]; MXFP4 for
 * the routed experts, FP8 128x128 for the shared one. Views of tensors the weights own.
 */
record Expert(BlockScaled w1, BlockScaled w2, BlockScaled w3) {

    /** Routed expert {@code prefix} ("layers.3.ffn.experts.17") in MXFP4. */
    static Expert routed(DeviceWeights weights, String prefix, int d, int f) {
        return new Expert(weights.mxfp4(prefix + ".w1", f, d), weights.mxfp4(prefix + ".w2", d, f), weights.mxfp4(prefix + ".w3", f, d));
    }

    /** The shared expert {@code prefix} ("layers.3.ffn.shared_experts") in FP8. */
    static Expert shared(DeviceWeights weights, String prefix, int d, int f) {
        return new Expert(weights.fp8(prefix + ".w1", f, d), weights.fp8(prefix + ".w2", d, f), weights.fp8(prefix + ".w3", f, d));
    }
}

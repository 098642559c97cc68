package io.github.ds4j.v4;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Device;

/**
 * The weights of one SwiGLU expert: w1 (gate) and w3 (up) [F, D], w2 (down) [D, F]; MXFP4 for
 * the routed experts, FP8 128x128 for the shared one. Views of tensors the source owns.
 */
record Expert(BlockScaled w1, BlockScaled w2, BlockScaled w3) {

    /** Routed expert {@code prefix} ("layers.3.ffn.experts.17") in MXFP4. */
    static Expert routed(TensorSource source, String prefix, Device device, int d, int f) {
        return new Expert(MoeTensors.mxfp4(source, prefix + ".w1", device, f, d),
                MoeTensors.mxfp4(source, prefix + ".w2", device, d, f),
                MoeTensors.mxfp4(source, prefix + ".w3", device, f, d));
    }

    /** The shared expert {@code prefix} ("layers.3.ffn.shared_experts") in FP8. */
    static Expert shared(TensorSource source, String prefix, Device device, int d, int f) {
        return new Expert(MoeTensors.fp8(source, prefix + ".w1", device, f, d),
                MoeTensors.fp8(source, prefix + ".w2", device, d, f),
                MoeTensors.fp8(source, prefix + ".w3", device, f, d));
    }
}

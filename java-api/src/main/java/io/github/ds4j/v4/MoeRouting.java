package io.github.ds4j.v4;

import io.github.ds4j.Tensor;

/**
 * Where the MoE router sends each token (spec §4): for token t, slot j goes to expert
 * {@code indices[t, j]} with routing weight {@code weights[t, j]}. Both are [T, k] and owned by
 * this record; weights are F32 (normalized over the k slots, times routed_scaling_factor),
 * indices I32 (descending biased score on learned layers, tid2eid order on hash layers).
 */
public record MoeRouting(Tensor weights, Tensor indices) implements AutoCloseable {
    @Override
    public void close() {
        weights.close();
        indices.close();
    }
}

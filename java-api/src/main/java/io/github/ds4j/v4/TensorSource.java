package io.github.ds4j.v4;

import io.github.ds4j.Tensor;

/**
 * Where a layer gets its weights: tensors by their checkpoint names ("layers.3.attn.wq_a.weight").
 * A checkpoint on disk, an in-memory map in tests, or a cache of uploaded device tensors.
 * The source owns the tensors it returns.
 */
public interface TensorSource {

    /** The tensor called {@code name}; throws {@link IllegalArgumentException} naming it if absent. */
    Tensor tensor(String name);

    /** True when a tensor of that name exists. */
    boolean contains(String name);
}

package io.github.ds4j.spi;

/**
 * Kernels of the V4 attention layer: sparse attention with a sink, compressor pooling, indexer scores. A backend that has them returns an implementation from the matching
 * {@link Backend} accessor; the layer code in {@code io.github.ds4j.v4} calls only these and the
 * {@link Backend} ops.
 */
public interface AttentionKernels {
}

package io.github.ds4j.spi;

/**
 * Kernels of mHC (manifold-constrained hyper-connections): mixing weights, Sinkhorn, pre and post. A backend that has them returns an implementation from the matching
 * {@link Backend} accessor; the layer code in {@code io.github.ds4j.v4} calls only these and the
 * {@link Backend} ops.
 */
public interface HyperConnectionKernels {
}

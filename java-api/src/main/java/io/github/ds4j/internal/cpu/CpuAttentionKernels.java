package io.github.ds4j.internal.cpu;

import io.github.ds4j.spi.AttentionKernels;

/** The CPU implementation of {@link AttentionKernels}. */
final class CpuAttentionKernels implements AttentionKernels {
}

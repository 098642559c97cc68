package io.github.ds4j.internal.cpu;

import io.github.ds4j.spi.MoeKernels;

/** The CPU implementation of {@link MoeKernels}. */
final class CpuMoeKernels implements MoeKernels {
}

package io.github.ds4j.internal.cpu;

import io.github.ds4j.spi.HyperConnectionKernels;

/** The CPU implementation of {@link HyperConnectionKernels}. */
final class CpuHyperConnectionKernels implements HyperConnectionKernels {
}

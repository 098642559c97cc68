package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.internal.cpu.CpuBackend;

/** What the layer tests share: the CPU they run on (the shared backend, nothing to close) and the tiny model. */
final class LayerTests {
    static final Compute CPU = Compute.of(CpuBackend.shared());
    /** {@link V4Config#tiny()}: hidden 256, layers with ratios 0, 4, 16, 4 and an MTP block. */
    static final V4Config TINY = V4Config.tiny();

    private LayerTests() {
    }
}

/**
 * ds4j: DeepSeek-V4 layers from Java. Tensors, number formats, the backend SPI, safetensors and
 * the CPU reference backend. SIMD needs {@code --add-modules jdk.incubator.vector}; without it the
 * CPU runs scalar loops and says so.
 */
module io.github.ds4j {
    requires static jdk.incubator.vector;

    exports io.github.ds4j;
    exports io.github.ds4j.format;
    exports io.github.ds4j.spi;
    exports io.github.ds4j.safetensors;
    exports io.github.ds4j.v4;

    uses io.github.ds4j.spi.BackendProvider;

    provides io.github.ds4j.spi.BackendProvider with io.github.ds4j.internal.cpu.CpuProvider;
}

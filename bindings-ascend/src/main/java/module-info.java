/**
 * ds4j's Ascend backend. It probes for the AscendCL runtime and, until ds4j has Ascend kernels,
 * reports that plainly instead of offering a device. Nothing is exported: the backend is found
 * through {@link io.github.ds4j.spi.BackendProvider}.
 */
module io.github.ds4j.ascend {
    requires io.github.ds4j;

    provides io.github.ds4j.spi.BackendProvider with io.github.ds4j.ascend.internal.AscendProvider;
}

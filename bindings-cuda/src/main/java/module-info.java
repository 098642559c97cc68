/**
 * ds4j's CUDA backend: Java FFM bindings to the CUDA driver API ({@code libcuda.so.1}, found at
 * run time) and ds4j's kernels, shipped in this jar as fatbins. Users reach it through
 * {@code Compute.open("cuda")}; the only public types are the provider and the exception.
 */
module io.github.ds4j.cuda {
    requires io.github.ds4j;

    exports io.github.ds4j.cuda;

    provides io.github.ds4j.spi.BackendProvider with io.github.ds4j.cuda.CudaProvider;
}

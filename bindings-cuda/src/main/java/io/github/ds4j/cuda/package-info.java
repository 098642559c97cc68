/**
 * The CUDA backend: {@link io.github.ds4j.cuda.CudaProvider} (found by
 * {@link java.util.ServiceLoader}; {@code Compute.open("cuda")} uses it) and
 * {@link io.github.ds4j.cuda.CudaException}, thrown when a driver call fails. Everything else is
 * internal: the driver bindings, device memory, streams, modules and the kernel launchers.
 */
package io.github.ds4j.cuda;

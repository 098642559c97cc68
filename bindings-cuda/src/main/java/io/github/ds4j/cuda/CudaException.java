package io.github.ds4j.cuda;

import io.github.ds4j.NativeException;

/**
 * A CUDA driver call returned an error. The message names the call, the numeric {@code CUresult}
 * and the driver's own name and description of it ({@code cuGetErrorName},
 * {@code cuGetErrorString}), e.g. {@code "cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2):
 * out of memory"}. A kernel fault surfaces at the next call that waits for the stream.
 */
public final class CudaException extends NativeException {
    private static final long serialVersionUID = 1L;

    private final String description;

    /**
     * @param call the driver function, e.g. "cuMemAlloc_v2"
     * @param status the {@code CUresult} it returned
     * @param errorName {@code cuGetErrorName} of the status
     * @param description {@code cuGetErrorString} of the status, or null
     */
    public CudaException(String call, int status, String errorName, String description) {
        super(call, status, errorName, description);
        this.description = description;
    }

    /** The driver's description of the status ({@code cuGetErrorString}), or null if it gave none. */
    public String description() {
        return description;
    }
}

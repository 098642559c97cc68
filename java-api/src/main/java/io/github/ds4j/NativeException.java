package io.github.ds4j;

/**
 * A native call returned an error status. Carries the call's name, the numeric status and the
 * library's own name and description of it (for CUDA: cuGetErrorName / cuGetErrorString).
 */
public class NativeException extends Ds4jException {
    private final String call;
    private final int status;
    private final String errorName;

    public NativeException(String call, int status, String errorName, String description) {
        super(call + " failed: " + errorName + " (" + status + ")" + (description == null || description.isEmpty() ? "" : ": " + description));
        this.call = call;
        this.status = status;
        this.errorName = errorName;
    }

    /** The native function that failed, e.g. "cuMemAlloc_v2". */
    public String call() {
        return call;
    }

    /** The numeric status it returned. */
    public int status() {
        return status;
    }

    /** The library's symbolic name for the status, e.g. "CUDA_ERROR_OUT_OF_MEMORY". */
    public String errorName() {
        return errorName;
    }
}

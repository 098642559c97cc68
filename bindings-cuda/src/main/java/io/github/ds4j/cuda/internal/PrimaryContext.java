package io.github.ds4j.cuda.internal;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A retained primary context of one device (the context the CUDA runtime and other libraries in
 * the process share). {@link #makeCurrent()} binds it to the calling thread; every resource class
 * calls it before its driver calls, so any thread may use them. Closing releases the retain.
 */
public final class PrimaryContext implements AutoCloseable {
    private final int device;
    private final long handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    private PrimaryContext(int device, long handle) {
        this.device = device;
        this.handle = handle;
    }

    /** Retains the primary context of the CUdevice {@code device}. */
    public static PrimaryContext retain(int device) {
        return new PrimaryContext(device, CudaDriver.primaryContextRetain(device));
    }

    /** Makes this context current on the calling thread. */
    public void makeCurrent() {
        if (closed.get()) {
            throw new IllegalStateException("the CUDA context of device " + device + " is released");
        }
        CudaDriver.contextSetCurrent(handle);
    }

    public int device() {
        return device;
    }

    public long handle() {
        return handle;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            CudaDriver.primaryContextRelease(device);
        }
    }
}

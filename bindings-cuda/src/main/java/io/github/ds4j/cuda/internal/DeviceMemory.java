package io.github.ds4j.cuda.internal;

import java.util.concurrent.atomic.AtomicBoolean;

/** One device allocation (cuMemAlloc); closing frees it once. */
public final class DeviceMemory implements AutoCloseable {
    private final PrimaryContext context;
    private final long address;
    private final long bytes;
    private final AtomicBoolean closed = new AtomicBoolean();

    private DeviceMemory(PrimaryContext context, long address, long bytes) {
        this.context = context;
        this.address = address;
        this.bytes = bytes;
    }

    /** {@code bytes} (at least 1) of uninitialized device memory. */
    public static DeviceMemory allocate(PrimaryContext context, long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("bytes: expected at least 1, got " + bytes);
        }
        context.makeCurrent();
        return new DeviceMemory(context, CudaDriver.memAlloc(bytes), bytes);
    }

    public long address() {
        return address;
    }

    public long bytes() {
        return bytes;
    }

    public boolean isClosed() {
        return closed.get();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            context.makeCurrent();
            CudaDriver.memFree(address);
        }
    }
}

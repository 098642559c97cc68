package io.github.ds4j.cuda.internal;

import java.util.concurrent.atomic.AtomicBoolean;

/** A non-blocking CUDA stream: work on it does not wait for the legacy default stream. */
public final class CudaStream implements AutoCloseable {
    private final PrimaryContext context;
    private final long handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaStream(PrimaryContext context, long handle) {
        this.context = context;
        this.handle = handle;
    }

    public static CudaStream create(PrimaryContext context) {
        context.makeCurrent();
        return new CudaStream(context, CudaDriver.streamCreate(CudaDriver.CU_STREAM_NON_BLOCKING));
    }

    public long handle() {
        return handle;
    }

    /** Waits for everything queued on this stream; a kernel fault surfaces here as a CudaException. */
    public void synchronize() {
        context.makeCurrent();
        CudaDriver.streamSynchronize(handle);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            context.makeCurrent();
            CudaDriver.streamDestroy(handle);
        }
    }
}

package io.github.ds4j.cuda.internal;

import java.util.concurrent.atomic.AtomicBoolean;

/** A CUDA event with timing enabled: recorded on a stream, it times device work between two records. */
public final class CudaEvent implements AutoCloseable {
    private final PrimaryContext context;
    private final long handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaEvent(PrimaryContext context, long handle) {
        this.context = context;
        this.handle = handle;
    }

    public static CudaEvent create(PrimaryContext context) {
        context.makeCurrent();
        return new CudaEvent(context, CudaDriver.eventCreate(CudaDriver.CU_EVENT_DEFAULT));
    }

    /** Records this event at the current end of {@code stream}. */
    public void record(CudaStream stream) {
        context.makeCurrent();
        CudaDriver.eventRecord(handle, stream.handle());
    }

    /** Waits until the work before the record is done. */
    public void synchronize() {
        context.makeCurrent();
        CudaDriver.eventSynchronize(handle);
    }

    /** Device milliseconds from {@code start} to {@code end} (both recorded; waits for end). */
    public static float elapsedMillis(CudaEvent start, CudaEvent end) {
        end.synchronize();
        return CudaDriver.eventElapsedMillis(start.handle, end.handle);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            context.makeCurrent();
            CudaDriver.eventDestroy(handle);
        }
    }
}

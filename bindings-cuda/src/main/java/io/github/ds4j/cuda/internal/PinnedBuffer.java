package io.github.ds4j.cuda.internal;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/** Page-locked host memory (cuMemAllocHost): copies from and to it run at full bus speed. */
public final class PinnedBuffer implements AutoCloseable {
    private final PrimaryContext context;
    private final MemorySegment segment;
    private final AtomicBoolean closed = new AtomicBoolean();

    private PinnedBuffer(PrimaryContext context, MemorySegment segment) {
        this.context = context;
        this.segment = segment;
    }

    public static PinnedBuffer allocate(PrimaryContext context, long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("bytes: expected at least 1, got " + bytes);
        }
        context.makeCurrent();
        return new PinnedBuffer(context, CudaDriver.memAllocHost(bytes));
    }

    /** The host bytes; do not use after {@link #close()}. */
    public MemorySegment segment() {
        if (closed.get()) {
            throw new IllegalStateException("pinned buffer is closed");
        }
        return segment;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            context.makeCurrent();
            CudaDriver.memFreeHost(segment.address());
        }
    }
}

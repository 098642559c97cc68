package io.github.ds4j.cuda.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/** A loaded module (one kernel family's fatbin or PTX); its functions live until it is unloaded. */
public final class CudaModule implements AutoCloseable {
    private final PrimaryContext context;
    private final long handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaModule(PrimaryContext context, long handle) {
        this.context = context;
        this.handle = handle;
    }

    /** Loads a fatbin or PTX image (PTX is passed NUL-terminated, as the driver needs). */
    public static CudaModule load(PrimaryContext context, byte[] image) {
        context.makeCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(image.length + 1L, 16); // zeroed: the last byte is the NUL
            MemorySegment.copy(MemorySegment.ofArray(image), 0, bytes, 0, image.length);
            return new CudaModule(context, CudaDriver.moduleLoadData(bytes));
        }
    }

    /** The CUfunction of the entry point {@code name}. */
    public long function(String name) {
        context.makeCurrent();
        return CudaDriver.moduleGetFunction(handle, name);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            context.makeCurrent();
            CudaDriver.moduleUnload(handle);
        }
    }
}

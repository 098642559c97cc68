package io.github.ds4j;

import io.github.ds4j.spi.Backend;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes on a device: a {@link MemorySegment} (readable from Java only on the host; for device
 * memory it carries the device address and size), the backend that allocated it, and how to free
 * it. Closing is idempotent. Storages that are collected unclosed are reported as leaks by a
 * warning; they are never freed behind the owner's back.
 */
public final class Storage implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("io.github.ds4j.leaks");
    private static final Cleaner CLEANER = Cleaner.create();
    private static final Map<Device, AtomicLong> LIVE = new ConcurrentHashMap<>();

    private final MemorySegment segment;
    private final Backend backend;
    private final Runnable release;
    private final LeakWatch watch;
    private final Cleaner.Cleanable cleanable;

    private Storage(MemorySegment segment, Backend backend, Runnable release) {
        this.segment = segment;
        this.backend = backend;
        this.release = release;
        if (release != null) {
            this.watch = new LeakWatch(backend.device(), segment.byteSize());
            LIVE.computeIfAbsent(backend.device(), d -> new AtomicLong()).incrementAndGet();
            this.cleanable = CLEANER.register(this, watch);
        } else {
            this.watch = null;
            this.cleanable = null;
        }
    }

    /**
     * Storage that this object owns: {@code release} runs once, on the first {@link #close()}.
     * For backends.
     */
    public static Storage owned(MemorySegment segment, Backend backend, Runnable release) {
        if (release == null) {
            throw new IllegalArgumentException("release must not be null for owned storage");
        }
        return new Storage(segment, backend, release);
    }

    /**
     * Storage over memory someone else owns (a user's arena, a mapped file): close does nothing,
     * and the storage is usable while the segment's scope is alive.
     */
    public static Storage borrowed(MemorySegment segment, Backend backend) {
        return new Storage(segment, backend, null);
    }

    /** The bytes; dereference only when {@link #device()} is the host. */
    public MemorySegment segment() {
        checkAlive();
        return segment;
    }

    public long byteSize() {
        return segment.byteSize();
    }

    public Backend backend() {
        return backend;
    }

    public Device device() {
        return backend.device();
    }

    /** False once closed, or once the owner of borrowed memory closed it. */
    public boolean isAlive() {
        return (watch == null || !watch.closed.get()) && segment.scope().isAlive();
    }

    /** Throws {@link IllegalStateException} when not alive. */
    public void checkAlive() {
        if (!isAlive()) {
            throw new IllegalStateException("storage on " + device() + " is closed");
        }
    }

    @Override
    public void close() {
        if (watch != null && watch.closed.compareAndSet(false, true)) {
            LIVE.get(backend.device()).decrementAndGet();
            cleanable.clean();
            release.run();
        }
    }

    /** Storages allocated on {@code device} and not yet closed. */
    public static long liveCount(Device device) {
        AtomicLong n = LIVE.get(device);
        return n == null ? 0 : n.get();
    }

    /** Runs when an owned storage becomes unreachable: warns if it was never closed. */
    private static final class LeakWatch implements Runnable {
        final AtomicBoolean closed = new AtomicBoolean();
        final Device device;
        final long bytes;

        LeakWatch(Device device, long bytes) {
            this.device = device;
            this.bytes = bytes;
        }

        @Override
        public void run() {
            if (!closed.get()) {
                LOG.log(System.Logger.Level.WARNING,
                        "ds4j: a tensor storage of " + bytes + " bytes on " + device
                                + " was garbage-collected without close(); its memory is leaked");
            }
        }
    }
}

package io.github.ds4j.internal.cpu;

import io.github.ds4j.Storage;
import io.github.ds4j.spi.Backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * The host memory of the CPU backend's tensors, recycled. Each block lives in its own shared
 * arena (any thread may use a tensor), and closing a shared arena costs a handshake with every
 * Java thread: tens of microseconds, more than most ops of a decode step take, and a step
 * allocates about a hundred temporaries. So a closed tensor's block goes back to a free list of
 * its size class, and the next allocation of that class takes it, zeroed, instead of mapping new
 * memory. At most {@link #MAX_CACHED} bytes wait in the lists (beyond that, and for blocks above
 * {@link #MAX_BLOCK}, the arena is closed as before).
 *
 * <p>A recycled block's old tensor is closed ({@link Storage} refuses it), so only code that kept
 * a raw segment past {@code close()} could see the new contents.
 */
final class HostPool {
    /** Bytes kept for reuse at most: {@code -Dds4j.cpu.pool.bytes}, default 256 MiB. */
    static final long MAX_CACHED = Long.getLong("ds4j.cpu.pool.bytes", 256L << 20);
    /** Larger blocks are unmapped on close (reusing them saves little next to what they hold). */
    static final long MAX_BLOCK = 64L << 20;
    /** Smallest block. */
    private static final long MIN_BLOCK = 256;

    private final Map<Long, ArrayDeque<Block>> free = new HashMap<>();
    private long cached;

    private record Block(Arena arena, MemorySegment segment) {
    }

    /** Zeroed host memory of {@code bytes} bytes, owned by the returned storage. */
    Storage allocate(long bytes, Backend backend) {
        long size = bytes > MAX_BLOCK ? bytes : sizeClass(bytes);
        Block block = size <= MAX_BLOCK ? take(size) : null;
        if (block == null) {
            Arena arena = Arena.ofShared();
            try {
                block = new Block(arena, arena.allocate(size, 64)); // new memory is zeroed
            } catch (RuntimeException | OutOfMemoryError e) {
                arena.close();
                throw e;
            }
        } else {
            block.segment.asSlice(0, bytes).fill((byte) 0);
        }
        Block b = block;
        return Storage.owned(b.segment.asSlice(0, bytes), backend, () -> give(b));
    }

    /**
     * Rounds up to one of four classes per power of two (at most 25% unused), so that blocks of
     * similar sizes (a decode step's, a prefill chunk's) are reused for each other.
     */
    static long sizeClass(long bytes) {
        if (bytes <= MIN_BLOCK) {
            return MIN_BLOCK;
        }
        long step = Long.highestOneBit(bytes - 1) >> 2;
        return (bytes + step - 1) / step * step;
    }

    private synchronized Block take(long size) {
        ArrayDeque<Block> list = free.get(size);
        Block b = list == null ? null : list.pollLast();
        if (b != null) {
            cached -= size;
        }
        return b;
    }

    private void give(Block b) {
        long size = b.segment.byteSize();
        synchronized (this) {
            if (size <= MAX_BLOCK && cached + size <= MAX_CACHED) {
                free.computeIfAbsent(size, s -> new ArrayDeque<>()).addLast(b);
                cached += size;
                return;
            }
        }
        b.arena.close();
    }

    /** Bytes waiting for reuse. */
    synchronized long cachedBytes() {
        return cached;
    }
}

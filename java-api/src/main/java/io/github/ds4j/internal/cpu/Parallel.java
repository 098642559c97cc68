package io.github.ds4j.internal.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * Splits index ranges over all cores. Uses its own daemon pool with one worker per core: the
 * common pool has one worker fewer than the cores (it counts on the caller to help), which on a
 * 2-core machine would leave the fast paths on a single thread. {@code -Dds4j.cpu.threads=N}
 * overrides the count.
 */
final class Parallel {
    /** Worker count the fast paths use. */
    static final int THREADS = Math.max(1, Integer.getInteger("ds4j.cpu.threads", Runtime.getRuntime().availableProcessors()));

    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS, pool -> {
        var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("ds4j-cpu-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
    }, null, false);

    private Parallel() {
    }

    interface RangeBody {
        void run(long from, long to);
    }

    /**
     * Runs {@code body} over [0, n) in chunks of at least {@code grain} indexes, in parallel when
     * there is more than one chunk.
     */
    static void forRange(long n, long grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        long chunks = Math.min(THREADS * 4L, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || THREADS == 1) {
            body.run(0, n);
            return;
        }
        long step = (n + chunks - 1) / chunks;
        POOL.invoke(new Split(0, n, step, body));
    }

    private static final class Split extends RecursiveAction {
        private final long from;
        private final long to;
        private final long step;
        private final RangeBody body;

        Split(long from, long to, long step, RangeBody body) {
            this.from = from;
            this.to = to;
            this.step = step;
            this.body = body;
        }

        @Override
        protected void compute() {
            if (to - from <= step) {
                body.run(from, to);
                return;
            }
            long mid = from + ((to - from) / step / 2) * step;
            if (mid <= from) {
                mid = from + step;
            }
            invokeAll(new Split(from, mid, step, body), new Split(mid, to, step, body));
        }
    }
}

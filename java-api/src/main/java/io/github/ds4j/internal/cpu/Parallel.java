package io.github.ds4j.internal.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * Splits index ranges over all cores: the calling thread works alongside the common fork-join
 * pool, whose parallelism is one less than the core count by default (on 2 cores: 1 worker).
 */
final class Parallel {
    /** Threads the fast paths use: the common pool's workers plus the caller. */
    static final int THREADS = Math.max(1, ForkJoinPool.getCommonPoolParallelism() + 1);

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
        // invoke() runs the root task in this thread, which then computes one half of every
        // split while the pool's workers take the forked halves.
        new Split(0, n, step, body).invoke();
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

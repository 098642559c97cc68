package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * One V4 decoder block (spec §5): mHC around the attention sub-layer, then mHC around the MoE
 * sub-layer, on the residual streams X [B, S, hc, D].
 *
 * <pre>{@code
 * try (Block block = Block.load(compute, config, layer, checkpoint.layer(layer, Checkpoint.Part.BLOCK));
 *      KvCache cache = block.newCache(1, 4096, KvCache.Format.BF16);
 *      Tensor y = block.forward(x, inputIds, cache)) { ... }
 * }</pre>
 */
public final class Block implements AutoCloseable {
    private final Compute compute;
    private final int layer;
    private final HyperConnections attnMix;
    private final HyperConnections ffnMix;
    private final Attention attention;
    private final Moe moe;
    private final Timings timings = new Timings();

    private Block(Compute compute, int layer, HyperConnections attnMix, HyperConnections ffnMix, Attention attention, Moe moe) {
        this.compute = compute;
        this.layer = layer;
        this.attnMix = attnMix;
        this.ffnMix = ffnMix;
        this.attention = attention;
        this.moe = moe;
    }

    /**
     * Loads layer {@code layer} (the MTP block is layer num_hidden_layers) by its shipped tensor
     * names. Weights not on the compute device yet are copied there and freed by {@link #close()}.
     */
    public static Block load(Compute compute, V4Config config, int layer, TensorSource weights) {
        List<AutoCloseable> loaded = new ArrayList<>();
        try {
            HyperConnections attnMix = keep(loaded, HyperConnections.load(compute, config, layer, HyperConnections.Site.ATTENTION, weights));
            HyperConnections ffnMix = keep(loaded, HyperConnections.load(compute, config, layer, HyperConnections.Site.FFN, weights));
            Attention attention = keep(loaded, Attention.load(compute, config, layer, weights));
            Moe moe = keep(loaded, Moe.load(compute, config, layer, weights));
            return new Block(compute, layer, attnMix, ffnMix, attention, moe);
        } catch (RuntimeException e) {
            for (AutoCloseable part : loaded.reversed()) {
                closeQuietly(part, e);
            }
            throw e;
        }
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> loaded, T part) {
        loaded.add(part);
        return part;
    }

    private static void closeQuietly(AutoCloseable part, RuntimeException failure) {
        try {
            part.close();
        } catch (Exception e) {
            failure.addSuppressed(e);
        }
    }

    public int layer() {
        return layer;
    }

    public Attention attention() {
        return attention;
    }

    public Moe moe() {
        return moe;
    }

    /** A cache for this block's attention: {@code batch} sequences of up to {@code capacity} positions. */
    public KvCache newCache(int batch, long capacity, KvCache.Format format) {
        return attention.newCache(batch, capacity, format);
    }

    /**
     * Runs S new tokens of B sequences through the block; their positions continue the cache's.
     *
     * @param x        residual streams [B, S, hc, D] (F32 or BF16, contiguous)
     * @param inputIds token ids [B, S] (I32/I64), needed by hash-routed layers, else may be null
     * @param cache    this block's cache, advanced by S
     * @return the new residual streams, shaped and typed like x, owned by the caller
     */
    public Tensor forward(Tensor x, Tensor inputIds, KvCache cache) {
        checkIds(x, inputIds);
        Tensor mid;
        long t0 = System.nanoTime();
        try (HyperConnections.Pre pre = attnMix.pre(x)) {
            long t1 = mark();
            try (Tensor out = attention.forward(pre.input(), cache.position(), cache)) {
                long t2 = mark();
                mid = attnMix.post(pre, out, x);
                long t3 = mark();
                timings.add(t1 - t0 + t3 - t2, t2 - t1, 0);
            }
        }
        try (mid) {
            long t0b = System.nanoTime();
            try (HyperConnections.Pre pre = ffnMix.pre(mid)) {
                long t1 = mark();
                try (Tensor out = moe.forward(pre.input(), inputIds)) {
                    long t2 = mark();
                    Tensor y = ffnMix.post(pre, out, mid);
                    long t3 = mark();
                    timings.add(t1 - t0b + t3 - t2, 0, t2 - t1);
                    return y;
                }
            }
        }
    }

    /**
     * Fails before any work (so the cache does not advance) when a hash-routed layer gets no ids
     * or ids of the wrong count; the MoE checks dtype and vocabulary range itself.
     */
    private void checkIds(Tensor x, Tensor inputIds) {
        if (x == null) {
            throw new IllegalArgumentException("x: must not be null");
        }
        if (!moe.isHashRouted()) {
            return;
        }
        if (inputIds == null) {
            throw new IllegalArgumentException("inputIds: layer " + layer + " routes by token id (tid2eid) and needs the input ids");
        }
        // x itself is checked by the mHC; here only its token count matters.
        long perToken = x.rank() < 3 ? 0 : x.dim(-1) * x.dim(-2);
        long tokens = perToken == 0 ? -1 : x.shape().numel() / perToken;
        if (tokens >= 0 && inputIds.numel() != tokens) {
            throw new IllegalArgumentException("inputIds: expected one id per token (" + tokens + " for x " + x.shape()
                    + "), got shape " + inputIds.shape());
        }
    }

    /** Time spent in each part since the block was loaded (or last reset). */
    public Timings timings() {
        return timings;
    }

    private long mark() {
        if (Timings.SYNCHRONIZE) {
            compute.synchronize();
        }
        return System.nanoTime();
    }

    /** Frees what loading placed on the device (the source's tensors stay open). Idempotent. */
    @Override
    public void close() {
        attnMix.close();
        ffnMix.close();
        attention.close();
        moe.close();
    }

    /**
     * Wall time per part of the block, in nanoseconds. On accelerators the parts are timed with a
     * synchronize between them only when {@code -Dds4j.timings.sync=true}; otherwise they measure
     * queueing, and only the total after a synchronize is meaningful.
     */
    public static final class Timings {
        static final boolean SYNCHRONIZE = Boolean.getBoolean("ds4j.timings.sync");
        private long mixing;
        private long attention;
        private long moe;
        private long calls;

        synchronized void add(long mixingNanos, long attentionNanos, long moeNanos) {
            mixing += mixingNanos;
            attention += attentionNanos;
            moe += moeNanos;
            if (moeNanos > 0) {
                calls++;
            }
        }

        /** mHC pre/post (both sub-layers), ns. */
        public synchronized long mixingNanos() {
            return mixing;
        }

        public synchronized long attentionNanos() {
            return attention;
        }

        public synchronized long moeNanos() {
            return moe;
        }

        /** Forward calls timed. */
        public synchronized long calls() {
            return calls;
        }

        public synchronized void reset() {
            mixing = 0;
            attention = 0;
            moe = 0;
            calls = 0;
        }
    }
}

package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.spi.AttentionKernels.Fp8KvLayout;
import io.github.ds4j.spi.AttentionKernels.KvRows;

import java.util.ArrayList;
import java.util.List;

/**
 * The attention state of one layer for a batch of B sequences that advance together, on one
 * device. Per sequence it holds:
 * <ul>
 *   <li>the sliding window: a ring of {@code sliding_window} token rows, position p in slot
 *       {@code p mod W};</li>
 *   <li>on compressed layers, the compressed entries (entry e pools positions up to
 *       {@code (e+1)*ratio − 1}) and the compressor's state, the projections of the last
 *       {@code c*ratio} tokens;</li>
 *   <li>on CSA layers (ratio 4), the indexer's compressed keys and its compressor state.</li>
 * </ul>
 * Attention rows (window and compressed entries) are kept as bf16 rows or in the FP8 layout of
 * spec §3.3 ({@link Format}); indexer keys are always bf16. Memory is allocated for
 * {@code capacity} positions up front.
 *
 * <pre>{@code
 * try (Attention attn = Attention.load(compute, config, layer, weights);
 *      KvCache cache = KvCache.create(compute, config, layer, 1, 4096, KvCache.Format.FP8)) {
 *     Tensor prompt = attn.forward(x, 0, cache);           // prefill, positions 0..S-1
 *     Tensor next = attn.forward(token, cache.position(), cache);  // one decode step
 * }
 * }</pre>
 */
public final class KvCache implements AutoCloseable {

    /** How attention rows are stored. */
    public enum Format {
        /** bf16 rows of head_dim values, as the reference keeps them. */
        BF16,
        /** The FP8 layout: E4M3 nope values with UE8M0 scales per 64, bf16 rope values (584 bytes per V4 token). */
        FP8
    }

    private final Compute compute;
    private final V4Config config;
    private final int layer;
    private final int batch;
    private final long capacity;
    private final Format format;
    private final int ratio;
    private final Fp8KvLayout fp8Layout;
    private final List<Tensor> owned = new ArrayList<>();
    private final Tensor window;
    private final Tensor compressed;
    private final Tensor compressorKv;
    private final Tensor compressorScore;
    private final Tensor indexKeys;
    private final Tensor indexerKv;
    private final Tensor indexerScore;
    private long origin;
    private long position;
    private boolean closed;

    private KvCache(Compute compute, V4Config config, int layer, int batch, long capacity, Format format) {
        this.compute = compute;
        this.config = config;
        this.layer = layer;
        this.batch = batch;
        this.capacity = capacity;
        this.format = format;
        this.ratio = config.compressRatio(layer);
        int hd = config.headDim();
        this.fp8Layout = format == Format.FP8 ? Fp8KvLayout.of(hd, config.ropeDim()) : null;
        try {
            this.window = rows(config.slidingWindow());
            if (ratio > 0) {
                int c = ratio == 4 ? 2 : 1;
                this.compressed = rows(capacity / ratio);
                this.compressorKv = alloc(DType.F32, Shape.of(batch, c * ratio, c * hd));
                this.compressorScore = alloc(DType.F32, Shape.of(batch, c * ratio, c * hd));
            } else {
                this.compressed = null;
                this.compressorKv = null;
                this.compressorScore = null;
            }
            if (ratio == 4) {
                int di = config.indexHeadDim();
                this.indexKeys = alloc(DType.BF16, Shape.of(batch, Math.max(1, capacity / ratio), di));
                this.indexerKv = alloc(DType.F32, Shape.of(batch, 2 * ratio, 2 * di));
                this.indexerScore = alloc(DType.F32, Shape.of(batch, 2 * ratio, 2 * di));
            } else {
                this.indexKeys = null;
                this.indexerKv = null;
                this.indexerScore = null;
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            closeOwned();
            throw e;
        }
    }

    /**
     * A cache for {@code batch} sequences of up to {@code capacity} positions each, at position 0.
     *
     * @param compute the device the layer runs on
     * @param config the model
     * @param layer the layer (its compress ratio decides what the cache holds); the MTP block is
     *     layer {@code num_hidden_layers}
     * @param batch sequences, each with its own state
     * @param capacity positions per sequence
     * @param format how attention rows are stored
     */
    public static KvCache create(Compute compute, V4Config config, int layer, int batch, long capacity, Format format) {
        if (compute == null || config == null || format == null) {
            throw new IllegalArgumentException("compute, config and format must not be null");
        }
        config.compressRatio(layer);
        if (batch < 1) {
            throw new IllegalArgumentException("batch: must be at least 1, got " + batch);
        }
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity: must be at least 1 position, got " + capacity);
        }
        if (config.slidingWindow() < 1) {
            throw new IllegalArgumentException("config: sliding_window must be positive, got " + config.slidingWindow());
        }
        return new KvCache(compute, config, layer, batch, capacity, format);
    }

    /** The layer this cache belongs to. */
    public int layer() {
        return layer;
    }

    /** Sequences in the batch. */
    public int batch() {
        return batch;
    }

    /** Positions each sequence can hold. */
    public long capacity() {
        return capacity;
    }

    /** How attention rows are stored. */
    public Format format() {
        return format;
    }

    /** The next position: how many tokens each sequence has seen. */
    public long position() {
        return position;
    }

    /** Compressed entries each sequence holds now: {@code floor(position / ratio)}, 0 on window-only layers. */
    public long compressedEntries() {
        return ratio == 0 ? 0 : position / ratio;
    }

    /** Device bytes of the whole cache. */
    public long bytes() {
        long n = 0;
        for (Tensor t : owned) {
            n += t.dtype().byteSize(t.numel());
        }
        return n;
    }

    /** The FP8 row layout, or null for bf16 rows. */
    public Fp8KvLayout fp8Layout() {
        return fp8Layout;
    }

    /**
     * The first position the sequences hold: 0, or where {@link #startAt} began them. Positions
     * before it are absent: never attended to and never pooled into a compressed entry.
     */
    public long origin() {
        return origin;
    }

    /** Forgets every sequence: the next forward starts at position 0 (no memory is cleared or freed). */
    public void reset() {
        checkOpen();
        origin = 0;
        position = 0;
    }

    /**
     * Forgets every sequence and begins them at {@code position}: the next forward's tokens sit at
     * positions {@code position, position+1, ...} (their RoPE angles), and everything before
     * {@code position} is absent, as if the sequences began there. The window holds no earlier
     * rows; compressed entries that end before {@code position} do not exist; the entry whose
     * block contains {@code position} pools only the tokens from {@code position} on (the absent
     * slots are left out of its softmax, as block −1 is at position 0), and so does the
     * overlapping ratio-4 entry after it. The cache still allocates rows for every position from
     * 0, so {@code position} plus the tokens to come must fit in {@code capacity}.
     */
    public void startAt(long position) {
        checkOpen();
        if (position < 0 || position >= capacity) {
            throw new IllegalArgumentException("position: expected 0.." + (capacity - 1) + " (the cache holds "
                    + capacity + " positions), got " + position);
        }
        if (position > 0 && ratio > 0) {
            // The compressor reads the tokens just before a block from its state: an absent token
            // is a zero row with score -infinity, so the softmax gives it no weight.
            fill(compressorKv, 0f);
            fill(compressorScore, Float.NEGATIVE_INFINITY);
            if (indexerKv != null) {
                fill(indexerKv, 0f);
                fill(indexerScore, Float.NEGATIVE_INFINITY);
            }
        }
        this.origin = position;
        this.position = position;
    }

    /**
     * Makes this cache hold what {@code source} holds: the same positions, origin and contents,
     * e.g. to continue one prompt several ways without running it again. Both caches must belong
     * to the same layer of the same model on the same device, with equal batch, capacity and format.
     */
    public void copyFrom(KvCache source) {
        checkOpen();
        if (source == null) {
            throw new IllegalArgumentException("source: must not be null");
        }
        source.checkOpen();
        if (source == this) {
            return;
        }
        if (!source.compute.device().equals(compute.device()) || source.layer != layer || !source.config.equals(config)
                || source.batch != batch || source.capacity != capacity || source.format != format) {
            throw new IllegalArgumentException("source: expected a cache of layer " + layer + " on " + compute.device() + " with "
                    + batch + " sequences of " + capacity + " positions in " + format + ", got layer " + source.layer + " on "
                    + source.compute.device() + " with " + source.batch + " of " + source.capacity + " in " + source.format);
        }
        for (int i = 0; i < owned.size(); i++) {
            compute.backend().copy(source.owned.get(i), owned.get(i));
        }
        origin = source.origin;
        position = source.position;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            closeOwned();
        }
    }

    // ---- for the layer ----

    Compute compute() {
        return compute;
    }

    V4Config config() {
        return config;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("cache: the KV cache of layer " + layer + " is closed");
        }
    }

    void advance(long tokens) {
        position += tokens;
    }

    /** The window ring: sliding_window rows. */
    KvRows windowRows() {
        return kvRows(window, config.slidingWindow());
    }

    /** All compressed-entry rows (capacity / ratio). */
    KvRows compressedRows() {
        return kvRows(compressed, capacity / ratio);
    }

    Tensor compressorKv() {
        return compressorKv;
    }

    Tensor compressorScore() {
        return compressorScore;
    }

    /** The indexer's keys: bf16 [B, capacity/4, index_head_dim]. */
    KvRows indexKeyRows() {
        return new KvRows(indexKeys, capacity / ratio, null);
    }

    Tensor indexKeys() {
        return indexKeys;
    }

    Tensor indexerKv() {
        return indexerKv;
    }

    Tensor indexerScore() {
        return indexerScore;
    }

    private static void fill(Tensor t, float value) {
        float[] v = new float[Math.toIntExact(t.numel())];
        java.util.Arrays.fill(v, value);
        t.copyFrom(v);
    }

    private KvRows kvRows(Tensor data, long rows) {
        return fp8Layout == null ? new KvRows(data, rows, null) : KvRows.fp8(data, rows, fp8Layout);
    }

    private Tensor rows(long n) {
        if (fp8Layout == null) {
            return alloc(DType.BF16, Shape.of(batch, Math.max(1, n), config.headDim()));
        }
        return alloc(DType.U8, Shape.of(batch, Math.max(1, fp8Layout.bytes(n))));
    }

    private Tensor alloc(DType dtype, Shape shape) {
        Tensor t = compute.allocate(dtype, shape);
        owned.add(t);
        return t;
    }

    private void closeOwned() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
    }
}

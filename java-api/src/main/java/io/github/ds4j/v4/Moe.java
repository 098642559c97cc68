package io.github.ds4j.v4;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.Check;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.spi.MoeKernels;

import java.util.ArrayList;
import java.util.List;

/**
 * The MoE feed-forward of one V4 layer (spec §4), on any backend that has {@link MoeKernels}:
 * <pre>
 * scores  = sqrt(softplus(x @ gate^T))                    f32
 * select  = top-k(scores + bias), or tid2eid[input id] on hash layers
 * w       = scores[select] / sum(scores[select]) * routed_scaling_factor
 * expert  : g = bf16(x @ w1^T), u = bf16(x @ w3^T)        MXFP4 weights, FP8 1x128 activations
 *           h = bf16(w * silu(min(g, L)) * clamp(u, -L, L));  out = bf16(h @ w2^T)
 * y       = (sum of the token's expert outputs, f32, ascending expert id) + shared(x), in x's dtype
 * </pre>
 * The shared expert is the same SwiGLU with FP8 128x128 weights and no routing weight.
 *
 * <p>Weights come from a {@link TensorSource} by their checkpoint names ({@code layers.N.ffn.*},
 * {@code mtp.K.ffn.*} for the MTP block). The gate and the shared expert are checked when the
 * layer loads; a routed expert is fetched and checked the first time a token is sent to it, so
 * a decode step touches only the experts it uses. Every check names the tensor. Weights that are
 * not on the device yet are copied there and freed by {@link #close()}.
 *
 * <pre>{@code
 * try (Moe moe = Moe.load(compute, config, layer, checkpoint);
 *      Tensor y = moe.forward(x, inputIds)) { ... }   // x [T, D] or [B, S, D]; ids [T] or [B, S]
 * }</pre>
 * Instances are safe to share between threads.
 */
public final class Moe implements AutoCloseable {
    /** FP8 activation block of the expert GEMMs (spec §2). */
    private static final int ACT_BLOCK = 128;

    private final Compute compute;
    private final MoeKernels kernels;
    private final DeviceWeights weights;
    private final String prefix;
    private final int layer;
    private final int hidden;
    private final int width;
    private final int experts;
    private final int k;
    private final float limit;
    private final Router router;
    private final Expert shared;
    private final Expert[] routed;
    private volatile boolean closed;

    private Moe(Compute compute, MoeKernels kernels, DeviceWeights weights, String prefix, int layer, V4Config config,
                Router router, Expert shared) {
        this.compute = compute;
        this.kernels = kernels;
        this.weights = weights;
        this.prefix = prefix;
        this.layer = layer;
        this.hidden = config.hiddenSize();
        this.width = config.moeIntermediate();
        this.experts = config.routedExperts();
        this.k = config.expertsPerToken();
        this.limit = (float) config.swigluLimit();
        this.router = router;
        this.shared = shared;
        this.routed = new Expert[experts];
    }

    /**
     * The MoE of {@code layer} (0-based; {@code config.numLayers()} and up are the MTP blocks):
     * loads and checks the gate (weight, and bias or tid2eid) and the shared expert.
     *
     * @throws IllegalArgumentException naming the first missing or malformed tensor, or the
     *         config value the layer cannot work with
     * @throws UnsupportedOperationException when the device's backend has no MoE kernels
     */
    public static Moe load(Compute compute, V4Config config, int layer, TensorSource source) {
        if (compute == null || config == null || source == null) {
            throw new IllegalArgumentException("compute, config and source must not be null");
        }
        String prefix = new CheckpointLayout(config).prefix(layer);
        MoeKernels kernels = compute.backend().moeKernels().orElseThrow(() -> new UnsupportedOperationException(
                "the " + compute.device() + " backend has no MoE kernels (" + compute.description() + ")"));
        checkConfig(config);
        DeviceWeights weights = new DeviceWeights(compute, source);
        try {
            Router router = Router.load(compute, kernels, config, layer, prefix, weights);
            Expert shared = config.sharedExperts() == 0 ? null
                    : Expert.shared(weights, prefix + "ffn.shared_experts", config.hiddenSize(), config.sharedExperts() * config.moeIntermediate());
            return new Moe(compute, kernels, weights, prefix, layer, config, router, shared);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    private static void checkConfig(V4Config c) {
        if (c.hiddenSize() % ACT_BLOCK != 0) {
            throw new IllegalArgumentException("config: hidden_size (" + c.hiddenSize() + ") must be a multiple of "
                    + ACT_BLOCK + ": the expert GEMMs quantize activations in 1x" + ACT_BLOCK + " blocks");
        }
        if (c.moeIntermediate() <= 0 || c.moeIntermediate() % ACT_BLOCK != 0) {
            throw new IllegalArgumentException("config: moe_intermediate_size (" + c.moeIntermediate()
                    + ") must be a positive multiple of " + ACT_BLOCK + ": w2 quantizes its input in 1x" + ACT_BLOCK + " blocks");
        }
        if (c.routedExperts() <= 0 || c.expertsPerToken() <= 0) {
            throw new IllegalArgumentException("config: n_routed_experts (" + c.routedExperts()
                    + ") and num_experts_per_tok (" + c.expertsPerToken() + ") must be positive");
        }
        if (c.sharedExperts() < 0) {
            throw new IllegalArgumentException("config: n_shared_experts must be >= 0, got " + c.sharedExperts());
        }
        if (!(c.swigluLimit() >= 0) || Double.isInfinite(c.swigluLimit())) {
            throw new IllegalArgumentException("config: swiglu_limit must be finite and >= 0, got " + c.swigluLimit());
        }
    }

    /** The layer index this MoE belongs to. */
    public int layer() {
        return layer;
    }

    /** True when this layer routes by token id (tid2eid) rather than by biased scores. */
    public boolean isHashRouted() {
        return router.isHash();
    }

    /**
     * The routing of x [T, D] or [B, S, D] (F32/BF16) without running the experts.
     * {@code inputIds} (I32/I64, one per token) is required on hash layers and ignored otherwise.
     */
    public MoeRouting route(Tensor x, Tensor inputIds) {
        Tensor x2 = checkInput(x);
        try (Ids ids = ids(inputIds, x2.dim(0))) {
            return router.route(x2, ids.tensor);
        }
    }

    /**
     * The MoE output for x [T, D] or [B, S, D] (F32/BF16, on this layer's device), in x's dtype
     * and shape. {@code inputIds} (I32/I64, one per token: [T] or [B, S]) is required on hash
     * layers and ignored otherwise (may be null).
     */
    public Tensor forward(Tensor x, Tensor inputIds) {
        return forward(x, inputIds, kernels.rowTile());
    }

    /** {@link #forward} with each expert group padded to {@code tile} rows. */
    Tensor forward(Tensor x, Tensor inputIds, int tile) {
        Check.positive("tile", tile);
        Tensor x2 = checkInput(x);
        long tokens = x2.dim(0);
        try (Ids ids = ids(inputIds, tokens)) {
            Tensor y = compute.allocate(x.dtype(), x.shape());
            try {
                if (tokens > 0) {
                    run(x2, ids.tensor, tile, y.reshape(tokens, hidden));
                }
                return y;
            } catch (RuntimeException e) {
                y.close();
                throw e;
            }
        }
    }

    private void run(Tensor x, Tensor ids, int tile, Tensor y) {
        long tokens = x.dim(0);
        long capacity = MoeKernels.dispatchCapacity(tokens * k, experts, tile);
        try (MoeRouting r = router.route(x, ids);
             Tensor counts = compute.allocate(DType.I32, Shape.of(experts));
             Tensor offsets = compute.allocate(DType.I32, Shape.of(experts + 1));
             Tensor permutation = compute.allocate(DType.I32, Shape.of(capacity));
             Tensor rowOf = compute.allocate(DType.I32, Shape.of(tokens, k))) {
            kernels.dispatch(r.indices(), tile, counts, offsets, permutation, rowOf);
            long[] off = offsets.toLongArray();
            long rows = off[experts];
            Tensor perm = permutation.slice(0, 0, rows);
            List<BlockScaled> w1 = new ArrayList<>(experts);
            List<BlockScaled> w2 = new ArrayList<>(experts);
            List<BlockScaled> w3 = new ArrayList<>(experts);
            for (int e = 0; e < experts; e++) {
                Expert ex = off[e + 1] > off[e] ? expert(e) : null;
                w1.add(ex == null ? null : ex.w1());
                w2.add(ex == null ? null : ex.w2());
                w3.add(ex == null ? null : ex.w3());
            }
            try (BlockScaled xq = compute.quantizeActivations(x, ACT_BLOCK, DType.F8_E8M0);
                 BlockScaled xs = gather(xq, perm);
                 Tensor g = compute.allocate(DType.BF16, Shape.of(rows, width));
                 Tensor u = compute.allocate(DType.BF16, Shape.of(rows, width));
                 Tensor h = compute.allocate(DType.BF16, Shape.of(rows, width))) {
                kernels.groupedGemm(xs, w1, offsets, g);
                kernels.groupedGemm(xs, w3, offsets, u);
                kernels.weightedSwiglu(g, u, limit, r.weights(), perm, h);
                try (BlockScaled hq = compute.quantizeActivations(h, ACT_BLOCK, DType.F8_E8M0);
                     Tensor out = compute.allocate(DType.BF16, Shape.of(rows, hidden));
                     Tensor sharedOut = shared == null ? null : shared(xq)) {
                    kernels.groupedGemm(hq, w2, offsets, out);
                    kernels.combine(out, r.indices(), rowOf, sharedOut, y);
                }
            }
        }
    }

    /** The quantized token rows in dispatched order (padding rows zero). */
    private BlockScaled gather(BlockScaled xq, Tensor perm) {
        long rows = perm.dim(0);
        Tensor v = compute.allocate(DType.F8_E4M3, Shape.of(rows, hidden));
        Tensor s = null;
        try {
            s = compute.allocate(DType.F8_E8M0, Shape.of(rows, hidden / ACT_BLOCK));
            kernels.gatherRows(xq.values(), perm, k, v);
            kernels.gatherRows(xq.scales(), perm, k, s);
            return BlockScaled.fp8Activations(v, s, ACT_BLOCK);
        } catch (RuntimeException e) {
            v.close();
            if (s != null) {
                s.close();
            }
            throw e;
        }
    }

    /** The shared expert on quantized tokens: bf16 [T, D]. */
    private Tensor shared(BlockScaled xq) {
        try (Tensor g = compute.gemm(xq, shared.w1(), DType.BF16);
             Tensor u = compute.gemm(xq, shared.w3(), DType.BF16);
             Tensor h = compute.swiglu(g, u, limit)) {
            return compute.gemm(h, shared.w2(), DType.BF16);
        }
    }

    /** The shared expert alone on x [T, D], bf16; null when the config has none. */
    Tensor sharedExpert(Tensor x) {
        if (shared == null) {
            return null;
        }
        try (BlockScaled xq = compute.quantizeActivations(checkInput(x), ACT_BLOCK, DType.F8_E8M0)) {
            return shared(xq);
        }
    }

    /** Routed expert e, fetched and checked on first use. */
    private synchronized Expert expert(int e) {
        Expert ex = routed[e];
        if (ex == null) {
            ex = Expert.routed(weights, prefix + "ffn.experts." + e, hidden, width);
            routed[e] = ex;
        }
        return ex;
    }

    /** x as [T, D] after checking device, dtype and shape. */
    private Tensor checkInput(Tensor x) {
        if (closed) {
            throw new IllegalStateException("MoE layer " + layer + " is closed");
        }
        Check.rows("x", x, compute.device());
        Check.real("x", x);
        if (x.rank() < 2 || x.dim(-1) != hidden) {
            throw new IllegalArgumentException("x: expected shape [*, " + hidden + "] or [*, *, " + hidden + "], got " + x.shape());
        }
        if (x.rank() == 2) {
            return x;
        }
        if (!x.isContiguous()) {
            throw new IllegalArgumentException("x: a strided tensor of rank " + x.rank() + " must be contiguous; copy it first");
        }
        return x.reshape(x.shape().rows(), hidden);
    }

    /** The token ids as a contiguous [T] tensor on the device (uploaded when given on the host). */
    private Ids ids(Tensor inputIds, long tokens) {
        if (!router.isHash()) {
            return new Ids(null, false);
        }
        if (inputIds == null) {
            throw new IllegalArgumentException("inputIds: layer " + layer + " routes by token id (tid2eid) and needs the input ids");
        }
        inputIds.checkOpen("inputIds");
        Check.dtype("inputIds", inputIds, DType.I64, DType.I32);
        if (inputIds.numel() != tokens) {
            throw new IllegalArgumentException("inputIds: expected one id per token (" + tokens + "), got shape " + inputIds.shape());
        }
        if (!inputIds.isContiguous()) {
            throw new IllegalArgumentException("inputIds: expected a contiguous tensor, got a strided view of " + inputIds.shape());
        }
        boolean here = inputIds.device().equals(compute.device());
        if (!here && !inputIds.device().isHost()) {
            throw new IllegalArgumentException("inputIds: expected a tensor on " + compute.device() + " or the host, got one on "
                    + inputIds.device());
        }
        Tensor flat = here ? inputIds.reshape(tokens) : compute.upload(inputIds.reshape(tokens));
        return new Ids(flat, !here);
    }

    /** Frees the weight copies this layer made on its device; the source's tensors stay open. */
    @Override
    public void close() {
        closed = true;
        weights.close();
    }

    /** Token ids for one call, and whether this call uploaded (and so owns) them. */
    private record Ids(Tensor tensor, boolean owned) implements AutoCloseable {
        @Override
        public void close() {
            if (owned) {
                tensor.close();
            }
        }
    }
}

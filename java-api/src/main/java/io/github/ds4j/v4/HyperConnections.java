package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.Check;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;

/**
 * mHC around one sub-layer (attention or MoE) of a V4 block (spec §5). The residual stream is
 * X [T, n, D] (n = hc_mult copies). {@link #pre} turns it into the sub-layer's input and keeps
 * the weights {@link #post} needs:
 * <pre>
 * mix  = (xf @ fn^T) * rsqrt(mean(xf^2) + rms_norm_eps)        xf = X[t] flattened, f32
 * pre  = sigmoid(mix[0:n] * scale[0] + base[0:n]) + hc_eps
 * post = 2 * sigmoid(mix[n:2n] * scale[1] + base[n:2n])
 * comb = Sinkhorn(mix[2n:] * scale[2] + base[2n:])               [n, n], hc_sinkhorn_iters rounds
 * in   = RMSNorm(sum_i pre[i] * X[:, i]; attn_norm or ffn_norm)  the sum rounded to X's dtype first
 * X'[:, j] = post[j] * out + sum_i comb[i, j] * X[:, i]          rounded to X's dtype
 * </pre>
 * Weights by checkpoint name: {@code layers.N.hc_attn_{fn,base,scale}} and
 * {@code layers.N.attn_norm.weight} (or {@code hc_ffn_*} and {@code ffn_norm}).
 *
 * <pre>{@code
 * try (HyperConnections hc = HyperConnections.load(compute, config, layer, HyperConnections.Site.ATTENTION, checkpoint);
 *      HyperConnections.Pre p = hc.pre(x);
 *      Tensor out = attention.forward(p.input(), ...)) {
 *     Tensor next = hc.post(p, out, x);
 * }
 * }</pre>
 */
public final class HyperConnections implements AutoCloseable {

    /** The sub-layer an mHC wraps, with its checkpoint name part. */
    public enum Site {
        ATTENTION("attn"),
        FFN("ffn");

        private final String key;

        Site(String key) {
            this.key = key;
        }

        /** "attn" or "ffn", as in {@code hc_attn_fn} and {@code attn_norm.weight}. */
        public String key() {
            return key;
        }
    }

    /**
     * What {@link #pre} produces: the sub-layer input [T, D] (or [B, S, D]) in X's dtype, and the
     * F32 post weights [T, n] and mixing matrices [T, n, n] that {@link #post} consumes. Owns all
     * three.
     */
    public record Pre(Tensor input, Tensor post, Tensor comb) implements AutoCloseable {
        @Override
        public void close() {
            input.close();
            post.close();
            comb.close();
        }
    }

    private final StreamMixer mixer;
    private final int iters;

    private HyperConnections(StreamMixer mixer, int iters) {
        this.mixer = mixer;
        this.iters = iters;
    }

    /**
     * The mHC of {@code site} in {@code layer} ({@code config.numLayers()} and up are the MTP
     * blocks, named {@code mtp.K.*}); checks every tensor and names the first bad one. Weights
     * not on the device yet are copied there and freed by {@link #close()}.
     */
    public static HyperConnections load(Compute compute, V4Config config, int layer, Site site, TensorSource source) {
        if (compute == null || config == null || site == null || source == null) {
            throw new IllegalArgumentException("compute, config, site and source must not be null");
        }
        String p = new CheckpointLayout(config).prefix(layer);
        int n = config.hcMult();
        StreamMixer mixer = StreamMixer.load(compute, config, source, p + "hc_" + site.key() + "_", p + site.key() + "_norm.weight",
                (2L + n) * n, 3);
        return new HyperConnections(mixer, config.hcSinkhornIters());
    }

    /**
     * The sub-layer input for the residual stream x [T, n, D] or [B, S, n, D] (F32/BF16,
     * contiguous), and the state {@link #post} needs.
     */
    public Pre pre(Tensor x) {
        Tensor x3 = mixer.checkStreams(x);
        long tokens = x3.dim(0);
        int n = mixer.streams;
        Compute compute = mixer.compute;
        Tensor input = compute.allocate(x.dtype(), StreamMixer.dropStreams(x.shape()));
        Tensor post = null;
        Tensor comb = null;
        try {
            post = compute.allocate(DType.F32, Shape.of(tokens, n));
            comb = compute.allocate(DType.F32, Shape.of(tokens, n, n));
            try (Tensor mixes = mixer.mixes(x3);
                 Tensor pre = compute.allocate(DType.F32, Shape.of(tokens, n))) {
                mixer.kernels.sinkhornSplit(mixes, mixer.scale, mixer.base, iters, mixer.hcEps, pre, post, comb);
                mixer.normedSum(x3, pre, input.reshape(tokens, mixer.hidden));
            }
            return new Pre(input, post, comb);
        } catch (RuntimeException e) {
            input.close();
            if (post != null) {
                post.close();
            }
            if (comb != null) {
                comb.close();
            }
            throw e;
        }
    }

    /**
     * The next residual stream, shaped and typed like x: {@code X'[:, j] = post[j] * out +
     * sum_i comb[i, j] * x[:, i]}. {@code out} is the sub-layer's output [T, D] or [B, S, D]
     * (F32/BF16); {@code state} is what {@link #pre} returned for this same x.
     */
    public Tensor post(Pre state, Tensor out, Tensor x) {
        if (state == null) {
            throw new IllegalArgumentException("state: must not be null");
        }
        Tensor x3 = mixer.checkStreams(x);
        long tokens = x3.dim(0);
        int n = mixer.streams;
        int hidden = mixer.hidden;
        Compute compute = mixer.compute;
        Check.rows("out", out, compute.device());
        Check.real("out", out);
        if (out.shape().rows() != tokens || out.dim(-1) != hidden) {
            throw new IllegalArgumentException("out: expected " + tokens + " rows of " + hidden + " (shape "
                    + StreamMixer.dropStreams(x.shape()) + "), got " + out.shape());
        }
        Check.contiguous("state.post", state.post(), compute.device());
        Check.contiguous("state.comb", state.comb(), compute.device());
        Check.shape("state.post", state.post(), tokens, n);
        Check.shape("state.comb", state.comb(), tokens, n, n);
        Tensor out2 = out.rank() == 2 ? out : flatRows("out", out, hidden);
        Tensor y = compute.allocate(x.dtype(), x.shape());
        try {
            mixer.kernels.post(out2, x3, state.post(), state.comb(), y.reshape(tokens, n, hidden));
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    /**
     * The residual stream of an embedding: h [T, D] or [B, S, D] repeated into n copies,
     * [.., n, D] in h's dtype (spec §5: the embedding is repeated hc_mult times).
     */
    public static Tensor expand(Compute compute, Tensor h, int streams) {
        Check.rows("h", h, compute.device());
        Check.real("h", h);
        Check.positive("streams", streams);
        if (h.rank() < 2) {
            throw new IllegalArgumentException("h: expected [T, D] or [B, S, D], got " + h.shape());
        }
        long d = h.dim(-1);
        Tensor h2 = h.rank() == 2 ? h : flatRows("h", h, d);
        Tensor y = compute.allocate(h.dtype(), h.shape().withLast(streams).append(d));
        try {
            Tensor y3 = y.reshape(h2.dim(0), streams, d);
            for (int i = 0; i < streams; i++) {
                compute.backend().copy(h2, y3.select(1, i));
            }
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    private static Tensor flatRows(String name, Tensor t, long cols) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(name + ": a strided tensor of rank " + t.rank() + " must be contiguous; copy it first");
        }
        return t.reshape(t.shape().rows(), cols);
    }

    /** Frees the weight copies this mHC made on its device; the source's tensors stay open. */
    @Override
    public void close() {
        mixer.close();
    }
}

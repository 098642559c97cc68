package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.Check;
import io.github.ds4j.spi.HyperConnectionKernels;

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
 * HyperConnections hc = HyperConnections.load(compute, config, layer, HyperConnections.Site.ATTENTION, checkpoint);
 * try (HyperConnections.Pre p = hc.pre(x);
 *      Tensor out = attention.forward(p.input(), ...)) {
 *     Tensor next = hc.post(p, out, x);
 * }
 * }</pre>
 */
public final class HyperConnections {

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

    private final Compute compute;
    private final HyperConnectionKernels kernels;
    private final Tensor fn;
    private final Tensor base;
    private final Tensor scale;
    private final Tensor norm;
    private final int streams;
    private final int hidden;
    private final int iters;
    private final float hcEps;
    private final float normEps;

    private HyperConnections(Compute compute, HyperConnectionKernels kernels, Tensor fn, Tensor base, Tensor scale,
                             Tensor norm, V4Config config) {
        this.compute = compute;
        this.kernels = kernels;
        this.fn = fn;
        this.base = base;
        this.scale = scale;
        this.norm = norm;
        this.streams = config.hcMult();
        this.hidden = config.hiddenSize();
        this.iters = config.hcSinkhornIters();
        this.hcEps = (float) config.hcEps();
        this.normEps = (float) config.rmsNormEps();
    }

    /**
     * The mHC of {@code site} in {@code layer} ({@code config.numLayers()} and up are the MTP
     * blocks, named {@code mtp.K.*}); checks every tensor and names the first bad one.
     */
    public static HyperConnections load(Compute compute, V4Config config, int layer, Site site, TensorSource source) {
        if (compute == null || config == null || site == null || source == null) {
            throw new IllegalArgumentException("compute, config, site and source must not be null");
        }
        checkConfig(config);
        HyperConnectionKernels kernels = kernels(compute);
        String p = MoeTensors.layerPrefix(config, layer);
        int n = config.hcMult();
        long mixes = (2L + n) * n;
        long flat = (long) n * config.hiddenSize();
        String hc = p + "hc_" + site.key() + "_";
        Tensor fn = MoeTensors.f32(source, hc + "fn", compute.device(), mixes, flat);
        Tensor base = MoeTensors.f32(source, hc + "base", compute.device(), mixes);
        Tensor scale = MoeTensors.f32(source, hc + "scale", compute.device(), 3);
        Tensor norm = MoeTensors.real(source, p + site.key() + "_norm.weight", compute.device(), config.hiddenSize());
        return new HyperConnections(compute, kernels, fn, base, scale, norm, config);
    }

    static void checkConfig(V4Config c) {
        if (c.hcSinkhornIters() < 1) {
            throw new IllegalArgumentException("config: hc_sinkhorn_iters must be >= 1, got " + c.hcSinkhornIters());
        }
        if (!(c.hcEps() >= 0) || Double.isInfinite(c.hcEps())) {
            throw new IllegalArgumentException("config: hc_eps must be finite and >= 0, got " + c.hcEps());
        }
        if (!(c.rmsNormEps() >= 0) || Double.isInfinite(c.rmsNormEps())) {
            throw new IllegalArgumentException("config: rms_norm_eps must be finite and >= 0, got " + c.rmsNormEps());
        }
    }

    static HyperConnectionKernels kernels(Compute compute) {
        return compute.backend().hyperConnectionKernels().orElseThrow(() -> new UnsupportedOperationException(
                "the " + compute.device() + " backend has no mHC kernels (" + compute.description() + ")"));
    }

    /**
     * The sub-layer input for the residual stream x [T, n, D] or [B, S, n, D] (F32/BF16,
     * contiguous), and the state {@link #post} needs.
     */
    public Pre pre(Tensor x) {
        Tensor x3 = checkStreams(compute, x, streams, hidden);
        long tokens = x3.dim(0);
        Shape inShape = dropStreams(x.shape());
        Tensor input = compute.allocate(x.dtype(), inShape);
        Tensor post = null;
        Tensor comb = null;
        try {
            post = compute.allocate(DType.F32, Shape.of(tokens, streams));
            comb = compute.allocate(DType.F32, Shape.of(tokens, streams, streams));
            try (Tensor mixes = compute.allocate(DType.F32, Shape.of(tokens, (2L + streams) * streams));
                 Tensor pre = compute.allocate(DType.F32, Shape.of(tokens, streams))) {
                kernels.mixes(x3.reshape(tokens, (long) streams * hidden), fn, normEps, mixes);
                kernels.sinkhornSplit(mixes, scale, base, iters, hcEps, pre, post, comb);
                Tensor in2 = input.reshape(tokens, hidden);
                kernels.weightedSum(x3, pre, in2);
                compute.rmsNormInto(in2, norm, normEps, in2);
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
        Tensor x3 = checkStreams(compute, x, streams, hidden);
        long tokens = x3.dim(0);
        Check.rows("out", out, compute.device());
        Check.real("out", out);
        if (out.shape().rows() != tokens || out.dim(-1) != hidden) {
            throw new IllegalArgumentException("out: expected " + tokens + " rows of " + hidden + " (shape "
                    + dropStreams(x.shape()) + "), got " + out.shape());
        }
        Check.contiguous("state.post", state.post(), compute.device());
        Check.contiguous("state.comb", state.comb(), compute.device());
        Check.shape("state.post", state.post(), tokens, streams);
        Check.shape("state.comb", state.comb(), tokens, streams, streams);
        Tensor out2 = out.rank() == 2 ? out : flatRows("out", out, hidden);
        Tensor y = compute.allocate(x.dtype(), x.shape());
        try {
            kernels.post(out2, x3, state.post(), state.comb(), y.reshape(tokens, streams, hidden));
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

    /** x as [T, n, D] after checking device, dtype, shape and layout. */
    static Tensor checkStreams(Compute compute, Tensor x, int streams, int hidden) {
        Check.contiguous("x", x, compute.device());
        Check.real("x", x);
        if (x.rank() < 3 || x.dim(-2) != streams || x.dim(-1) != hidden) {
            throw new IllegalArgumentException("x: expected the residual stream [*, " + streams + ", " + hidden
                    + "] (hc_mult, hidden_size), got " + x.shape());
        }
        return x.reshape(x.shape().rows() / streams, streams, hidden);
    }

    /** [.., n, D] without the stream dimension. */
    static Shape dropStreams(Shape s) {
        long[] d = s.toArray();
        long[] out = new long[d.length - 1];
        System.arraycopy(d, 0, out, 0, d.length - 2);
        out[out.length - 1] = d[d.length - 1];
        return Shape.of(out);
    }

    private static Tensor flatRows(String name, Tensor t, long cols) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(name + ": a strided tensor of rank " + t.rank() + " must be contiguous; copy it first");
        }
        return t.reshape(t.shape().rows(), cols);
    }
}

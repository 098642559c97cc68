package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.Check;
import io.github.ds4j.spi.HyperConnectionKernels;

/**
 * What the mHC around a sub-layer ({@link HyperConnections}) and the final mHC head
 * ({@link HyperConnectionHead}) share (spec §5): the weights {@code fn [M, n*D]}, {@code base
 * [M]}, {@code scale} (F32) and the norm of the mixed input {@code [D]}; the mixing logits of the
 * residual stream X [T, n, D]; and the normed weighted sum of its n copies. Owns the weight
 * copies it made on the device.
 */
final class StreamMixer implements AutoCloseable {
    final Compute compute;
    final HyperConnectionKernels kernels;
    final int streams;
    final int hidden;
    final float hcEps;
    final float normEps;
    final Tensor base;
    final Tensor scale;
    private final Tensor fn;
    private final Tensor norm;
    private final DeviceWeights weights;
    private volatile boolean closed;

    private StreamMixer(Compute compute, HyperConnectionKernels kernels, V4Config config, DeviceWeights weights,
                        String hc, String norm, long mixes, long scales) {
        this.compute = compute;
        this.kernels = kernels;
        this.streams = config.hcMult();
        this.hidden = config.hiddenSize();
        this.hcEps = (float) config.hcEps();
        this.normEps = (float) config.rmsNormEps();
        this.weights = weights;
        this.fn = weights.f32(hc + "fn", mixes, (long) streams * hidden);
        this.base = weights.f32(hc + "base", mixes);
        this.scale = weights.f32(hc + "scale", scales);
        this.norm = weights.real(norm, hidden);
    }

    /**
     * Loads and checks {@code hc + "fn"} [mixes, n*D], {@code hc + "base"} [mixes],
     * {@code hc + "scale"} [scales] and the norm weight {@code norm} [D].
     */
    static StreamMixer load(Compute compute, V4Config config, TensorSource source, String hc, String norm, long mixes, long scales) {
        checkConfig(config);
        HyperConnectionKernels kernels = compute.backend().hyperConnectionKernels().orElseThrow(() -> new UnsupportedOperationException(
                "the " + compute.device() + " backend has no mHC kernels (" + compute.description() + ")"));
        DeviceWeights weights = new DeviceWeights(compute, source);
        try {
            return new StreamMixer(compute, kernels, config, weights, hc, norm, mixes, scales);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    private static void checkConfig(V4Config c) {
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

    /** x as [T, n, D] after checking device, dtype, shape and layout. */
    Tensor checkStreams(Tensor x) {
        if (closed) {
            throw new IllegalStateException("this mHC is closed");
        }
        Check.contiguous("x", x, compute.device());
        Check.real("x", x);
        if (x.rank() < 3 || x.dim(-2) != streams || x.dim(-1) != hidden) {
            throw new IllegalArgumentException("x: expected the residual stream [*, " + streams + ", " + hidden
                    + "] (hc_mult, hidden_size), got " + x.shape());
        }
        return x.reshape(x.shape().rows() / streams, streams, hidden);
    }

    /** The mixing logits of x3 [T, n, D]: a new F32 tensor [T, M] the caller closes. */
    Tensor mixes(Tensor x3) {
        long tokens = x3.dim(0);
        Tensor mixes = compute.allocate(DType.F32, Shape.of(tokens, fn.dim(0)));
        try {
            kernels.mixes(x3.reshape(tokens, (long) streams * hidden), fn, normEps, mixes);
            return mixes;
        } catch (RuntimeException e) {
            mixes.close();
            throw e;
        }
    }

    /** y [T, D] = RMSNorm(sum_i pre[:, i] * x3[:, i]; norm), the sum rounded to y's dtype first. */
    void normedSum(Tensor x3, Tensor pre, Tensor y) {
        kernels.weightedSum(x3, pre, y);
        compute.rmsNormInto(y, norm, normEps, y);
    }

    /** [.., n, D] without the stream dimension. */
    static Shape dropStreams(Shape s) {
        long[] d = s.toArray();
        long[] out = new long[d.length - 1];
        System.arraycopy(d, 0, out, 0, d.length - 2);
        out[out.length - 1] = d[d.length - 1];
        return Shape.of(out);
    }

    /** Frees the weight copies made on the device; the source's tensors stay open. */
    @Override
    public void close() {
        closed = true;
        weights.close();
    }
}

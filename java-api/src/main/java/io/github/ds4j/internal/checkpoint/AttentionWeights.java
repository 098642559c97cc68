package io.github.ds4j.internal.checkpoint;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.CheckpointLayout;
import io.github.ds4j.v4.TensorSource;
import io.github.ds4j.v4.V4Config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Random weights for one attention layer under their checkpoint names, in the shipped dtypes and
 * layouts ({@link CheckpointLayout#attention}): FP8 projections with 128x128 UE8M0 scales, bf16
 * norms and compressor projections, f32 sinks and ape. Scales keep activations near unit size:
 * projections have standard deviation 1/sqrt(fan-in), norm weights are 1 + N(0, 0.1²), sinks
 * N(0, 1), ape N(0, 0.5²). The same seed and config give the same tensors. Host tensors, owned
 * here until {@link #close()}.
 */
public final class AttentionWeights implements TensorSource, AutoCloseable {
    private final Map<String, Tensor> tensors;

    private AttentionWeights(Map<String, Tensor> tensors) {
        this.tensors = tensors;
    }

    /** Random weights for layer {@code layer} of {@code config}. */
    public static AttentionWeights random(V4Config config, int layer, long seed) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            generate(new CheckpointLayout(config).attention(layer), new RandomWeights(seed * 1_000_003L + layer), out);
            return new AttentionWeights(out);
        } catch (RuntimeException e) {
            out.values().forEach(Tensor::close);
            throw e;
        }
    }

    /**
     * Generates every entry of {@code entries} into {@code out} (an FP8 or FP4 weight's scale is
     * the entry after it). For {@code make-checkpoint}: works for any list of layout entries whose
     * real tensors are named like the attention's.
     */
    public static void generate(List<CheckpointLayout.Entry> entries, RandomWeights rng, Map<String, Tensor> out) {
        for (int i = 0; i < entries.size(); i++) {
            CheckpointLayout.Entry e = entries.get(i);
            switch (e.kind()) {
                case FP8_WEIGHT, FP4_WEIGHT -> {
                    CheckpointLayout.Entry scale = entries.get(i + 1);
                    int rows = Math.toIntExact(e.shape().dim(0));
                    int cols = Math.toIntExact(e.kind() == CheckpointLayout.Kind.FP4_WEIGHT ? 2 * e.shape().dim(1) : e.shape().dim(1));
                    double std = 1.0 / Math.sqrt(cols);
                    Tensor[] w = e.kind() == CheckpointLayout.Kind.FP8_WEIGHT ? rng.fp8(rows, cols, std) : rng.mxfp4(rows, cols, std);
                    out.put(e.name(), w[0]);
                    out.put(scale.name(), w[1]);
                    i++;
                }
                case REAL -> out.put(e.name(), real(e, rng));
                default -> throw new IllegalArgumentException(e.name() + ": cannot generate a " + e.kind() + " tensor here");
            }
        }
    }

    private static Tensor real(CheckpointLayout.Entry e, RandomWeights rng) {
        Shape shape = e.shape();
        String n = e.name();
        if (n.endsWith("norm.weight")) {
            float[] v = rng.gaussian(shape.numel(), 0.1);
            for (int i = 0; i < v.length; i++) {
                v[i] += 1f;
            }
            return Tensor.fromFloats(v, e.dtype(), shape);
        }
        if (n.endsWith("attn_sink")) {
            return rng.real(e.dtype(), shape, 1.0);
        }
        if (n.endsWith("ape")) {
            return rng.real(e.dtype(), shape, 0.5);
        }
        return rng.real(e.dtype() == DType.F16 ? DType.BF16 : e.dtype(), shape, 1.0 / Math.sqrt(shape.last()));
    }

    /** The tensors by name, in layout order (unmodifiable; still owned here). */
    public Map<String, Tensor> tensors() {
        return Collections.unmodifiableMap(tensors);
    }

    @Override
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException(name + ": no such tensor among the " + tensors.size() + " random attention weights");
        }
        return t;
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public void close() {
        tensors.values().forEach(Tensor::close);
    }
}

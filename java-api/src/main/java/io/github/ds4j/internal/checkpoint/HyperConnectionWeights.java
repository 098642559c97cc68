package io.github.ds4j.internal.checkpoint;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.V4Config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Random mHC weights by checkpoint name (spec §5, §7), in the shipped dtypes: per layer
 * {@code hc_{attn,ffn}_fn} F32 [(2+n)*n, n*D], {@code hc_*_base} F32 [(2+n)*n],
 * {@code hc_*_scale} F32 [3] and the sub-layer norms {@code {attn,ffn}_norm.weight} BF16 [D];
 * for the head {@code hc_head_fn} F32 [n, n*D], {@code hc_head_base} [n], {@code hc_head_scale}
 * [1] and {@code norm.weight} BF16 [D] (with an {@code mtp.K.} prefix for an MTP block's head).
 * fn has std 1/sqrt(n*D) so the mixing logits are about unit size; the comb base leans to the
 * diagonal, so a stream mostly keeps itself, as trained mHC does. Each tensor depends only on the
 * seed and its name.
 */
public final class HyperConnectionWeights {
    private HyperConnectionWeights() {
    }

    /** The mHC tensors of {@code layer}: both sub-layers' hc weights and norms. */
    public static List<String> names(V4Config config, int layer) {
        String p = MoeWeights.prefix(config, layer);
        List<String> out = new ArrayList<>();
        for (String site : new String[] {"attn", "ffn"}) {
            out.add(p + "hc_" + site + "_fn");
            out.add(p + "hc_" + site + "_base");
            out.add(p + "hc_" + site + "_scale");
            out.add(p + site + "_norm.weight");
        }
        return out;
    }

    /** The head's tensors: {@code prefix} is "" for the model, "mtp.K." for an MTP block. */
    public static List<String> headNames(String prefix) {
        return List.of(prefix + "hc_head_fn", prefix + "hc_head_base", prefix + "hc_head_scale", prefix + "norm.weight");
    }

    /** Every mHC tensor of {@code layer}; the caller closes them. */
    public static Map<String, Tensor> generateAll(V4Config config, int layer, long seed) {
        return generateEach(config, names(config, layer), seed);
    }

    /** Every head tensor under {@code prefix}; the caller closes them. */
    public static Map<String, Tensor> generateHead(V4Config config, String prefix, long seed) {
        return generateEach(config, headNames(prefix), seed);
    }

    private static Map<String, Tensor> generateEach(V4Config config, List<String> names, long seed) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (String name : names) {
                out.put(name, generate(config, name, seed));
            }
            return out;
        } catch (RuntimeException e) {
            out.values().forEach(Tensor::close);
            throw e;
        }
    }

    /** The tensor called {@code name} (a layer's or a head's mHC tensor) as a new host tensor. */
    public static Tensor generate(V4Config config, String name, long seed) {
        int n = config.hcMult();
        int d = config.hiddenSize();
        int mixes = (2 + n) * n;
        RandomWeights r = MoeWeights.rng(seed, name);
        String leaf = name.substring(name.lastIndexOf('.') + 1);
        if (isNorm(name)) {
            float[] w = new float[d];
            for (int i = 0; i < d; i++) {
                w[i] = (float) (1 + 0.1 * r.gaussian());
            }
            return Tensor.fromFloats(w, DType.BF16, Shape.of(d));
        }
        boolean head = leaf.startsWith("hc_head_");
        boolean site = leaf.startsWith("hc_attn_") || leaf.startsWith("hc_ffn_");
        if (!head && !site) {
            throw new IllegalArgumentException("name: not an mHC tensor: " + name);
        }
        int rows = head ? n : mixes;
        String kind = leaf.substring(leaf.lastIndexOf('_') + 1);
        switch (kind) {
            case "fn" -> {
                return r.real(DType.F32, Shape.of(rows, (long) n * d), 1 / Math.sqrt((double) n * d));
            }
            case "base" -> {
                float[] b = r.gaussian(rows, 1.0);
                if (!head) {
                    for (int i = 0; i < n; i++) {
                        b[2 * n + i * n + i] += 2f;
                    }
                }
                return Tensor.fromFloats(b, DType.F32, Shape.of(rows));
            }
            case "scale" -> {
                int count = head ? 1 : 3;
                float[] s = new float[count];
                for (int i = 0; i < count; i++) {
                    s[i] = (float) r.uniform(0.5, 1.5);
                }
                return Tensor.fromFloats(s, DType.F32, Shape.of(count));
            }
            default -> throw new IllegalArgumentException("name: not an mHC tensor: " + name);
        }
    }

    /** {@code layers.N.attn_norm.weight}, {@code layers.N.ffn_norm.weight}, {@code norm.weight}, {@code mtp.K.norm.weight}. */
    private static boolean isNorm(String name) {
        return name.matches("(layers|mtp)\\.\\d+\\.(attn|ffn)_norm\\.weight") || name.matches("(mtp\\.\\d+\\.)?norm\\.weight");
    }
}

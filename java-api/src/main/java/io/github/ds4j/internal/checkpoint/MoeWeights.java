package io.github.ds4j.internal.checkpoint;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.V4Config;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Random MoE weights of one layer, by checkpoint name and in the shipped dtypes and layouts
 * (spec §7): {@code ffn.gate.weight} BF16 [E, D]; {@code ffn.gate.bias} F32 [E] on learned
 * layers or {@code ffn.gate.tid2eid} I64 [vocab, k] (k distinct experts per row) on hash layers;
 * {@code ffn.experts.E.{w1,w3}} MXFP4 [F, D] and {@code w2} [D, F] (I8 packed + F8_E8M0 1x32
 * scales); {@code ffn.shared_experts.*} FP8 with 128x128 scales. Each tensor depends only on the
 * seed and its name, so one can be generated alone (a checkpoint writer goes name by name).
 * Gaussian values of std 1/sqrt(fan-in) keep the activations of unit-RMS inputs near unit size.
 */
public final class MoeWeights {
    private MoeWeights() {
    }

    /** Every MoE tensor name of {@code layer}, in a stable order ("layers.N." or "mtp.K." prefix). */
    public static List<String> names(V4Config config, int layer) {
        String p = prefix(config, layer) + "ffn.";
        List<String> out = new ArrayList<>();
        out.add(p + "gate.weight");
        out.add(p + (config.isHashLayer(layer) ? "gate.tid2eid" : "gate.bias"));
        for (int e = 0; e < config.routedExperts(); e++) {
            for (String w : new String[] {"w1", "w2", "w3"}) {
                out.add(p + "experts." + e + "." + w + ".weight");
                out.add(p + "experts." + e + "." + w + ".scale");
            }
        }
        if (config.sharedExperts() > 0) {
            for (String w : new String[] {"w1", "w2", "w3"}) {
                out.add(p + "shared_experts." + w + ".weight");
                out.add(p + "shared_experts." + w + ".scale");
            }
        }
        return out;
    }

    /** Every MoE tensor of {@code layer}, in {@link #names} order; the caller closes them. */
    public static Map<String, Tensor> generateAll(V4Config config, int layer, long seed) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (String name : names(config, layer)) {
                out.put(name, generate(config, layer, name, seed));
            }
            return out;
        } catch (RuntimeException e) {
            out.values().forEach(Tensor::close);
            throw e;
        }
    }

    /** The tensor called {@code name} (one of {@link #names}), as a new host tensor. */
    public static Tensor generate(V4Config config, int layer, String name, long seed) {
        String p = prefix(config, layer) + "ffn.";
        if (!name.startsWith(p)) {
            throw new IllegalArgumentException("name: expected a tensor of " + p + "*, got " + name);
        }
        String rest = name.substring(p.length());
        int d = config.hiddenSize();
        int f = config.moeIntermediate();
        int e = config.routedExperts();
        switch (rest) {
            case "gate.weight" -> {
                return rng(seed, name).real(DType.BF16, Shape.of(e, d), 1 / Math.sqrt(d));
            }
            case "gate.bias" -> {
                RandomWeights r = rng(seed, name);
                float[] b = new float[e];
                for (int i = 0; i < e; i++) {
                    b[i] = (float) r.uniform(-0.1, 0.1);
                }
                return Tensor.fromFloats(b, DType.F32, Shape.of(e));
            }
            case "gate.tid2eid" -> {
                return tid2eid(rng(seed, name), config.vocabSize(), e, config.expertsPerToken());
            }
            default -> {
                return expertTensor(config, name, rest, seed, d, f);
            }
        }
    }

    private static Tensor expertTensor(V4Config config, String name, String rest, long seed, int d, int f) {
        boolean isWeight = rest.endsWith(".weight");
        boolean isScale = rest.endsWith(".scale");
        String stem = isWeight ? rest.substring(0, rest.length() - 7) : isScale ? rest.substring(0, rest.length() - 6) : "";
        String[] parts = stem.split("\\.");
        boolean routed = parts.length == 3 && parts[0].equals("experts") && isIndex(parts[1], config.routedExperts());
        boolean shared = parts.length == 2 && parts[0].equals("shared_experts") && config.sharedExperts() > 0;
        String w = parts[parts.length - 1];
        if (!(routed || shared) || !(w.equals("w1") || w.equals("w2") || w.equals("w3"))) {
            throw new IllegalArgumentException("name: not an MoE tensor of this config: " + name);
        }
        int width = shared ? f * config.sharedExperts() : f;
        int out = w.equals("w2") ? d : width;
        int in = w.equals("w2") ? width : d;
        // weight and scale come from one draw, seeded by their common stem
        RandomWeights r = rng(seed, name.substring(0, name.length() - (isWeight ? 7 : 6)));
        Tensor[] pair = routed ? r.mxfp4(out, in, 1 / Math.sqrt(in)) : r.fp8(out, in, 1 / Math.sqrt(in));
        pair[isWeight ? 1 : 0].close();
        return pair[isWeight ? 0 : 1];
    }

    private static boolean isIndex(String s, int limit) {
        try {
            int i = Integer.parseInt(s);
            return i >= 0 && i < limit && String.valueOf(i).equals(s);
        } catch (NumberFormatException ex) {
            return false;
        }
    }

    /** I64 [vocab, k]: k distinct experts per token id, uniformly drawn. */
    private static Tensor tid2eid(RandomWeights r, int vocab, int experts, int k) {
        long[] table = new long[Math.multiplyExact(vocab, k)];
        int[] pool = new int[experts];
        for (int v = 0; v < vocab; v++) {
            for (int i = 0; i < experts; i++) {
                pool[i] = i;
            }
            for (int j = 0; j < k; j++) { // partial Fisher-Yates
                int pick = j + (int) Math.floor(r.uniform(0, experts - j));
                int t = pool[j];
                pool[j] = pool[pick];
                pool[pick] = t;
                table[v * k + j] = pool[j];
            }
        }
        return Tensor.fromLongs(table, DType.I64, Shape.of(vocab, k));
    }

    static String prefix(V4Config config, int layer) {
        if (layer < 0 || layer >= config.numLayers() + config.mtpLayers()) {
            throw new IllegalArgumentException("layer: expected 0.." + (config.numLayers() + config.mtpLayers() - 1) + ", got " + layer);
        }
        return layer < config.numLayers() ? "layers." + layer + "." : "mtp." + (layer - config.numLayers()) + ".";
    }

    /** A generator seeded by the seed and a name (FNV-1a of its UTF-8 bytes, then mixed). */
    static RandomWeights rng(long seed, String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xFF)) * 0x100000001b3L;
        }
        long z = seed * 0x9E3779B97F4A7C15L + h;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return new RandomWeights(z ^ (z >>> 31));
    }
}

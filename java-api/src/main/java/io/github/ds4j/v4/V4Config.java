package io.github.ds4j.v4;

import io.github.ds4j.RopeSpec;
import io.github.ds4j.internal.json.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The dimensions of a DeepSeek-V4 model, as config.json ships them (keys in brackets). Every layer
 * reads its sizes from here; nothing assumes Flash or Pro.
 *
 * @param hiddenSize D [hidden_size]
 * @param numLayers decoder layers without MTP [num_hidden_layers]
 * @param numHeads attention heads H [num_attention_heads]
 * @param headDim per-head size [head_dim]; the last {@code ropeDim} of it are rotated
 * @param ropeDim rotated dims per head [qk_rope_head_dim]
 * @param qLoraRank [q_lora_rank]
 * @param oGroups G [o_groups]
 * @param oLoraRank [o_lora_rank]
 * @param slidingWindow W [sliding_window]
 * @param indexHeads [index_n_heads]
 * @param indexHeadDim [index_head_dim]
 * @param indexTopK [index_topk]
 * @param compressRatios per layer, MTP last [compress_ratios]; 0 window only, 4 CSA, else HCA
 * @param routedExperts E [n_routed_experts]
 * @param sharedExperts [n_shared_experts]
 * @param expertsPerToken top-k [num_experts_per_tok]
 * @param moeIntermediate F [moe_intermediate_size]
 * @param numHashLayers layers routed by token id [num_hash_layers]
 * @param routedScalingFactor [routed_scaling_factor]
 * @param swigluLimit [swiglu_limit]; 0 = no clamp
 * @param hcMult residual streams [hc_mult]
 * @param hcSinkhornIters [hc_sinkhorn_iters]
 * @param hcEps [hc_eps]
 * @param ropeTheta base of window-only layers [rope_theta]
 * @param compressRopeTheta base of compressed layers [compress_rope_theta]
 * @param yarn [rope_scaling] of type yarn, used on compressed layers; null if absent
 * @param rmsNormEps [rms_norm_eps]
 * @param vocabSize [vocab_size]
 * @param maxPositions [max_position_embeddings]
 * @param mtpLayers [num_nextn_predict_layers]
 */
public record V4Config(
        int hiddenSize, int numLayers, int numHeads, int headDim, int ropeDim,
        int qLoraRank, int oGroups, int oLoraRank, int slidingWindow,
        int indexHeads, int indexHeadDim, int indexTopK, List<Integer> compressRatios,
        int routedExperts, int sharedExperts, int expertsPerToken, int moeIntermediate,
        int numHashLayers, double routedScalingFactor, double swigluLimit,
        int hcMult, int hcSinkhornIters, double hcEps,
        double ropeTheta, double compressRopeTheta, RopeSpec.Yarn yarn,
        double rmsNormEps, int vocabSize, long maxPositions, int mtpLayers) {

    /** The YaRN scaling of the compressed layers' RoPE in the released models (factor 16 over 65536 positions). */
    private static final RopeSpec.Yarn RELEASED_YARN = new RopeSpec.Yarn(16, 65536, 32, 1);

    public V4Config {
        compressRatios = List.copyOf(compressRatios);
        positive("hidden_size", hiddenSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("head_dim", headDim);
        positive("qk_rope_head_dim", ropeDim);
        positive("o_groups", oGroups);
        positive("hc_mult", hcMult);
        if (ropeDim > headDim || (ropeDim & 1) != 0) {
            throw new IllegalArgumentException("config: qk_rope_head_dim (" + ropeDim + ") must be even and <= head_dim (" + headDim + ")");
        }
        if ((long) numHeads * headDim % oGroups != 0) {
            throw new IllegalArgumentException("config: num_attention_heads * head_dim must divide into o_groups (" + oGroups + ")");
        }
        if (compressRatios.size() < numLayers) {
            throw new IllegalArgumentException("config: compress_ratios has " + compressRatios.size()
                    + " entries, expected at least num_hidden_layers = " + numLayers);
        }
        if (expertsPerToken > routedExperts) {
            throw new IllegalArgumentException("config: num_experts_per_tok (" + expertsPerToken + ") > n_routed_experts (" + routedExperts + ")");
        }
    }

    /** The compression ratio of layer {@code layer} (the MTP block is layer {@code numLayers}). */
    public int compressRatio(int layer) {
        if (layer < 0 || layer >= compressRatios.size()) {
            throw new IllegalArgumentException("layer " + layer + " out of range: the config has " + compressRatios.size() + " compress_ratios");
        }
        return compressRatios.get(layer);
    }

    /** True when layer {@code layer} routes by token id through tid2eid (never the MTP block). */
    public boolean isHashLayer(int layer) {
        return layer < numHashLayers && layer < numLayers;
    }

    /** RoPE of a layer: plain {@code rope_theta} for ratio 0, {@code compress_rope_theta} with YaRN otherwise. */
    public RopeSpec ropeFor(int layer) {
        return compressRatio(layer) == 0 ? RopeSpec.plain(ropeDim, ropeTheta) : new RopeSpec(ropeDim, compressRopeTheta, yarn);
    }

    /** Size of one output group's input in the grouped low-rank output projection: H*headDim/G. */
    public int groupInput() {
        return numHeads * headDim / oGroups;
    }

    /** Reads {@code dir/config.json}. */
    public static V4Config load(Path dir) {
        Path file = Files.isDirectory(dir) ? dir.resolve("config.json") : dir;
        try {
            return fromJson(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Parses config.json text; a missing required key is named in the exception. */
    public static V4Config fromJson(String json) {
        Object root = Json.parse(json);
        if (!(root instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException("config.json: expected a JSON object");
        }
        Keys k = new Keys(m);
        RopeSpec.Yarn yarn = null;
        Object rs = m.get("rope_scaling");
        if (rs != null) {
            if (!(rs instanceof Map<?, ?> r)) {
                throw new IllegalArgumentException("config.json: \"rope_scaling\" must be an object or null, got " + rs);
            }
            Object type = r.get("type") != null ? r.get("type") : r.get("rope_type");
            // Silently dropping another scaling would compute wrong angles on every compressed layer.
            if (!"yarn".equals(type)) {
                throw new IllegalArgumentException("config.json: \"rope_scaling\" must be of type \"yarn\", got " + type);
            }
            Keys y = new Keys(r);
            yarn = new RopeSpec.Yarn(y.dbl("factor", 1), (long) y.dbl("original_max_position_embeddings", 4096),
                    y.dbl("beta_fast", 32), y.dbl("beta_slow", 1));
        }
        int kvHeads = k.integerOr("num_key_value_heads", 1);
        if (kvHeads != 1) {
            throw new IllegalArgumentException("config.json: \"num_key_value_heads\" must be 1 (V4 attention has one shared KV head), got " + kvHeads);
        }
        int layers = k.integer("num_hidden_layers");
        List<Integer> ratios = k.intList("compress_ratios");
        return new V4Config(
                k.integer("hidden_size"), layers, k.integer("num_attention_heads"), k.integer("head_dim"),
                k.integer("qk_rope_head_dim"), k.integer("q_lora_rank"), k.integer("o_groups"), k.integer("o_lora_rank"),
                k.integer("sliding_window"), k.integerOr("index_n_heads", 0), k.integerOr("index_head_dim", 0),
                k.integerOr("index_topk", 0), ratios,
                k.integer("n_routed_experts"), k.integerOr("n_shared_experts", 1), k.integer("num_experts_per_tok"),
                k.integer("moe_intermediate_size"), k.integerOr("num_hash_layers", 0),
                k.dbl("routed_scaling_factor", 1.0), k.dbl("swiglu_limit", 0.0),
                k.integerOr("hc_mult", 4), k.integerOr("hc_sinkhorn_iters", 20), k.dbl("hc_eps", 1e-6),
                k.dbl("rope_theta", 10000), k.dbl("compress_rope_theta", 160000), yarn,
                k.dbl("rms_norm_eps", 1e-6), k.integerOr("vocab_size", 129280),
                (long) k.dbl("max_position_embeddings", 1048576), k.integerOr("num_nextn_predict_layers", 0));
    }

    /** config.json text for this configuration, in the shipped schema. */
    public String toJson() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("architectures", List.of("DeepseekV4ForCausalLM"));
        m.put("model_type", "deepseek_v4");
        m.put("hidden_size", hiddenSize);
        m.put("num_hidden_layers", numLayers);
        m.put("num_attention_heads", numHeads);
        m.put("num_key_value_heads", 1);
        m.put("head_dim", headDim);
        m.put("qk_rope_head_dim", ropeDim);
        m.put("q_lora_rank", qLoraRank);
        m.put("o_groups", oGroups);
        m.put("o_lora_rank", oLoraRank);
        m.put("sliding_window", slidingWindow);
        m.put("index_n_heads", indexHeads);
        m.put("index_head_dim", indexHeadDim);
        m.put("index_topk", indexTopK);
        m.put("n_routed_experts", routedExperts);
        m.put("n_shared_experts", sharedExperts);
        m.put("num_experts_per_tok", expertsPerToken);
        m.put("moe_intermediate_size", moeIntermediate);
        m.put("num_hash_layers", numHashLayers);
        m.put("routed_scaling_factor", routedScalingFactor);
        m.put("swiglu_limit", swigluLimit);
        m.put("scoring_func", "sqrtsoftplus");
        m.put("norm_topk_prob", true);
        m.put("expert_dtype", "fp4");
        m.put("hc_mult", hcMult);
        m.put("hc_sinkhorn_iters", hcSinkhornIters);
        m.put("hc_eps", hcEps);
        m.put("rope_theta", ropeTheta);
        m.put("compress_rope_theta", compressRopeTheta);
        if (yarn != null) {
            Map<String, Object> y = new java.util.LinkedHashMap<>();
            y.put("beta_fast", yarn.betaFast());
            y.put("beta_slow", yarn.betaSlow());
            y.put("factor", yarn.factor());
            y.put("original_max_position_embeddings", yarn.originalMaxPositions());
            y.put("type", "yarn");
            m.put("rope_scaling", y);
        }
        m.put("rms_norm_eps", rmsNormEps);
        m.put("vocab_size", vocabSize);
        m.put("max_position_embeddings", maxPositions);
        m.put("num_nextn_predict_layers", mtpLayers);
        Map<String, Object> q = new java.util.LinkedHashMap<>();
        q.put("activation_scheme", "dynamic");
        q.put("fmt", "e4m3");
        q.put("quant_method", "fp8");
        q.put("scale_fmt", "ue8m0");
        q.put("weight_block_size", List.of(128, 128));
        m.put("quantization_config", q);
        m.put("torch_dtype", "bfloat16");
        m.put("compress_ratios", compressRatios);
        return Json.write(m);
    }

    /** DeepSeek-V4-Flash: D 4096, 43 layers + MTP, 256 experts. */
    public static V4Config flash() {
        return released(4096, 43, 64, 1024, 8, 512, alternatingRatios(43, 0), 256, 2048, 1.5);
    }

    /** DeepSeek-V4-Pro: D 7168, 61 layers + MTP, 384 experts. */
    public static V4Config pro() {
        return released(7168, 61, 128, 1536, 16, 1024, alternatingRatios(61, 128), 384, 3072, 2.5);
    }

    /**
     * A released V4 model: the sizes that differ between Flash and Pro are arguments, the rest
     * (head 512 with rope 64, o_lora 1024, window 128, 64 index heads of 128, one shared expert,
     * top-6, 3 hash layers, SwiGLU limit 10, mHC 4 x 20, RoPE and YaRN, vocabulary, one MTP
     * block) is what both ship.
     */
    private static V4Config released(int hidden, int layers, int heads, int qLoraRank, int oGroups, int indexTopK,
                                     List<Integer> ratios, int experts, int moeIntermediate, double routedScaling) {
        return new V4Config(hidden, layers, heads, 512, 64, qLoraRank, oGroups, 1024, 128, 64, 128, indexTopK,
                ratios, experts, 1, 6, moeIntermediate, 3, routedScaling, 10.0, 4, 20, 1e-6,
                10000, 160000, RELEASED_YARN, 1e-6, 129280, 1048576, 1);
    }

    /**
     * A tiny model for tests and the demo that still takes every path: hidden 256, 4 layers
     * (ratios 0, 4, 16, 4; MTP 0) so a short prompt wraps the 16-token window, gives the CSA
     * layers more compressed entries than their top-4, and gives the HCA layer several entries;
     * layer 0 routes by token id, the others by biased scores; 8 experts, top-2.
     */
    public static V4Config tiny() {
        return new V4Config(256, 4, 4, 128, 32, 128, 2, 128, 16, 4, 64, 4,
                List.of(0, 4, 16, 4, 0), 8, 1, 2, 128, 1, 1.5, 10.0, 4, 20, 1e-6,
                10000, 160000, RELEASED_YARN, 1e-6, 1024, 65536, 1);
    }

    /** A preset by name: "tiny", "flash" or "pro". */
    public static V4Config preset(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "tiny" -> tiny();
            case "flash" -> flash();
            case "pro" -> pro();
            default -> throw new IllegalArgumentException("unknown preset \"" + name + "\": expected tiny, flash or pro");
        };
    }

    /** [first, first, 4, 128, 4, 128, ..., 4] for the layers, then 0 for the MTP block. */
    private static List<Integer> alternatingRatios(int layers, int first) {
        List<Integer> r = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            r.add(i < 2 ? first : (i % 2 == 0 ? 4 : 128));
        }
        r.add(0);
        return r;
    }

    private static void positive(String key, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException("config: " + key + " must be positive, got " + v);
        }
    }

    /** Typed access to config.json keys with messages that name the key. */
    private record Keys(Map<?, ?> m) {
        int integer(String key) {
            return asInt(key, required(key));
        }

        int integerOr(String key, int dflt) {
            Object v = m.get(key);
            return v == null ? dflt : asInt(key, v);
        }

        double dbl(String key, double dflt) {
            Object v = m.get(key);
            if (v == null) {
                return dflt;
            }
            if (!(v instanceof Number n)) {
                throw new IllegalArgumentException("config.json: \"" + key + "\" must be a number, got " + v);
            }
            return n.doubleValue();
        }

        List<Integer> intList(String key) {
            if (!(required(key) instanceof List<?> l)) {
                throw new IllegalArgumentException("config.json: \"" + key + "\" must be a list of integers");
            }
            List<Integer> out = new ArrayList<>();
            for (Object o : l) {
                out.add(asInt(key, o));
            }
            return out;
        }

        private Object required(String key) {
            Object v = m.get(key);
            if (v == null) {
                throw new IllegalArgumentException("config.json: missing key \"" + key + "\"");
            }
            return v;
        }

        private static int asInt(String key, Object v) {
            if (v instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
                return (int) (long) l;
            }
            if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < Integer.MAX_VALUE) {
                return (int) (double) d;
            }
            throw new IllegalArgumentException("config.json: \"" + key + "\" must be an integer, got " + v);
        }
    }
}

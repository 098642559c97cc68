package io.github.ds4j.v4;

import io.github.ds4j.RopeSpec;
import io.github.ds4j.internal.json.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class V4ConfigTest {
    /**
     * DeepSeek-V4-Flash's config.json written out by hand from spec §1, in the shipped schema, with
     * keys ds4j does not use (quantization_config, torch_dtype, ...) that it must ignore.
     */
    static final String FLASH_CONFIG = """
            {
              "architectures": ["DeepseekV4ForCausalLM"],
              "model_type": "deepseek_v4",
              "hidden_size": 4096,
              "num_hidden_layers": 43,
              "num_attention_heads": 64,
              "num_key_value_heads": 1,
              "head_dim": 512,
              "qk_rope_head_dim": 64,
              "q_lora_rank": 1024,
              "o_groups": 8,
              "o_lora_rank": 1024,
              "sliding_window": 128,
              "index_n_heads": 64,
              "index_head_dim": 128,
              "index_topk": 512,
              "compress_ratios": [0, 0, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128,
                                  4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128,
                                  4, 128, 4, 0],
              "n_routed_experts": 256,
              "n_shared_experts": 1,
              "num_experts_per_tok": 6,
              "moe_intermediate_size": 2048,
              "num_hash_layers": 3,
              "routed_scaling_factor": 1.5,
              "swiglu_limit": 10.0,
              "scoring_func": "sqrtsoftplus",
              "norm_topk_prob": true,
              "hc_mult": 4,
              "hc_sinkhorn_iters": 20,
              "hc_eps": 1e-06,
              "rope_theta": 10000,
              "compress_rope_theta": 160000,
              "rope_scaling": {
                "beta_fast": 32,
                "beta_slow": 1,
                "factor": 16,
                "original_max_position_embeddings": 65536,
                "type": "yarn"
              },
              "rms_norm_eps": 1e-06,
              "vocab_size": 129280,
              "max_position_embeddings": 1048576,
              "num_nextn_predict_layers": 1,
              "bos_token_id": 0,
              "eos_token_id": 1,
              "tie_word_embeddings": false,
              "quantization_config": {
                "activation_scheme": "dynamic",
                "fmt": "e4m3",
                "quant_method": "fp8",
                "scale_fmt": "ue8m0",
                "weight_block_size": [128, 128]
              },
              "torch_dtype": "bfloat16",
              "transformers_version": "4.57.1"
            }
            """;

    /** Keys config.json must have: every dimension a layer needs and has no safe default for. */
    static final List<String> REQUIRED = List.of("hidden_size", "num_hidden_layers", "num_attention_heads", "head_dim",
            "qk_rope_head_dim", "q_lora_rank", "o_groups", "o_lora_rank", "sliding_window", "compress_ratios",
            "n_routed_experts", "num_experts_per_tok", "moe_intermediate_size");

    @Test
    void flashConfigJsonGivesEveryFieldOfSpecSection1() {
        V4Config c = V4Config.fromJson(FLASH_CONFIG);
        assertEquals(4096, c.hiddenSize());
        assertEquals(43, c.numLayers());
        assertEquals(64, c.numHeads());
        assertEquals(512, c.headDim());
        assertEquals(64, c.ropeDim());
        assertEquals(1024, c.qLoraRank());
        assertEquals(8, c.oGroups());
        assertEquals(1024, c.oLoraRank());
        assertEquals(128, c.slidingWindow());
        assertEquals(64, c.indexHeads());
        assertEquals(128, c.indexHeadDim());
        assertEquals(512, c.indexTopK());
        assertEquals(44, c.compressRatios().size());
        assertEquals(256, c.routedExperts());
        assertEquals(1, c.sharedExperts());
        assertEquals(6, c.expertsPerToken());
        assertEquals(2048, c.moeIntermediate());
        assertEquals(3, c.numHashLayers());
        assertEquals(1.5, c.routedScalingFactor());
        assertEquals(10.0, c.swigluLimit());
        assertEquals(4, c.hcMult());
        assertEquals(20, c.hcSinkhornIters());
        assertEquals(1e-6, c.hcEps());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(160000.0, c.compressRopeTheta());
        assertEquals(new RopeSpec.Yarn(16, 65536, 32, 1), c.yarn());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(129280, c.vocabSize());
        assertEquals(1048576L, c.maxPositions());
        assertEquals(1, c.mtpLayers());
        assertEquals(4096, c.groupInput());
        assertEquals(V4Config.flash(), c);
    }

    @Test
    void compressRatiosFollowTheFlashPatternPerLayerWithTheMtpBlockLast() {
        V4Config c = V4Config.fromJson(FLASH_CONFIG);
        for (int layer = 0; layer < 43; layer++) {
            int expected = layer < 2 ? 0 : layer % 2 == 0 ? 4 : 128;
            assertEquals(expected, c.compressRatio(layer), "layer " + layer);
        }
        assertEquals(0, c.compressRatio(43), "MTP block");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.compressRatio(44));
        assertTrue(e.getMessage().contains("44"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> c.compressRatio(-1));
    }

    @Test
    void onlyLayersZeroToTwoRouteByTokenId() {
        V4Config c = V4Config.fromJson(FLASH_CONFIG);
        for (int layer = 0; layer <= 43; layer++) {
            assertEquals(layer < 3, c.isHashLayer(layer), "layer " + layer);
        }
    }

    @Test
    void yarnAppliesExactlyToCompressedLayers() {
        V4Config c = V4Config.fromJson(FLASH_CONFIG);
        for (int layer = 0; layer <= 43; layer++) {
            RopeSpec r = c.ropeFor(layer);
            assertEquals(64, r.dims());
            if (c.compressRatio(layer) == 0) {
                assertEquals(10000.0, r.base(), "layer " + layer);
                assertNull(r.yarn(), "layer " + layer);
            } else {
                assertEquals(160000.0, r.base(), "layer " + layer);
                assertEquals(new RopeSpec.Yarn(16, 65536, 32, 1), r.yarn(), "layer " + layer);
            }
        }
    }

    @Test
    void toJsonRoundTripsFlashProAndParsedConfigs() {
        for (V4Config c : List.of(V4Config.flash(), V4Config.pro(), V4Config.fromJson(FLASH_CONFIG))) {
            V4Config back = V4Config.fromJson(c.toJson());
            assertEquals(c, back);
            assertEquals(c.toJson(), back.toJson());
        }
        // toJson writes the shipped schema: every key ds4j reads from the hand-written file is there.
        Map<?, ?> written = (Map<?, ?>) Json.parse(V4Config.flash().toJson());
        Map<?, ?> shipped = (Map<?, ?>) Json.parse(FLASH_CONFIG);
        for (Object key : shipped.keySet()) {
            if (!List.of("architectures", "model_type", "scoring_func", "norm_topk_prob", "bos_token_id", "eos_token_id",
                    "tie_word_embeddings", "transformers_version").contains(key)) {
                assertTrue(written.containsKey(key), "toJson lacks " + key);
            }
        }
    }

    @Test
    void loadReadsConfigJsonFromACheckpointDirectory(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), FLASH_CONFIG);
        assertEquals(V4Config.flash(), V4Config.load(dir));
        assertEquals(V4Config.flash(), V4Config.load(dir.resolve("config.json")));
        Files.writeString(dir.resolve("config.json"), FLASH_CONFIG.replace("\"hidden_size\": 4096,", ""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> V4Config.load(dir));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("\"hidden_size\""), e.getMessage());
    }

    @Test
    void everyMissingRequiredKeyIsNamed() {
        for (String key : REQUIRED) {
            Map<String, Object> m = flashMap();
            m.remove(key);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> V4Config.fromJson(Json.write(m)), key);
            assertTrue(e.getMessage().contains("\"" + key + "\""), key + ": " + e.getMessage());
        }
    }

    @Test
    void everyMistypedKeyIsNamed() {
        Map<String, Object> numeric = flashMap();
        List<String> keys = new ArrayList<>();
        for (Map.Entry<String, Object> e : numeric.entrySet()) {
            if (e.getValue() instanceof Number) {
                keys.add(e.getKey());
            }
        }
        assertTrue(keys.size() > 25, "numeric keys: " + keys);
        for (String key : keys) {
            if (key.endsWith("_token_id")) {
                continue; // not read by ds4j
            }
            for (Object bad : List.of("12", true, List.of(1), Map.of("a", 1))) {
                Map<String, Object> m = flashMap();
                m.put(key, bad);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> V4Config.fromJson(Json.write(m)),
                        key + " = " + bad);
                assertTrue(e.getMessage().contains("\"" + key + "\""), key + " = " + bad + ": " + e.getMessage());
            }
        }
        // Integers that are not integral.
        for (String key : List.of("hidden_size", "num_hash_layers", "hc_mult", "vocab_size")) {
            Map<String, Object> m = flashMap();
            m.put(key, 4.5);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> V4Config.fromJson(Json.write(m)));
            assertTrue(e.getMessage().contains("\"" + key + "\""), e.getMessage());
        }
    }

    @Test
    void mistypedListsAndRopeScalingAreNamed() {
        Map<String, Object> m = flashMap();
        m.put("compress_ratios", 4);
        assertNamed(m, "compress_ratios");
        m = flashMap();
        m.put("compress_ratios", List.of(0, "4", 0));
        assertNamed(m, "compress_ratios");
        m = flashMap();
        m.put("compress_ratios", List.of(0, 0, 4));
        assertNamed(m, "compress_ratios");
        m = flashMap();
        m.put("rope_scaling", "yarn");
        assertNamed(m, "rope_scaling");
        m = flashMap();
        m.put("rope_scaling", Map.of("type", "linear", "factor", 4));
        assertNamed(m, "rope_scaling");
        m = flashMap();
        Map<String, Object> yarn = new LinkedHashMap<>((Map<String, Object>) flashMap().get("rope_scaling"));
        yarn.put("factor", "16");
        m.put("rope_scaling", yarn);
        assertNamed(m, "factor");
    }

    @Test
    void ropeScalingMayBeAbsentOrNull() {
        Map<String, Object> m = flashMap();
        m.remove("rope_scaling");
        assertNull(V4Config.fromJson(Json.write(m)).yarn());
        m.put("rope_scaling", null);
        V4Config c = V4Config.fromJson(Json.write(m));
        assertNull(c.ropeFor(2).yarn());
        assertEquals(160000.0, c.ropeFor(2).base());
    }

    @Test
    void inconsistentDimensionsAreRejected() {
        Map<String, Object> m = flashMap();
        m.put("num_experts_per_tok", 300);
        assertNamed(m, "num_experts_per_tok");
        m = flashMap();
        m.put("qk_rope_head_dim", 1024);
        assertNamed(m, "qk_rope_head_dim");
        m = flashMap();
        m.put("hidden_size", 0);
        assertNamed(m, "hidden_size");
        assertFalse(V4Config.fromJson(FLASH_CONFIG).isHashLayer(43));
    }

    private static void assertNamed(Map<String, Object> m, String key) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> V4Config.fromJson(Json.write(m)), key);
        assertTrue(e.getMessage().contains(key), key + ": " + e.getMessage());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> flashMap() {
        return new LinkedHashMap<>((Map<String, Object>) Json.parse(FLASH_CONFIG));
    }
}

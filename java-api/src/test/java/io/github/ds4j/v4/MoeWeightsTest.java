package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.HyperConnectionWeights;
import io.github.ds4j.internal.checkpoint.MoeWeights;
import io.github.ds4j.v4.ref.MoeFixtures;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The random checkpoint-layout weights that tests and make-checkpoint use. */
class MoeWeightsTest {

    static void assertTensor(Tensor t, DType dtype, long... shape) {
        assertEquals(dtype, t.dtype());
        assertEquals(Shape.of(shape), t.shape());
    }

    @Test
    void flashLayoutMatchesTheShippedCheckpoint() {
        V4Config flash = V4Config.flash();
        try (Tensor w2 = MoeWeights.generate(flash, 3, "layers.3.ffn.experts.0.w2.weight", 1);
             Tensor gate = MoeWeights.generate(flash, 3, "layers.3.ffn.gate.weight", 1);
             Tensor bias = MoeWeights.generate(flash, 3, "layers.3.ffn.gate.bias", 1);
             Tensor fn = HyperConnectionWeights.generate(flash, "layers.3.hc_attn_fn", 1);
             Tensor base = HyperConnectionWeights.generate(flash, "layers.3.hc_attn_base", 1);
             Tensor scale = HyperConnectionWeights.generate(flash, "layers.3.hc_ffn_scale", 1);
             Tensor headFn = HyperConnectionWeights.generate(flash, "hc_head_fn", 1);
             Tensor headScale = HyperConnectionWeights.generate(flash, "mtp.0.hc_head_scale", 1);
             Tensor norm = HyperConnectionWeights.generate(flash, "layers.3.ffn_norm.weight", 1)) {
            assertTensor(w2, DType.I8, 4096, 1024);
            assertTensor(gate, DType.BF16, 256, 4096);
            assertTensor(bias, DType.F32, 256);
            assertTensor(fn, DType.F32, 24, 16384);
            assertTensor(base, DType.F32, 24);
            assertTensor(scale, DType.F32, 3);
            assertTensor(headFn, DType.F32, 4, 16384);
            assertTensor(headScale, DType.F32, 1);
            assertTensor(norm, DType.BF16, 4096);
        }
        // scales follow the same rules at any size: 1x32 for MXFP4, 128x128 for FP8
        V4Config small = new MoeFixtures.Cfg().build();
        try (Tensor w1s = MoeWeights.generate(small, 1, "layers.1.ffn.experts.0.w1.scale", 1);
             Tensor w2s = MoeWeights.generate(small, 1, "layers.1.ffn.experts.0.w2.scale", 1);
             Tensor sharedScale = MoeWeights.generate(small, 1, "layers.1.ffn.shared_experts.w1.scale", 1)) {
            assertTensor(w1s, DType.F8_E8M0, 128, 8);
            assertTensor(w2s, DType.F8_E8M0, 256, 4);
            assertTensor(sharedScale, DType.F8_E8M0, 1, 2);
        }
        List<String> hash = MoeWeights.names(flash, 0);
        assertTrue(hash.contains("layers.0.ffn.gate.tid2eid") && !hash.contains("layers.0.ffn.gate.bias"));
        List<String> learned = MoeWeights.names(flash, 3);
        assertTrue(learned.contains("layers.3.ffn.gate.bias") && !learned.contains("layers.3.ffn.gate.tid2eid"));
        assertEquals(2 + 256 * 6 + 6, learned.size());
        assertTrue(MoeWeights.names(flash, 43).getFirst().startsWith("mtp.0.ffn."));
    }

    @Test
    void eachTensorDependsOnlyOnSeedAndName() {
        V4Config c = new MoeFixtures.Cfg().build();
        Map<String, Tensor> all = MoeWeights.generateAll(c, 0, 9);
        try {
            for (String name : List.of("layers.0.ffn.experts.5.w3.weight", "layers.0.ffn.experts.5.w3.scale",
                    "layers.0.ffn.gate.tid2eid", "layers.0.ffn.shared_experts.w2.weight")) {
                try (Tensor alone = MoeWeights.generate(c, 0, name, 9);
                     Tensor otherSeed = MoeWeights.generate(c, 0, name, 10)) {
                    assertArrayEquals(all.get(name).toByteArray(), alone.toByteArray(), name);
                    assertTrue(!java.util.Arrays.equals(alone.toByteArray(), otherSeed.toByteArray()), name + " ignores the seed");
                }
            }
            long[] table = all.get("layers.0.ffn.gate.tid2eid").toLongArray();
            for (int v = 0; v < c.vocabSize(); v++) {
                Set<Long> row = new HashSet<>();
                for (int j = 0; j < c.expertsPerToken(); j++) {
                    long e = table[v * c.expertsPerToken() + j];
                    assertTrue(e >= 0 && e < c.routedExperts());
                    row.add(e);
                }
                assertEquals(c.expertsPerToken(), row.size(), "row " + v + " repeats an expert");
            }
        } finally {
            all.values().forEach(Tensor::close);
        }
        assertThrows(IllegalArgumentException.class, () -> MoeWeights.generate(c, 0, "layers.0.ffn.experts.8.w1.weight", 1));
        assertThrows(IllegalArgumentException.class, () -> MoeWeights.generate(c, 0, "layers.1.ffn.gate.weight", 1));
        assertThrows(IllegalArgumentException.class, () -> HyperConnectionWeights.generate(c, "layers.0.attn.q_norm.weight", 1));
    }
}

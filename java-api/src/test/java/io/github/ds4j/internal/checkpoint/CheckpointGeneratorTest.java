package io.github.ds4j.internal.checkpoint;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointLayout.Entry;
import io.github.ds4j.internal.checkpoint.CheckpointLayout.Kind;
import io.github.ds4j.v4.Checkpoint;
import io.github.ds4j.v4.TensorSource;
import io.github.ds4j.v4.V4Config;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.MoeReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The random weights that make-checkpoint writes and every layer test loads. */
class CheckpointGeneratorTest {
    static final V4Config TINY = V4Config.tiny();

    @TempDir
    Path dir;

    static Entry entry(List<Entry> entries, String name) {
        return entries.stream().filter(e -> e.name().equals(name)).findFirst().orElseThrow(() -> new AssertionError(name));
    }

    /** An FP8 or FP4 weight's entry and its scale's, as {@link CheckpointGenerator#tensors} takes them. */
    static List<Entry> weightAndScale(List<Entry> entries, String base) {
        return List.of(entry(entries, base + ".weight"), entry(entries, base + ".scale"));
    }

    @Test
    void everyTensorOfEveryPartHasItsLayoutDtypeAndShape() {
        CheckpointGenerator gen = new CheckpointGenerator(TINY, 1);
        List<List<Entry>> parts = new ArrayList<>(List.of(gen.layout().model(), gen.layout().head("mtp.0.")));
        for (int layer = 0; layer <= TINY.numLayers(); layer++) {
            parts.add(gen.layout().block(layer));
        }
        for (List<Entry> part : parts) {
            Map<String, Tensor> tensors = gen.tensors(part);
            try {
                assertEquals(part.stream().map(Entry::name).toList(), List.copyOf(tensors.keySet()));
                for (Entry e : part) {
                    Tensor t = tensors.get(e.name());
                    assertEquals(e.dtype(), t.dtype(), e.name());
                    assertEquals(e.shape(), t.shape(), e.name());
                }
            } finally {
                tensors.values().forEach(Tensor::close);
            }
        }
        // The flash sizes follow the same rules: MXFP4 experts packed two codes a byte with 1x32 scales.
        CheckpointLayout flash = new CheckpointLayout(V4Config.flash());
        Map<String, Tensor> w2 = new CheckpointGenerator(V4Config.flash(), 1).tensors(weightAndScale(flash.expert(3, 0), "layers.3.ffn.experts.0.w2"));
        try {
            assertEquals(Shape.of(4096, 1024), w2.get("layers.3.ffn.experts.0.w2.weight").shape());
            assertEquals(Shape.of(4096, 64), w2.get("layers.3.ffn.experts.0.w2.scale").shape());
        } finally {
            w2.values().forEach(Tensor::close);
        }
    }

    @Test
    void eachTensorDependsOnlyOnSeedAndName() {
        List<Entry> moe = new CheckpointLayout(TINY).moe(0);
        Map<String, Tensor> all = new CheckpointGenerator(TINY, 9).tensors(moe);
        try {
            for (String base : List.of("layers.0.ffn.experts.5.w3", "layers.0.ffn.shared_experts.w2")) {
                List<Entry> pair = weightAndScale(moe, base);
                Map<String, Tensor> alone = new CheckpointGenerator(TINY, 9).tensors(pair);
                Map<String, Tensor> otherSeed = new CheckpointGenerator(TINY, 10).tensors(pair);
                try {
                    for (Entry e : pair) {
                        assertArrayEquals(all.get(e.name()).toByteArray(), alone.get(e.name()).toByteArray(), e.name());
                    }
                    assertFalse(Arrays.equals(alone.get(base + ".weight").toByteArray(), otherSeed.get(base + ".weight").toByteArray()),
                            base + " ignores the seed");
                } finally {
                    alone.values().forEach(Tensor::close);
                    otherSeed.values().forEach(Tensor::close);
                }
            }
        } finally {
            all.values().forEach(Tensor::close);
        }
    }

    @Test
    void aLayerInMemoryEqualsThatLayerInAWrittenCheckpoint() {
        V4Config two = CheckpointGenerator.withLayers(TINY, 2);
        CheckpointGenerator gen = new CheckpointGenerator(two, 17);
        gen.write(dir);
        Map<String, Tensor> layer1 = gen.tensors(gen.layout().block(1));
        try (Checkpoint ckpt = Checkpoint.open(dir, null)) {
            TensorSource file = ckpt.layer(1, Checkpoint.Part.BLOCK);
            for (Map.Entry<String, Tensor> e : layer1.entrySet()) {
                assertArrayEquals(e.getValue().toByteArray(), file.tensor(e.getKey()).toByteArray(), e.getKey());
            }
        } finally {
            layer1.values().forEach(Tensor::close);
        }
    }

    @Test
    void weightsKeepUnitRmsActivationsNearUnitSize() {
        CheckpointGenerator gen = new CheckpointGenerator(TINY, 3);
        List<Entry> block = gen.layout().block(1);
        Map<String, Tensor> w = gen.tensors(block);
        try {
            for (int i = 0; i < block.size(); i++) {
                Entry e = block.get(i);
                if (e.kind() == Kind.FP8_WEIGHT || e.kind() == Kind.FP4_WEIGHT) {
                    Tensor values = w.get(e.name());
                    Tensor scales = w.get(block.get(i + 1).name());
                    long out = values.dim(0);
                    long in = e.kind() == Kind.FP8_WEIGHT ? values.dim(1) : 2 * values.dim(1);
                    float[] v = e.kind() == Kind.FP8_WEIGHT ? BlockScaled.fp8Weight(values, scales).toFloatArray()
                            : BlockScaled.mxfp4Weight(values.viewAs(DType.FP4_E2M1, Shape.of(out, in)), scales).toFloatArray();
                    // std 1/sqrt(fan-in): x . w has about the RMS of x (quantization adds a few percent)
                    double gain = rms(v) * Math.sqrt(in);
                    assertTrue(gain > 0.9 && gain < 1.1, e.name() + ": RMS * sqrt(fan-in) = " + gain);
                } else if (e.name().endsWith("norm.weight")) {
                    float[] v = w.get(e.name()).toFloatArray();
                    double mean = Arrays.stream(toDouble(v)).average().orElseThrow();
                    assertTrue(Math.abs(mean - 1) < 0.05 && rms(shift(v, -1)) > 0.05, e.name() + ": mean " + mean);
                }
            }
            // The comb part of an mHC base leans to its diagonal: a stream mostly keeps itself.
            int n = TINY.hcMult();
            float[] base = w.get("layers.1.hc_attn_base").toFloatArray();
            double diagonal = 0;
            double off = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double v = base[2 * n + i * n + j];
                    diagonal += i == j ? v / n : 0;
                    off += i == j ? 0 : v / (n * n - n);
                }
            }
            assertTrue(diagonal - off > 1, "comb base diagonal " + diagonal + " vs off-diagonal " + off);
        } finally {
            w.values().forEach(Tensor::close);
        }
    }

    @Test
    void routingBiasChangesSomeSelectionsButNotAll() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 23;
        System.out.println("CheckpointGeneratorTest seed " + seed);
        Map<String, Tensor> gate = new CheckpointGenerator(c, seed).tensors(new CheckpointLayout(c).moe(1).subList(0, 2));
        try (Tensor xt = MoeFixtures.randomTensor(new SplittableRandom(seed), DType.F32, Shape.of(64, c.hiddenSize()), 1.0)) {
            double[] bias = toDouble(gate.get("layers.1.ffn.gate.bias").toFloatArray());
            assertTrue(Arrays.stream(bias).allMatch(b -> Math.abs(b) <= 0.1), Arrays.toString(bias));
            double[][] x = MoeFixtures.rows(xt);
            double[][] scores = MoeReference.scores(x, MoeReference.real2d(gate.get("layers.1.ffn.gate.weight")));
            int[][] biased = MoeReference.route(scores, bias, c.expertsPerToken(), 1).experts();
            int[][] plain = MoeReference.route(scores, null, c.expertsPerToken(), 1).experts();
            long changed = LongStream.range(0, x.length).filter(t -> !Arrays.equals(biased[(int) t], plain[(int) t])).count();
            assertTrue(changed >= x.length / 8 && changed <= x.length * 3 / 4, "the bias changed " + changed + " of " + x.length + " selections");
        } finally {
            gate.values().forEach(Tensor::close);
        }
    }

    @Test
    void hashTablesNameDistinctExpertsPerToken() {
        Map<String, Tensor> gate = new CheckpointGenerator(TINY, 5).tensors(new CheckpointLayout(TINY).moe(0).subList(0, 2));
        try {
            long[] table = gate.get("layers.0.ffn.gate.tid2eid").toLongArray();
            int k = TINY.expertsPerToken();
            for (int token = 0; token < TINY.vocabSize(); token++) {
                long[] row = Arrays.copyOfRange(table, token * k, token * k + k);
                assertTrue(Arrays.stream(row).allMatch(e -> e >= 0 && e < TINY.routedExperts()), Arrays.toString(row));
                assertEquals(k, Arrays.stream(row).distinct().count(), "token " + token + ": " + Arrays.toString(row));
            }
        } finally {
            gate.values().forEach(Tensor::close);
        }
    }

    @Test
    void aWeightWithoutItsScaleIsNamed() {
        List<Entry> attention = new CheckpointLayout(TINY).attention(0);
        Entry wqA = entry(attention, "layers.0.attn.wq_a.weight");
        CheckpointGenerator gen = new CheckpointGenerator(TINY, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gen.tensors(List.of(wqA)));
        assertTrue(e.getMessage().startsWith("layers.0.attn.wq_a.weight: "), e.getMessage());
        Entry scale = entry(attention, "layers.0.attn.wq_a.scale");
        e = assertThrows(IllegalArgumentException.class, () -> gen.tensors(List.of(scale)));
        assertTrue(e.getMessage().startsWith("layers.0.attn.wq_a.scale: "), e.getMessage());
    }

    private static double rms(float[] v) {
        double ss = 0;
        for (float f : v) {
            ss += (double) f * f;
        }
        return Math.sqrt(ss / v.length);
    }

    private static float[] shift(float[] v, float by) {
        float[] out = v.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] += by;
        }
        return out;
    }

    private static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }
}

package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.internal.checkpoint.RandomWeights;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.RefNumbers;
import io.github.ds4j.v4.ref.MapSource;
import io.github.ds4j.v4.ref.MoeReference;
import io.github.ds4j.v4.ref.MoeReference.ExpertWeights;
import io.github.ds4j.v4.ref.MoeReference.Options;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static io.github.ds4j.v4.LayerTests.CPU;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MoeTest {
    /** Relative L2 error allowed against the float64 reference: rare one-ulp bf16 flips only. */
    static final double TOL = 1e-3;

    /** The float64 reference output of layer {@code layer} for x (exact values of the input). */
    static double[][] reference(V4Config c, MapSource src, int layer, double[][] x, long[] ids, boolean bf16, Options opt) {
        var w = src.tensors();
        String p = "layers." + layer + ".ffn.";
        boolean hash = c.isHashLayer(layer);
        ExpertWeights[] experts = new ExpertWeights[c.routedExperts()];
        for (int e = 0; e < experts.length; e++) {
            experts[e] = MoeReference.expert(w, p + "experts." + e, false);
        }
        ExpertWeights shared = c.sharedExperts() > 0 ? MoeReference.expert(w, p + "shared_experts", true) : null;
        return MoeReference.forward(x, MoeReference.real2d(w.get(p + "gate.weight")),
                hash ? null : MoeReference.real1d(w.get(p + "gate.bias")),
                hash ? MoeReference.table(w.get(p + "gate.tid2eid")) : null, ids, experts, shared,
                c.expertsPerToken(), c.routedScalingFactor(), c.swigluLimit(), bf16, opt);
    }

    /** The fraction of gate values x . w1 beyond ±limit over the tokens x: how much the SwiGLU clamp acts. */
    static double fractionBeyondLimit(ExpertWeights w, double[][] x, double limit) {
        int beyond = 0;
        for (double[] token : x) {
            for (double[] row : w.w1()) {
                beyond += Math.abs(RefNumbers.dot(token, row)) > limit ? 1 : 0;
            }
        }
        return beyond / (double) (x.length * w.w1().length);
    }

    /** {@code count} unit-RMS bf16 tokens [count, D] drawn from {@code seed}, which is printed. */
    static Tensor tokens(V4Config c, long seed, int count) {
        System.out.println("MoeTest seed " + seed);
        return MoeFixtures.randomTensor(new SplittableRandom(seed), DType.BF16, Shape.of(count, c.hiddenSize()), 1.0);
    }

    static long[] randomIds(SplittableRandom rng, int n, int vocab) {
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = rng.nextInt(vocab);
        }
        return ids;
    }

    @Test
    void forwardMatchesFloat64ReferenceOnHashAndLearnedLayers() {
        V4Config c = new MoeFixtures.Cfg().build();
        for (long seed : new long[] {11, 12, 13}) {
            System.out.println("MoeTest seed " + seed);
            SplittableRandom rng = new SplittableRandom(seed);
            for (int layer = 0; layer < 2; layer++) {
                try (MapSource src = MapSource.moe(c, layer, seed);
                     Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(9, c.hiddenSize()), 1.0)) {
                    long[] ids = randomIds(rng, 9, c.vocabSize());
                    try (Tensor idt = Tensor.fromLongs(ids, DType.I64, Shape.of(9));
                         Tensor y = Moe.load(CPU, c, layer, src).forward(x, idt)) {
                        assertEquals(DType.BF16, y.dtype());
                        assertEquals(x.shape(), y.shape());
                        double[][] ref = reference(c, src, layer, MoeFixtures.rows(x), ids, true, Options.SPEC);
                        double err = MoeFixtures.relativeError(MoeFixtures.rows(y), ref);
                        System.out.println("  layer " + layer + ": relative error " + err);
                        assertTrue(err < TOL, "layer " + layer + " seed " + seed + ": relative error " + err);
                    }
                }
            }
        }
    }

    @Test
    void f32InputGivesF32OutputMatchingReference() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 21;
        System.out.println("MoeTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        try (MapSource src = MapSource.moe(c, 1, seed);
             Tensor x = MoeFixtures.randomTensor(rng, DType.F32, Shape.of(5, c.hiddenSize()), 1.0);
             Tensor y = Moe.load(CPU, c, 1, src).forward(x, null)) {
            assertEquals(DType.F32, y.dtype());
            double[][] ref = reference(c, src, 1, MoeFixtures.rows(x), null, false, Options.SPEC);
            double err = MoeFixtures.relativeError(MoeFixtures.rows(y), ref);
            assertTrue(err < TOL, "relative error " + err);
        }
    }

    @Test
    void routingWeightMultipliesTheActivationBeforeW2() {
        // With the weight applied after w2, h's bf16 rounding and FP8 scales change: the test
        // must tell the two apart, so the reference of the wrong order has to be far off.
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 31;
        System.out.println("MoeTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        try (MapSource src = MapSource.moe(c, 1, seed);
             Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(16, c.hiddenSize()), 1.0);
             Tensor y = Moe.load(CPU, c, 1, src).forward(x, null)) {
            double[][] xs = MoeFixtures.rows(x);
            double[][] got = MoeFixtures.rows(y);
            Options sharedOff = new Options(true, true, false);
            double before = MoeFixtures.relativeError(got, reference(c, src, 1, xs, null, true, Options.SPEC));
            double after = MoeFixtures.relativeError(got, reference(c, src, 1, xs, null, true, new Options(false, true, true)));
            double noShared = MoeFixtures.relativeError(got, reference(c, src, 1, xs, null, true, sharedOff));
            System.out.println("  relative error: spec " + before + ", weight after w2 " + after + ", no shared " + noShared);
            assertTrue(before < TOL, "weight before w2: relative error " + before);
            assertTrue(after > 3 * TOL, "weight after w2 should be distinguishable, relative error only " + after);
            assertTrue(noShared > 10 * TOL, "the shared expert must contribute, relative error without it " + noShared);
        }
    }

    @Test
    void clampOfTheSwigluIsActiveOnLargeInputsAndMatchesReference() {
        V4Config c = new MoeFixtures.Cfg().build();
        for (long seed : new long[] {41, 42}) {
            System.out.println("MoeTest seed " + seed);
            SplittableRandom rng = new SplittableRandom(seed);
            // Weights of std 1/sqrt(D) give |x . w1| ~ rms(x): with rms 40 most gate values exceed the limit of 10.
            try (MapSource src = MapSource.moe(c, 1, seed);
                 Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(6, c.hiddenSize()), 40.0);
                 Tensor y = Moe.load(CPU, c, 1, src).forward(x, null)) {
                double[][] xs = MoeFixtures.rows(x);
                double[][] got = MoeFixtures.rows(y);
                double beyond = fractionBeyondLimit(MoeReference.expert(src.tensors(), "layers.1.ffn.experts.0", false), xs, c.swigluLimit());
                assertTrue(beyond > 0.5, "only " + beyond + " of the gate values exceed the limit: the test needs larger inputs");
                double spec = MoeFixtures.relativeError(got, reference(c, src, 1, xs, null, true, Options.SPEC));
                double unclamped = MoeFixtures.relativeError(got, reference(c, src, 1, xs, null, true, new Options(true, false, true)));
                System.out.println("  relative error: spec " + spec + ", unclamped " + unclamped);
                assertTrue(spec < TOL, "clamped: relative error " + spec);
                assertTrue(unclamped > 0.1, "the clamp should matter here, yet the unclamped reference is within " + unclamped);
            }
        }
    }

    @Test
    void expertsPackedAsU8GiveTheI8Result() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 52;
        try (MapSource src = MapSource.moe(c, 1, seed);
             Tensor x = tokens(c, seed, 12)) {
            float[] i8;
            try (Moe moe = Moe.load(CPU, c, 1, src); Tensor y = moe.forward(x, null)) {
                i8 = y.toFloatArray();
            }
            for (String name : List.copyOf(src.tensors().keySet())) {
                Tensor w = src.tensors().get(name);
                if (name.contains(".experts.") && w.dtype() == DType.I8) {
                    src.put(name, Tensor.fromBytes(w.toByteArray(), DType.U8, w.shape()));
                }
            }
            try (Moe moe = Moe.load(CPU, c, 1, src); Tensor y = moe.forward(x, null)) {
                assertArrayEquals(i8, y.toFloatArray());
            }
        }
    }

    @Test
    void paddingExpertGroupsToATileLeavesTheOutputUnchanged() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 51;
        System.out.println("MoeTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        try (MapSource src = MapSource.moe(c, 1, seed);
             Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(11, c.hiddenSize()), 1.0)) {
            Moe moe = Moe.load(CPU, c, 1, src);
            try (Tensor plain = moe.forward(x, null, 1);
                 Tensor tile3 = moe.forward(x, null, 3);
                 Tensor tile16 = moe.forward(x, null, 16)) {
                assertArrayEquals(plain.toFloatArray(), tile3.toFloatArray());
                assertArrayEquals(plain.toFloatArray(), tile16.toFloatArray());
            }
        }
    }

    @Test
    void batchedInputKeepsItsShapeAndEqualsTheFlatCall() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 61;
        System.out.println("MoeTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        long[] ids = randomIds(rng, 6, c.vocabSize());
        try (MapSource src = MapSource.moe(c, 0, seed);
             Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(2, 3, c.hiddenSize()), 1.0);
             Tensor ids32 = Tensor.fromLongs(ids, DType.I32, Shape.of(2, 3));
             Tensor ids64 = Tensor.fromLongs(ids, DType.I64, Shape.of(6))) {
            Moe moe = Moe.load(CPU, c, 0, src);
            assertTrue(moe.isHashRouted());
            try (Tensor batched = moe.forward(x, ids32);
                 Tensor flat = moe.forward(x.reshape(6, c.hiddenSize()), ids64)) {
                assertEquals(x.shape(), batched.shape());
                assertArrayEquals(flat.toFloatArray(), batched.toFloatArray());
            }
        }
    }

    @Test
    void onlyExpertsThatReceiveTokensAreFetched() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 71;
        System.out.println("MoeTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        try (MapSource src = MapSource.moe(c, 0, seed);
             Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(1, c.hiddenSize()), 1.0);
             Tensor id = Tensor.fromLongs(new long[] {5}, DType.I64, Shape.of(1))) {
            Moe moe = Moe.load(CPU, c, 0, src);
            for (String name : src.requested()) {
                assertTrue(!name.contains(".experts."), "load fetched a routed expert: " + name);
            }
            try (Tensor y = moe.forward(x, id)) {
                long[] row = src.tensors().get("layers.0.ffn.gate.tid2eid").toLongArray();
                Set<String> touched = new HashSet<>();
                for (String name : src.requested()) {
                    if (name.contains(".experts.")) {
                        touched.add(name.split("\\.")[4]);
                    }
                }
                assertEquals(Set.of(String.valueOf(row[5 * 2]), String.valueOf(row[5 * 2 + 1])), touched);
            }
        }
    }

    @Test
    void badExpertScaleIsNamedWhenItsExpertIsFirstUsed() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 81;
        try (MapSource src = MapSource.moe(c, 0, seed);
             Tensor x = tokens(c, seed, 1);
             Tensor id = Tensor.fromLongs(new long[] {3}, DType.I64, Shape.of(1))) {
            int e = (int) src.tensors().get("layers.0.ffn.gate.tid2eid").toLongArray()[3 * 2];
            String name = "layers.0.ffn.experts." + e + ".w2.scale";
            src.put(name, Tensor.allocate(DType.F8_E8M0, Shape.of(c.hiddenSize(), 3)));
            Moe moe = Moe.load(CPU, c, 0, src);
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> moe.forward(x, id).close());
            assertEquals(name + ": expected F8_E8M0 or F32 [256, 4], got F8_E8M0 [256, 3]", ex.getMessage());
        }
    }

    @Test
    void malformedGateAndSharedWeightsAreNamedAtLoad() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 82;
        System.out.println("MoeTest seed " + seed);
        RandomWeights r = new RandomWeights(seed);
        try (MapSource src = MapSource.moe(c, 1, seed)) {
            src.put("layers.1.ffn.gate.weight", r.real(DType.BF16, Shape.of(7, c.hiddenSize()), 0.1));
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> Moe.load(CPU, c, 1, src));
            assertEquals("layers.1.ffn.gate.weight: expected F32 or BF16 [8, 256], got BF16 [7, 256]", ex.getMessage());
        }
        try (MapSource src = MapSource.moe(c, 1, seed)) {
            src.put("layers.1.ffn.shared_experts.w3.weight", r.real(DType.BF16, Shape.of(128, 256), 0.1));
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> Moe.load(CPU, c, 1, src));
            assertEquals("layers.1.ffn.shared_experts.w3.weight: expected F8_E4M3 [128, 256], got BF16 [128, 256]", ex.getMessage());
        }
        try (MapSource src = MapSource.moe(c, 1, seed)) {
            src.tensors().remove("layers.1.ffn.gate.bias").close();
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> Moe.load(CPU, c, 1, src));
            assertTrue(ex.getMessage().startsWith("layers.1.ffn.gate.bias"), ex.getMessage());
        }
    }

    @Test
    void hashLayerRejectsMissingOrOutOfVocabularyIds() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 91;
        try (MapSource src = MapSource.moe(c, 0, seed);
             Tensor x = tokens(c, seed, 2);
             Tensor bad = Tensor.fromLongs(new long[] {1, 64}, DType.I64, Shape.of(2));
             Tensor shortIds = Tensor.fromLongs(new long[] {1}, DType.I64, Shape.of(1))) {
            Moe moe = Moe.load(CPU, c, 0, src);
            IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> moe.forward(x, null));
            assertTrue(none.getMessage().startsWith("inputIds: layer 0 routes by token id"), none.getMessage());
            IllegalArgumentException outside = assertThrows(IllegalArgumentException.class, () -> moe.forward(x, bad));
            assertEquals("inputIds: token id 64 at position 1 is outside the vocabulary [0, 64) of tid2eid", outside.getMessage());
            IllegalArgumentException count = assertThrows(IllegalArgumentException.class, () -> moe.forward(x, shortIds));
            assertEquals("inputIds: expected one id per token (2), got shape [1]", count.getMessage());
        }
    }

    @Test
    void inputOfTheWrongWidthIsRejectedBeforeAnyWork() {
        V4Config c = new MoeFixtures.Cfg().build();
        try (MapSource src = MapSource.moe(c, 1, 5);
             Tensor x = Tensor.allocate(DType.BF16, Shape.of(2, 128))) {
            Moe moe = Moe.load(CPU, c, 1, src);
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> moe.forward(x, null));
            assertEquals("x: expected shape [*, 256] or [*, *, 256], got [2, 128]", ex.getMessage());
            assertTrue(src.requested().stream().noneMatch(n -> n.contains(".experts.")));
        }
    }

    @Test
    void weightNamesCoverExactlyWhatTheLayerReads() {
        V4Config c = new MoeFixtures.Cfg().build();
        for (int layer = 0; layer < 2; layer++) {
            List<String> names = new CheckpointLayout(c).moe(layer).stream().map(CheckpointLayout.Entry::name).toList();
            try (MapSource src = MapSource.moe(c, layer, 3);
                 Tensor x = MoeFixtures.randomTensor(new SplittableRandom(3), DType.BF16, Shape.of(64, c.hiddenSize()), 1.0);
                 Tensor ids = Tensor.fromLongs(java.util.stream.LongStream.range(0, 64).toArray(), DType.I64, Shape.of(64))) {
                try (Tensor y = Moe.load(CPU, c, layer, src).forward(x, ids)) {
                    assertEquals(new HashSet<>(names), new HashSet<>(src.requested()), "layer " + layer);
                }
            }
        }
    }
}

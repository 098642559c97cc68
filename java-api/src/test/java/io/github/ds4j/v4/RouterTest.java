package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.MoeKernels;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.MapSource;
import io.github.ds4j.v4.ref.MoeReference;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.github.ds4j.v4.LayerTests.CPU;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RouterTest {
    static final MoeKernels KERNELS = CpuBackend.shared().moeKernels().orElseThrow();

    static int[][] ints(Tensor t) {
        long[] v = t.toLongArray();
        int k = (int) t.dim(-1);
        int[][] out = new int[v.length / k][k];
        for (int i = 0; i < v.length; i++) {
            out[i / k][i % k] = (int) v[i];
        }
        return out;
    }

    static void assertWeights(double[][] expected, Tensor weights, String what) {
        float[] got = weights.toFloatArray();
        int k = expected[0].length;
        for (int t = 0; t < expected.length; t++) {
            for (int j = 0; j < k; j++) {
                double e = expected[t][j];
                assertEquals(e, got[t * k + j], 1e-6 * Math.abs(e) + 1e-7, what + " [" + t + "][" + j + "]");
            }
        }
    }

    @Test
    void biasChangesTheSelectionButTheWeightsComeFromUnbiasedScores() {
        V4Config c = new MoeFixtures.Cfg().build();
        for (long seed : new long[] {101, 102, 103}) {
            System.out.println("RouterTest seed " + seed);
            SplittableRandom rng = new SplittableRandom(seed);
            try (MapSource src = MapSource.moe(c, 1, seed);
                 Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(24, c.hiddenSize()), 1.0)) {
                // a bias as large as the score spread, so it reorders experts for most tokens
                double[] bias = new double[c.routedExperts()];
                float[] bf = new float[bias.length];
                for (int e = 0; e < bias.length; e++) {
                    bf[e] = (float) (rng.nextGaussian() * 0.5);
                    bias[e] = bf[e];
                }
                src.put("layers.1.ffn.gate.bias", Tensor.fromFloats(bf, DType.F32, Shape.of(bias.length)));
                double[][] scores = MoeReference.scores(MoeFixtures.rows(x), MoeReference.real2d(src.tensors().get("layers.1.ffn.gate.weight")));
                MoeReference.Routing biased = MoeReference.route(scores, bias, c.expertsPerToken(), c.routedScalingFactor());
                MoeReference.Routing plain = MoeReference.route(scores, null, c.expertsPerToken(), c.routedScalingFactor());
                try (MoeRouting r = Moe.load(CPU, c, 1, src).route(x, null)) {
                    int[][] got = ints(r.indices());
                    assertArrayEquals(biased.experts(), got);
                    assertWeights(biased.weights(), r.weights(), "weights");
                    int changed = 0;
                    for (int t = 0; t < got.length; t++) {
                        changed += java.util.Arrays.equals(got[t], plain.experts()[t]) ? 0 : 1;
                        // the weight of slot j is score/sum(scores), never (score+bias)/sum(score+bias)
                        double s0 = scores[t][got[t][0]] + bias[got[t][0]];
                        double s1 = scores[t][got[t][1]] + bias[got[t][1]];
                        double biasedWeight = s0 / (s0 + s1) * c.routedScalingFactor();
                        assertTrue(Math.abs(biasedWeight - biased.weights()[t][0]) > 1e-4 || Math.abs(bias[got[t][0]] - bias[got[t][1]]) < 1e-3,
                                "token " + t + ": biased and unbiased weights coincide, the test could not tell them apart");
                    }
                    assertTrue(changed >= 6, "the bias changed the selection of only " + changed + " of 24 tokens");
                }
            }
        }
    }

    @Test
    void hashRoutingTakesTid2eidRowsInTableOrder() {
        V4Config c = new MoeFixtures.Cfg().build();
        for (long seed : new long[] {111, 112}) {
            System.out.println("RouterTest seed " + seed);
            SplittableRandom rng = new SplittableRandom(seed);
            long[] ids = new long[10];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = rng.nextInt(c.vocabSize());
            }
            for (DType idType : new DType[] {DType.I64, DType.I32}) {
                try (MapSource src = MapSource.moe(c, 0, seed);
                     Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(2, 5, c.hiddenSize()), 1.0);
                     Tensor idt = Tensor.fromLongs(ids, idType, Shape.of(2, 5))) {
                    long[][] table = MoeReference.table(src.tensors().get("layers.0.ffn.gate.tid2eid"));
                    double[][] scores = MoeReference.scores(MoeFixtures.rows(x), MoeReference.real2d(src.tensors().get("layers.0.ffn.gate.weight")));
                    MoeReference.Routing ref = MoeReference.routeByHash(scores, table, ids, c.routedScalingFactor());
                    try (MoeRouting r = Moe.load(CPU, c, 0, src).route(x, idt)) {
                        int[][] got = ints(r.indices());
                        for (int t = 0; t < ids.length; t++) {
                            assertEquals(table[(int) ids[t]][0], got[t][0]);
                            assertEquals(table[(int) ids[t]][1], got[t][1]);
                        }
                        assertWeights(ref.weights(), r.weights(), "hash weights");
                    }
                }
            }
        }
    }

    @Test
    void weightsAreRenormalizedAndScaledByTheRoutedScalingFactor() {
        for (double scale : new double[] {1.0, 1.5, 2.5}) {
            MoeFixtures.Cfg cfg = new MoeFixtures.Cfg();
            cfg.scale = scale;
            cfg.k = 3;
            V4Config c = cfg.build();
            long seed = 120 + (long) (scale * 10);
            System.out.println("RouterTest seed " + seed);
            SplittableRandom rng = new SplittableRandom(seed);
            try (MapSource src = MapSource.moe(c, 1, seed);
                 Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(12, c.hiddenSize()), 1.0);
                 MoeRouting r = Moe.load(CPU, c, 1, src).route(x, null)) {
                float[] w = r.weights().toFloatArray();
                for (int t = 0; t < 12; t++) {
                    double sum = w[3 * t] + w[3 * t + 1] + w[3 * t + 2];
                    assertEquals(scale, sum, 1e-6 * scale, "token " + t);
                    assertTrue(w[3 * t] > 0 && w[3 * t + 1] > 0 && w[3 * t + 2] > 0);
                }
                double[][] scores = MoeReference.scores(MoeFixtures.rows(x), MoeReference.real2d(src.tensors().get("layers.1.ffn.gate.weight")));
                assertWeights(MoeReference.route(scores, MoeReference.real1d(src.tensors().get("layers.1.ffn.gate.bias")), 3, scale).weights(),
                        r.weights(), "scale " + scale);
            }
        }
    }

    @Test
    void routerScoresKernelMatchesFloat64IncludingLargeLogits() {
        long seed = 131;
        System.out.println("RouterTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        int tokens = 7;
        int d = 96;
        int experts = 5;
        // std 4 per element gives logits of std ~40: both softplus branches (z > 20 and below)
        try (Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(tokens, d), 4.0);
             Tensor w = MoeFixtures.randomTensor(rng, DType.F32, Shape.of(experts, d), 1.0);
             Tensor scores = Tensor.fromFloats(nan(tokens * experts), DType.F32, Shape.of(tokens, experts))) {
            KERNELS.routerScores(x, w, scores);
            double[][] ref = MoeReference.scores(MoeFixtures.rows(x), MoeFixtures.rows(w));
            float[] got = scores.toFloatArray();
            boolean above = false;
            boolean below = false;
            for (int t = 0; t < tokens; t++) {
                for (int e = 0; e < experts; e++) {
                    double r = ref[t][e];
                    above |= r * r > 20;
                    below |= r * r < 20;
                    assertEquals(r, got[t * experts + e], 2e-6 * r + 1e-7, "score [" + t + "][" + e + "]");
                }
            }
            assertTrue(above && below, "the inputs should reach both softplus branches");
        }
    }

    @Test
    void equalBiasedScoresAreBrokenTowardTheLowerExpert() {
        float[] s = {0.5f, 0.75f, 0.5f, 0.75f, 0.75f, 0.125f};
        float[] b = {0, 0, 0.25f, 0, 0, 0};
        try (Tensor scores = Tensor.fromFloats(s, DType.F32, Shape.of(1, 6));
             Tensor bias = Tensor.fromFloats(b, DType.F32, Shape.of(6));
             Tensor weights = Tensor.fromFloats(nan(3), DType.F32, Shape.of(1, 3));
             Tensor indices = Tensor.fromLongs(new long[] {-7, -7, -7}, DType.I32, Shape.of(1, 3))) {
            KERNELS.route(scores, bias, 2f, weights, indices);
            // experts 1, 2 (0.5 + 0.25), 3 and 4 tie at 0.75: the lower ids win
            assertArrayEquals(new long[] {1, 2, 3}, indices.toLongArray());
            // weights from the unbiased scores 0.75, 0.5, 0.75 (sum 2), times 2
            assertArrayEquals(new float[] {0.75f, 0.5f, 0.75f}, weights.toFloatArray());
        }
    }

    static float[] nan(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, Float.NaN);
        return v;
    }
}

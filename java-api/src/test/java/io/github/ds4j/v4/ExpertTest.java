package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.MapSource;
import io.github.ds4j.v4.ref.MoeReference;
import io.github.ds4j.v4.ref.MoeReference.Options;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.github.ds4j.v4.LayerTests.CPU;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExpertTest {

    static double[][] sharedReference(MapSource src, String prefix, double[][] x, double limit, Options opt) {
        MoeReference.ExpertWeights w = MoeReference.expert(src.tensors(), prefix + "ffn.shared_experts", true);
        double[][] out = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            out[t] = MoeReference.expert(x[t], w, limit, Double.NaN, opt);
        }
        return out;
    }

    @Test
    void sharedExpertMatchesFloat64ReferenceWithAndWithoutTheClampActive() {
        MoeFixtures.Cfg cfg = new MoeFixtures.Cfg();
        cfg.shared = 2; // width 2 * 128
        V4Config c = cfg.build();
        for (long seed : new long[] {301, 302}) {
            for (double std : new double[] {1.0, 40.0}) {
                System.out.println("ExpertTest seed " + seed + ", input std " + std);
                SplittableRandom rng = new SplittableRandom(seed);
                try (MapSource src = MapSource.moe(c, 1, seed);
                     Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(5, c.hiddenSize()), std);
                     Tensor y = Moe.load(CPU, c, 1, src).sharedExpert(x)) {
                    assertEquals(DType.BF16, y.dtype());
                    double[][] got = MoeFixtures.rows(y);
                    double[][] xs = MoeFixtures.rows(x);
                    double err = MoeFixtures.relativeError(got, sharedReference(src, "layers.1.", xs, c.swigluLimit(), Options.SPEC));
                    double unclamped = MoeFixtures.relativeError(got,
                            sharedReference(src, "layers.1.", xs, c.swigluLimit(), new Options(true, false, true)));
                    System.out.println("  relative error " + err + ", against the unclamped reference " + unclamped);
                    assertTrue(err < MoeTest.TOL, "relative error " + err);
                    if (std > 10) {
                        double beyond = MoeTest.fractionBeyondLimit(MoeReference.expert(src.tensors(), "layers.1.ffn.shared_experts", true),
                                xs, c.swigluLimit());
                        assertTrue(beyond > 0.5, "only " + beyond + " of the gate values exceed the limit at std " + std);
                        assertTrue(unclamped > 0.1, "the clamp should matter at std " + std + ": " + unclamped);
                    }
                }
            }
        }
    }

    @Test
    void noSharedExpertWhenTheConfigHasNone() {
        MoeFixtures.Cfg cfg = new MoeFixtures.Cfg();
        cfg.shared = 0;
        V4Config c = cfg.build();
        long seed = 311;
        System.out.println("ExpertTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        try (MapSource src = MapSource.moe(c, 1, seed);
             Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(4, c.hiddenSize()), 1.0)) {
            assertTrue(src.tensors().keySet().stream().noneMatch(n -> n.contains("shared_experts")));
            Moe moe = Moe.load(CPU, c, 1, src);
            assertNull(moe.sharedExpert(x));
            try (Tensor y = moe.forward(x, null)) {
                double[][] ref = MoeTest.reference(c, src, 1, MoeFixtures.rows(x), null, true, Options.SPEC);
                double err = MoeFixtures.relativeError(MoeFixtures.rows(y), ref);
                assertTrue(err < MoeTest.TOL, "relative error " + err);
            }
        }
    }

    @Test
    void mtpBlockReadsItsExpertsUnderTheMtpPrefix() {
        V4Config c = new MoeFixtures.Cfg().build();
        int mtp = c.numLayers();
        long seed = 321;
        System.out.println("ExpertTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        try (MapSource src = MapSource.moe(c, mtp, seed);
             Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(3, c.hiddenSize()), 1.0)) {
            assertTrue(src.tensors().keySet().stream().allMatch(n -> n.startsWith("mtp.0.ffn.")));
            Moe moe = Moe.load(CPU, c, mtp, src);
            assertTrue(!moe.isHashRouted());
            try (Tensor y = moe.forward(x, null)) {
                assertEquals(x.shape(), y.shape());
                assertTrue(src.requested().stream().anyMatch(n -> n.startsWith("mtp.0.ffn.experts.")));
            }
        }
    }
}

package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.HyperConnectionKernels;
import io.github.ds4j.v4.ref.HcReference;
import io.github.ds4j.v4.ref.HcReference.Variant;
import io.github.ds4j.v4.ref.MoeFixtures;
import io.github.ds4j.v4.ref.MapSource;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.SplittableRandom;

import static io.github.ds4j.v4.LayerTests.CPU;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HyperConnectionTest {
    static final HyperConnectionKernels KERNELS = CpuBackend.shared().hyperConnectionKernels().orElseThrow();
    /** One bf16 ulp: the reference and the layer may round a value on either side of a tie. */
    static final double BF16_REL = 0x1p-7;

    static float[] nan(int n) {
        return RouterTest.nan(n);
    }

    static double[][] streams(double[][] rows, int t, int n) {
        double[][] x = new double[n][];
        for (int i = 0; i < n; i++) {
            x[i] = rows[t * n + i];
        }
        return x;
    }

    // ---- Sinkhorn ----

    /** Runs the kernel on one token's logits [M]; returns pre, post and comb flattened. */
    static float[][] split(float[] mix, float[] scale, float[] base, int n, int iters, float eps) {
        int m = mix.length;
        try (Tensor mixes = Tensor.fromFloats(mix, DType.F32, Shape.of(1, m));
             Tensor s = Tensor.fromFloats(scale, DType.F32, Shape.of(3));
             Tensor b = Tensor.fromFloats(base, DType.F32, Shape.of(m));
             Tensor pre = Tensor.fromFloats(nan(n), DType.F32, Shape.of(1, n));
             Tensor post = Tensor.fromFloats(nan(n), DType.F32, Shape.of(1, n));
             Tensor comb = Tensor.fromFloats(nan(n * n), DType.F32, Shape.of(1, n, n))) {
            KERNELS.sinkhornSplit(mixes, s, b, iters, eps, pre, post, comb);
            return new float[][] {pre.toFloatArray(), post.toFloatArray(), comb.toFloatArray()};
        }
    }

    static double maxDiff(double[][] a, double[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return m;
    }

    static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    @Test
    void sinkhornMatchesFloat64ReferenceWithTheExactIterationCountAndEpsPlacement() {
        int n = 4;
        int m = (2 + n) * n;
        for (long seed = 401; seed < 405; seed++) {
            System.out.println("HyperConnectionTest seed " + seed);
            SplittableRandom rng = new SplittableRandom(seed);
            float[] scale = {(float) rng.nextDouble(0.5, 1.5), (float) rng.nextDouble(0.5, 1.5), (float) rng.nextDouble(1.0, 2.0)};
            float[] base = MoeFixtures.gaussian(rng, m, 1.0);
            float[] mix = MoeFixtures.gaussian(rng, m, 3.0);
            // An (almost) upper-triangular comb: Sinkhorn then converges only like 1/rounds, so
            // a single round more or less is visible.
            float[] slow = mix.clone();
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    slow[2 * n + i * n + j] = j >= i ? (float) rng.nextGaussian() : -30f;
                    base[2 * n + i * n + j] = j >= i ? base[2 * n + i * n + j] : 0f;
                }
            }
            for (int iters : new int[] {1, 2, 7, 20}) {
                for (float eps : new float[] {1e-6f, 1e-2f}) {
                    for (float[] input : new float[][] {mix, slow}) {
                        String what = (input == slow ? "triangular" : "random") + " logits, iters " + iters + ", eps " + eps;
                        float[][] got = split(input, scale, base, n, iters, eps);
                        HcReference.Split ref = HcReference.split(toDouble(input), toDouble(scale), toDouble(base), n, iters, eps, Variant.SPEC);
                        double[][] comb = new double[n][n];
                        for (int i = 0; i < n * n; i++) {
                            comb[i / n][i % n] = got[2][i];
                        }
                        assertArrayEquals(ref.pre(), toDouble(got[0]), 1e-6, what + " pre");
                        assertArrayEquals(ref.post(), toDouble(got[1]), 2e-6, what + " post");
                        double diff = maxDiff(comb, ref.comb());
                        assertTrue(diff < 2e-6, what + ": comb differs from the reference by " + diff);
                        double[][] logits = new double[n][n];
                        for (int i = 0; i < n * n; i++) {
                            logits[i / n][i % n] = (double) input[2 * n + i] * scale[2] + base[2 * n + i];
                        }
                        if (input != slow) {
                            continue;
                        }
                        if (eps < 1e-3) { // with a large eps the zeros fill up and it converges fast
                            double more = maxDiff(HcReference.sinkhorn(logits, iters + 1, eps, Variant.SPEC), ref.comb());
                            double less = iters == 1 ? Double.MAX_VALUE : maxDiff(HcReference.sinkhorn(logits, iters - 1, eps, Variant.SPEC), ref.comb());
                            assertTrue(Math.min(more, less) > 100 * diff + 1e-5, what + ": one round more or less is indistinguishable");
                        } else {
                            for (Variant v : new Variant[] {Variant.EPS_OUTSIDE_DIVISION, Variant.NO_EPS_AFTER_SOFTMAX, Variant.LOOP_COLUMNS_FIRST}) {
                                if (v != Variant.LOOP_COLUMNS_FIRST || (iters > 1 && iters < 20)) {
                                    double off = maxDiff(HcReference.sinkhorn(logits, iters, eps, v), ref.comb());
                                    assertTrue(off > 100 * diff + 1e-5, what + ": " + v + " is within " + off);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void combIsNearlyDoublyStochasticAfterTwentyRounds() {
        V4Config c = new MoeFixtures.Cfg().build();
        long seed = 411;
        System.out.println("HyperConnectionTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        int n = c.hcMult();
        try (MapSource src = MapSource.hyperConnections(c, 0, seed);
             Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(16, n, c.hiddenSize()), 1.0);
             HyperConnections.Pre p = HyperConnections.load(CPU, c, 0, HyperConnections.Site.FFN, src).pre(x)) {
            float[] comb = p.comb().toFloatArray();
            double worstRow = 0;
            double worstCol = 0;
            for (int t = 0; t < 16; t++) {
                for (int a = 0; a < n; a++) {
                    double row = 0;
                    double col = 0;
                    for (int b = 0; b < n; b++) {
                        float rv = comb[t * n * n + a * n + b];
                        assertTrue(rv > 0, "entries stay positive");
                        row += rv;
                        col += comb[t * n * n + b * n + a];
                    }
                    worstRow = Math.max(worstRow, Math.abs(row - 1));
                    worstCol = Math.max(worstCol, Math.abs(col - 1));
                }
            }
            System.out.println("  worst row sum error " + worstRow + ", column " + worstCol);
            assertTrue(worstCol < 1e-5, "column sums off by " + worstCol);
            assertTrue(worstRow < 1e-3, "row sums off by " + worstRow);
        }
    }

    // ---- pre / post / head against the float64 reference ----

    record Weights(double[][] fn, double[] base, double[] scale, double[] norm) {
        static Weights of(Map<String, Tensor> w, String hc, String norm) {
            return new Weights(MoeFixtures.rows(w.get(hc + "fn")), toDouble(w.get(hc + "base").toFloatArray()),
                    toDouble(w.get(hc + "scale").toFloatArray()), toDouble(w.get(norm).toFloatArray()));
        }
    }

    @Test
    void preAndPostMatchFloat64ReferenceForBf16AndF32Streams() {
        V4Config c = new MoeFixtures.Cfg().build();
        int n = c.hcMult();
        int d = c.hiddenSize();
        int tokens = 5;
        for (long seed = 421; seed < 424; seed++) {
            for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
                for (HyperConnections.Site site : HyperConnections.Site.values()) {
                    System.out.println("HyperConnectionTest seed " + seed + " " + dtype + " " + site);
                    SplittableRandom rng = new SplittableRandom(seed);
                    boolean bf16 = dtype == DType.BF16;
                    try (MapSource src = MapSource.hyperConnections(c, 1, seed);
                         Tensor x = MoeFixtures.randomTensor(rng, dtype, Shape.of(tokens, n, d), 1.0);
                         Tensor out = MoeFixtures.randomTensor(rng, dtype, Shape.of(tokens, d), 1.0)) {
                        HyperConnections hc = HyperConnections.load(CPU, c, 1, site, src);
                        Weights w = Weights.of(src.tensors(), "layers.1.hc_" + site.key() + "_", "layers.1." + site.key() + "_norm.weight");
                        double[][] xs = MoeFixtures.rows(x);
                        double[][] outs = MoeFixtures.rows(out);
                        try (HyperConnections.Pre p = hc.pre(x);
                             Tensor next = hc.post(p, out, x)) {
                            assertEquals(Shape.of(tokens, d), p.input().shape());
                            assertEquals(dtype, p.input().dtype());
                            assertEquals(x.shape(), next.shape());
                            double[][] input = MoeFixtures.rows(p.input());
                            double[][] xNext = MoeFixtures.rows(next);
                            float[] post = p.post().toFloatArray();
                            float[] comb = p.comb().toFloatArray();
                            double rel = bf16 ? BF16_REL : 1e-5;
                            for (int t = 0; t < tokens; t++) {
                                double[][] st = streams(xs, t, n);
                                double[] mix = HcReference.mixes(HcReference.flat(st), w.fn(), c.rmsNormEps());
                                HcReference.Split s = HcReference.split(mix, w.scale(), w.base(), n, c.hcSinkhornIters(), c.hcEps(), Variant.SPEC);
                                double[] sum = HcReference.round(HcReference.weightedSum(st, s.pre()), bf16);
                                double[] in = HcReference.round(HcReference.rmsNorm(sum, w.norm(), c.rmsNormEps()), bf16);
                                MoeFixtures.assertClose(new double[][] {input[t]}, new double[][] {in}, rel, 1e-6, "input of token " + t);
                                for (int j = 0; j < n; j++) {
                                    assertEquals(s.post()[j], post[t * n + j], 2e-6, "post");
                                    for (int i = 0; i < n; i++) {
                                        assertEquals(s.comb()[i][j], comb[t * n * n + i * n + j], 2e-6, "comb");
                                    }
                                }
                                double[][] ref = HcReference.post(outs[t], st, s.post(), s.comb());
                                for (int j = 0; j < n; j++) {
                                    MoeFixtures.assertClose(new double[][] {xNext[t * n + j]}, new double[][] {HcReference.round(ref[j], bf16)},
                                            rel, 1e-6, "stream " + j + " of token " + t);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void headMatchesFloat64Reference() {
        V4Config c = new MoeFixtures.Cfg().build();
        int n = c.hcMult();
        int d = c.hiddenSize();
        for (long seed = 431; seed < 433; seed++) {
            for (String prefix : new String[] {"", "mtp.0."}) {
                System.out.println("HyperConnectionTest seed " + seed + " head '" + prefix + "'");
                SplittableRandom rng = new SplittableRandom(seed);
                try (MapSource src = MapSource.head(c, prefix, seed);
                     Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(2, 3, n, d), 1.0)) {
                    HyperConnectionHead head = prefix.isEmpty() ? HyperConnectionHead.load(CPU, c, src)
                            : HyperConnectionHead.loadMtp(CPU, c, 0, src);
                    try (Tensor y = head.apply(x)) {
                        assertEquals(Shape.of(2, 3, d), y.shape());
                        double[][] fn = MoeFixtures.rows(src.tensors().get(prefix + "hc_head_fn"));
                        double[] base = toDouble(src.tensors().get(prefix + "hc_head_base").toFloatArray());
                        double scale = src.tensors().get(prefix + "hc_head_scale").toFloatArray()[0];
                        double[] norm = toDouble(src.tensors().get(prefix + "norm.weight").toFloatArray());
                        double[][] xs = MoeFixtures.rows(x);
                        double[][] got = MoeFixtures.rows(y);
                        for (int t = 0; t < 6; t++) {
                            double[][] st = streams(xs, t, n);
                            double[] pre = HcReference.headPre(HcReference.mixes(HcReference.flat(st), fn, c.rmsNormEps()), scale, base, c.hcEps());
                            double[] sum = HcReference.round(HcReference.weightedSum(st, pre), true);
                            double[] ref = HcReference.round(HcReference.rmsNorm(sum, norm, c.rmsNormEps()), true);
                            MoeFixtures.assertClose(new double[][] {got[t]}, new double[][] {ref}, BF16_REL, 1e-30, "head row " + t);
                        }
                    }
                }
            }
        }
    }

    @Test
    void mixesKernelMatchesFloat64Reference() {
        long seed = 441;
        System.out.println("HyperConnectionTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        try (Tensor x = MoeFixtures.randomTensor(rng, DType.BF16, Shape.of(3, 512), 2.0);
             Tensor fn = MoeFixtures.randomTensor(rng, DType.F32, Shape.of(24, 512), 0.05);
             Tensor mixes = Tensor.fromFloats(nan(72), DType.F32, Shape.of(3, 24))) {
            KERNELS.mixes(x, fn, 1e-6f, mixes);
            double[][] xs = MoeFixtures.rows(x);
            double[][] f = MoeFixtures.rows(fn);
            float[] got = mixes.toFloatArray();
            for (int t = 0; t < 3; t++) {
                double[] ref = HcReference.mixes(xs[t], f, 1e-6);
                for (int i = 0; i < 24; i++) {
                    assertEquals(ref[i], got[t * 24 + i], 1e-5 * Math.abs(ref[i]) + 1e-7, "mix [" + t + "][" + i + "]");
                }
            }
        }
    }

    @Test
    void expandRepeatsTheEmbeddingIntoEveryStream() {
        long seed = 451;
        System.out.println("HyperConnectionTest seed " + seed);
        try (Tensor h = MoeFixtures.randomTensor(new SplittableRandom(seed), DType.BF16, Shape.of(2, 3, 8), 1.0);
             Tensor x = HyperConnections.expand(CPU, h, 4)) {
            assertEquals(Shape.of(2, 3, 4, 8), x.shape());
            float[] hv = h.toFloatArray();
            float[] xv = x.toFloatArray();
            for (int t = 0; t < 6; t++) {
                for (int i = 0; i < 4; i++) {
                    for (int c = 0; c < 8; c++) {
                        assertEquals(hv[t * 8 + c], xv[(t * 4 + i) * 8 + c]);
                    }
                }
            }
        }
    }

    @Test
    void malformedWeightsAndStreamsAreNamed() {
        V4Config c = new MoeFixtures.Cfg().build();
        try (MapSource src = MapSource.hyperConnections(c, 0, 7)) {
            src.put("layers.0.hc_attn_fn", Tensor.allocate(DType.F32, Shape.of(24, 1000)));
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                    () -> HyperConnections.load(CPU, c, 0, HyperConnections.Site.ATTENTION, src));
            assertEquals("layers.0.hc_attn_fn: expected F32 [24, 1024], got F32 [24, 1000]", ex.getMessage());
        }
        try (MapSource src = MapSource.hyperConnections(c, 0, 7)) {
            src.put("layers.0.hc_ffn_scale", Tensor.fromFloats(new float[] {1, 1, 1}, DType.BF16, Shape.of(3)));
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                    () -> HyperConnections.load(CPU, c, 0, HyperConnections.Site.FFN, src));
            assertEquals("layers.0.hc_ffn_scale: expected F32 [3], got BF16 [3]", ex.getMessage());
        }
        try (MapSource src = MapSource.hyperConnections(c, 0, 7)) {
            src.tensors().remove("layers.0.ffn_norm.weight").close();
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                    () -> HyperConnections.load(CPU, c, 0, HyperConnections.Site.FFN, src));
            assertTrue(ex.getMessage().startsWith("layers.0.ffn_norm.weight"), ex.getMessage());
        }
        try (MapSource src = MapSource.head(c, "", 7)) {
            src.put("hc_head_base", Tensor.allocate(DType.F32, Shape.of(5)));
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> HyperConnectionHead.load(CPU, c, src));
            assertEquals("hc_head_base: expected F32 [4], got F32 [5]", ex.getMessage());
        }
        try (MapSource src = MapSource.hyperConnections(c, 0, 7);
             Tensor x = Tensor.allocate(DType.BF16, Shape.of(3, 256))) {
            HyperConnections hc = HyperConnections.load(CPU, c, 0, HyperConnections.Site.ATTENTION, src);
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> hc.pre(x));
            assertEquals("x: expected the residual stream [*, 4, 256] (hc_mult, hidden_size), got [3, 256]", ex.getMessage());
        }
    }

    @Test
    void weightedSumAndPostKernelsWriteEveryElement() {
        long seed = 461;
        System.out.println("HyperConnectionTest seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        int n = 3;
        int d = 5;
        try (Tensor x = MoeFixtures.randomTensor(rng, DType.F32, Shape.of(2, n, d), 1.0);
             Tensor pre = MoeFixtures.randomTensor(rng, DType.F32, Shape.of(2, n), 1.0);
             Tensor post = MoeFixtures.randomTensor(rng, DType.F32, Shape.of(2, n), 1.0);
             Tensor comb = MoeFixtures.randomTensor(rng, DType.F32, Shape.of(2, n, n), 1.0);
             Tensor out = MoeFixtures.randomTensor(rng, DType.F32, Shape.of(2, d), 1.0);
             Tensor sum = Tensor.fromFloats(nan(2 * d), DType.F32, Shape.of(2, d));
             Tensor next = Tensor.fromFloats(nan(2 * n * d), DType.F32, Shape.of(2, n, d))) {
            KERNELS.weightedSum(x, pre, sum);
            KERNELS.post(out, x, post, comb, next);
            double[][] xs = MoeFixtures.rows(x);
            double[][] ps = MoeFixtures.rows(pre);
            double[][] pos = MoeFixtures.rows(post);
            double[][] cs = MoeFixtures.rows(comb);
            double[][] os = MoeFixtures.rows(out);
            double[][] gotSum = MoeFixtures.rows(sum);
            double[][] gotNext = MoeFixtures.rows(next);
            for (int t = 0; t < 2; t++) {
                double[][] st = streams(xs, t, n);
                double[][] c = new double[n][];
                for (int i = 0; i < n; i++) {
                    c[i] = cs[t * n + i];
                }
                MoeFixtures.assertClose(new double[][] {gotSum[t]}, new double[][] {HcReference.weightedSum(st, ps[t])}, 1e-6, 1e-6, "sum");
                double[][] ref = HcReference.post(os[t], st, pos[t], c);
                for (int j = 0; j < n; j++) {
                    MoeFixtures.assertClose(new double[][] {gotNext[t * n + j]}, new double[][] {ref[j]}, 1e-6, 1e-6, "next");
                }
            }
        }
    }
}

package io.github.ds4j.v4.ref;

import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.V4Config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Small configs, random inputs and comparison helpers for the MoE and mHC tests. */
public final class MoeFixtures {
    private MoeFixtures() {
    }

    /** The sizes the tests vary; everything else is a fixed small attention setup. */
    public static final class Cfg {
        public int hidden = 256;
        public int layers = 2;
        public int experts = 8;
        public int shared = 1;
        public int k = 2;
        public int width = 128;
        public int hashLayers = 1;
        public double scale = 1.5;
        public double limit = 10;
        public int hc = 4;
        public int iters = 20;
        public double hcEps = 1e-6;
        public int vocab = 64;

        public V4Config build() {
            List<Integer> ratios = new ArrayList<>(Collections.nCopies(layers + 1, 0));
            return new V4Config(hidden, layers, 2, 64, 16, 64, 1, 64, 16, 0, 0, 0, ratios,
                    experts, shared, k, width, hashLayers, scale, limit, hc, iters, hcEps,
                    10000, 160000, new RopeSpec.Yarn(16, 65536, 32, 1), 1e-6, vocab, 4096, 1);
        }
    }

    /** Gaussian values of std {@code std}, never all zero. */
    public static float[] gaussian(SplittableRandom rng, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rng.nextGaussian() * std);
        }
        return v;
    }

    /** A host tensor of Gaussian values in {@code dtype}. */
    public static Tensor randomTensor(SplittableRandom rng, DType dtype, Shape shape, double std) {
        return Tensor.fromFloats(gaussian(rng, (int) shape.numel(), std), dtype, shape);
    }

    /** The exact values of a real tensor as [rows][last] doubles. */
    public static double[][] rows(Tensor t) {
        float[] v = t.toFloatArray();
        int cols = (int) t.dim(-1);
        double[][] out = new double[v.length / cols][cols];
        for (int i = 0; i < v.length; i++) {
            out[i / cols][i % cols] = v[i];
        }
        return out;
    }

    /** ||a - b|| / ||b|| over all elements. */
    public static double relativeError(double[][] a, double[][] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < b.length; i++) {
            for (int j = 0; j < b[i].length; j++) {
                double d = a[i][j] - b[i][j];
                num += d * d;
                den += b[i][j] * b[i][j];
            }
        }
        return Math.sqrt(num / den);
    }

    /** Every element within {@code rel} of the reference's magnitude, plus {@code abs}. */
    public static void assertClose(double[][] actual, double[][] expected, double rel, double abs, String what) {
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < expected[i].length; j++) {
                double e = expected[i][j];
                double a = actual[i][j];
                assertTrue(Math.abs(a - e) <= rel * Math.abs(e) + abs,
                        what + ": [" + i + "][" + j + "] = " + a + ", expected " + e + " (rel " + rel + ", abs " + abs + ")");
            }
        }
    }
}

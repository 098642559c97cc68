package io.github.ds4j.v4.ref;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;

import java.util.SplittableRandom;

/** Inputs and comparisons shared by the attention tests: random bf16 activations, conversions, errors. */
public final class AttentionFixtures {
    private AttentionFixtures() {
    }

    /** Gaussian activations [B][T][D] of unit variance, rounded to bf16 (the layer's input type). */
    public static double[][][] randomInput(long seed, int batch, int seq, int hidden) {
        SplittableRandom rng = new SplittableRandom(seed);
        double[][][] x = new double[batch][seq][hidden];
        for (double[][] s : x) {
            for (double[] row : s) {
                for (int i = 0; i < hidden; i++) {
                    row[i] = RefNumbers.bf16(rng.nextGaussian());
                }
            }
        }
        return x;
    }

    /** Tokens from..to of every sequence as a host tensor [B, to-from, D]. */
    public static Tensor tokens(double[][][] x, int from, int to, DType dtype) {
        int batch = x.length;
        int hidden = x[0][0].length;
        float[] v = new float[batch * (to - from) * hidden];
        int at = 0;
        for (double[][] s : x) {
            for (int t = from; t < to; t++) {
                for (int i = 0; i < hidden; i++) {
                    v[at++] = (float) s[t][i];
                }
            }
        }
        return Tensor.fromFloats(v, dtype, Shape.of(batch, to - from, hidden));
    }

    /** ||a − r|| / ||r||. */
    public static double relError(double[] a, double[] r) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < r.length; i++) {
            num += (a[i] - r[i]) * (a[i] - r[i]);
            den += r[i] * r[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    /** max |a − r| / rms(r). */
    public static double maxError(double[] a, double[] r) {
        double max = 0;
        double ss = 0;
        for (int i = 0; i < r.length; i++) {
            max = Math.max(max, Math.abs(a[i] - r[i]));
            ss += r[i] * r[i];
        }
        return max / Math.sqrt(Math.max(ss / r.length, 1e-300));
    }

    /** Fills a host tensor's bytes with 0xFF: NaN in F32, BF16, E4M3 and UE8M0, so unwritten reads show. */
    public static void poison(Tensor t) {
        t.hostSegment().fill((byte) 0xFF);
    }
}

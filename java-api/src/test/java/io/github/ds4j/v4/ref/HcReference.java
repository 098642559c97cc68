package io.github.ds4j.v4.ref;

/**
 * A float64 implementation of mHC written from spec §5, independent of the layer code. Rounding
 * to the stream dtype happens where the reference does: the weighted sum of the streams before
 * the RMSNorm, the RMSNorm output, and the updated stream.
 */
public final class HcReference {

    /** Ways to get Sinkhorn wrong, to show the tests can tell them from the spec. */
    public enum Variant { SPEC, EPS_OUTSIDE_DIVISION, NO_EPS_AFTER_SOFTMAX, LOOP_COLUMNS_FIRST }

    /** pre [n], post [n], comb [n][n] of one token. */
    public record Split(double[] pre, double[] post, double[][] comb) {
    }

    private HcReference() {
    }

    /** mix = (xf . fn[i]) / sqrt(mean(xf^2) + normEps) for each row of fn. */
    public static double[] mixes(double[] xf, double[][] fn, double normEps) {
        double ss = 0;
        for (double v : xf) {
            ss += v * v;
        }
        double r = 1 / Math.sqrt(ss / xf.length + normEps);
        double[] m = new double[fn.length];
        for (int i = 0; i < fn.length; i++) {
            m[i] = RefNumbers.dot(xf, fn[i]) * r;
        }
        return m;
    }

    static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }

    /** The spec's split of one token's mixing logits. */
    public static Split split(double[] mix, double[] scale, double[] base, int n, int iters, double eps, Variant variant) {
        double[] pre = new double[n];
        double[] post = new double[n];
        for (int i = 0; i < n; i++) {
            pre[i] = sigmoid(mix[i] * scale[0] + base[i]) + eps;
            post[i] = 2 * sigmoid(mix[n + i] * scale[1] + base[n + i]);
        }
        double[][] c = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                c[i][j] = mix[2 * n + i * n + j] * scale[2] + base[2 * n + i * n + j];
            }
        }
        return new Split(pre, post, sinkhorn(c, iters, eps, variant));
    }

    /**
     * Row softmax + eps, column normalization, then iters - 1 rounds of row then column
     * normalization, each dividing by (sum + eps); or one of the wrong variants.
     */
    public static double[][] sinkhorn(double[][] logits, int iters, double eps, Variant variant) {
        int n = logits.length;
        double[][] c = new double[n][n];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (double v : logits[i]) {
                max = Math.max(max, v);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) {
                c[i][j] = Math.exp(logits[i][j] - max);
                sum += c[i][j];
            }
            for (int j = 0; j < n; j++) {
                c[i][j] = c[i][j] / sum + (variant == Variant.NO_EPS_AFTER_SOFTMAX ? 0 : eps);
            }
        }
        normalize(c, eps, false, variant);
        boolean columnsFirst = variant == Variant.LOOP_COLUMNS_FIRST;
        for (int it = 1; it < iters; it++) {
            normalize(c, eps, !columnsFirst, variant);
            normalize(c, eps, columnsFirst, variant);
        }
        return c;
    }

    private static void normalize(double[][] c, double eps, boolean rows, Variant variant) {
        int n = c.length;
        for (int a = 0; a < n; a++) {
            double sum = 0;
            for (int b = 0; b < n; b++) {
                sum += rows ? c[a][b] : c[b][a];
            }
            for (int b = 0; b < n; b++) {
                if (variant == Variant.EPS_OUTSIDE_DIVISION) {
                    if (rows) {
                        c[a][b] = c[a][b] / sum + eps;
                    } else {
                        c[b][a] = c[b][a] / sum + eps;
                    }
                } else if (rows) {
                    c[a][b] /= sum + eps;
                } else {
                    c[b][a] /= sum + eps;
                }
            }
        }
    }

    /** RMSNorm(v) = v / sqrt(mean(v^2) + eps) * w. */
    public static double[] rmsNorm(double[] v, double[] w, double eps) {
        double ss = 0;
        for (double a : v) {
            ss += a * a;
        }
        double r = 1 / Math.sqrt(ss / v.length + eps);
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] * r * w[i];
        }
        return out;
    }

    /** sum_i pre[i] * x[i] over the streams x [n][D]. */
    public static double[] weightedSum(double[][] x, double[] pre) {
        double[] y = new double[x[0].length];
        for (int i = 0; i < x.length; i++) {
            for (int d = 0; d < y.length; d++) {
                y[d] += pre[i] * x[i][d];
            }
        }
        return y;
    }

    /** X'[j] = post[j] * out + sum_i comb[i][j] * x[i]. */
    public static double[][] post(double[] out, double[][] x, double[] post, double[][] comb) {
        int n = x.length;
        double[][] y = new double[n][out.length];
        for (int j = 0; j < n; j++) {
            for (int d = 0; d < out.length; d++) {
                double acc = post[j] * out[d];
                for (int i = 0; i < n; i++) {
                    acc += comb[i][j] * x[i][d];
                }
                y[j][d] = acc;
            }
        }
        return y;
    }

    /** Rounds to bf16 when {@code bf16}, else to f32 (the stream's dtype). */
    public static double[] round(double[] v, boolean bf16) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = bf16 ? RefNumbers.bf16(v[i]) : (float) v[i];
        }
        return out;
    }

    /** The head's stream weights: sigmoid(mix * scale + base) + eps. */
    public static double[] headPre(double[] mix, double scale, double[] base, double eps) {
        double[] pre = new double[mix.length];
        for (int i = 0; i < mix.length; i++) {
            pre[i] = sigmoid(mix[i] * scale + base[i]) + eps;
        }
        return pre;
    }

    /** One token's streams [n][D] as one row [n*D], stream after stream. */
    public static double[] flat(double[][] streams) {
        int d = streams[0].length;
        double[] f = new double[streams.length * d];
        for (int j = 0; j < streams.length; j++) {
            System.arraycopy(streams[j], 0, f, j * d, d);
        }
        return f;
    }
}

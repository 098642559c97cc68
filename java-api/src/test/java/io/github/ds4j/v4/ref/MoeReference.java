package io.github.ds4j.v4.ref;

import io.github.ds4j.Tensor;

import java.util.Map;

/**
 * A float64 implementation of the V4 MoE layer written from spec §4, independent of the layer
 * code: it decodes the checkpoint tensors itself and rounds where the reference inference code
 * does (bf16 GEMM outputs, the bf16 weighted activation before w2, FP8 1x128 activations before
 * every expert GEMM), computing everything else exactly.
 */
public final class MoeReference {

    /** Variations used to show that a test can tell the spec's choice from a plausible mistake. */
    public record Options(boolean weightBeforeW2, boolean clamp, boolean withShared) {
        public static final Options SPEC = new Options(true, true, true);
    }

    /** Chosen experts [T][k] and routing weights [T][k]. */
    public record Routing(int[][] experts, double[][] weights) {
    }

    /** One expert's dequantized weights: w1, w3 [F][D], w2 [D][F]. */
    public record ExpertWeights(double[][] w1, double[][] w2, double[][] w3) {
    }

    private MoeReference() {
    }

    /** scores[t][e] = sqrt(softplus(x[t] . gate[e])). */
    public static double[][] scores(double[][] x, double[][] gate) {
        double[][] s = new double[x.length][gate.length];
        for (int t = 0; t < x.length; t++) {
            for (int e = 0; e < gate.length; e++) {
                double z = RefNumbers.dot(x[t], gate[e]);
                s[t][e] = Math.sqrt(z > 20 ? z : Math.log1p(Math.exp(z)));
            }
        }
        return s;
    }

    /** Top-k of scores + bias (ties to the lower id), weights from the unbiased scores. */
    public static Routing route(double[][] scores, double[] bias, int k, double scale) {
        int[][] experts = new int[scores.length][k];
        for (int t = 0; t < scores.length; t++) {
            boolean[] taken = new boolean[scores[t].length];
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int e = 0; e < scores[t].length; e++) {
                    double v = scores[t][e] + (bias == null ? 0 : bias[e]);
                    if (!taken[e] && (best < 0 || v > scores[t][best] + (bias == null ? 0 : bias[best]))) {
                        best = e;
                    }
                }
                taken[best] = true;
                experts[t][j] = best;
            }
        }
        return new Routing(experts, weights(scores, experts, scale));
    }

    /** Experts from tid2eid rows of the token ids, weights from the scores. */
    public static Routing routeByHash(double[][] scores, long[][] tid2eid, long[] ids, double scale) {
        int[][] experts = new int[scores.length][];
        for (int t = 0; t < scores.length; t++) {
            long[] row = tid2eid[(int) ids[t]];
            experts[t] = new int[row.length];
            for (int j = 0; j < row.length; j++) {
                experts[t][j] = (int) row[j];
            }
        }
        return new Routing(experts, weights(scores, experts, scale));
    }

    private static double[][] weights(double[][] scores, int[][] experts, double scale) {
        double[][] w = new double[experts.length][];
        for (int t = 0; t < experts.length; t++) {
            int k = experts[t].length;
            double sum = 0;
            for (int j = 0; j < k; j++) {
                sum += scores[t][experts[t][j]];
            }
            w[t] = new double[k];
            for (int j = 0; j < k; j++) {
                w[t][j] = scores[t][experts[t][j]] / sum * scale;
            }
        }
        return w;
    }

    /**
     * One SwiGLU expert on one token: g = bf16(q(x) . w1), u = bf16(q(x) . w3),
     * h = silu(min(g, L)) * clamp(u, -L, L), times {@code weight} before w2 (or after it, for
     * {@code !weightBeforeW2}), h rounded to bf16, out = bf16(q(h) . w2). weight NaN = none.
     */
    public static double[] expert(double[] x, ExpertWeights w, double limit, double weight, Options opt) {
        double[] xq = RefNumbers.fp8Activations(x);
        int f = w.w1().length;
        double[] h = new double[f];
        boolean weighted = !Double.isNaN(weight);
        for (int i = 0; i < f; i++) {
            double g = RefNumbers.bf16(RefNumbers.dot(xq, w.w1()[i]));
            double u = RefNumbers.bf16(RefNumbers.dot(xq, w.w3()[i]));
            if (limit > 0 && opt.clamp()) {
                g = Math.min(g, limit);
                u = Math.max(-limit, Math.min(limit, u));
            }
            double v = g / (1 + Math.exp(-g)) * u;
            h[i] = RefNumbers.bf16(weighted && opt.weightBeforeW2() ? weight * v : v);
        }
        double[] hq = RefNumbers.fp8Activations(h);
        double[] out = new double[w.w2().length];
        for (int d = 0; d < out.length; d++) {
            double o = RefNumbers.bf16(RefNumbers.dot(hq, w.w2()[d]));
            out[d] = weighted && !opt.weightBeforeW2() ? weight * o : o;
        }
        return out;
    }

    /**
     * The layer: routed experts summed per token plus the shared expert, rounded to bf16 when
     * {@code bf16Output}. {@code ids} is used when {@code tid2eid} is given (hash layer).
     */
    public static double[][] forward(double[][] x, double[][] gate, double[] bias, long[][] tid2eid, long[] ids,
                                     ExpertWeights[] experts, ExpertWeights shared, int k, double scale,
                                     double limit, boolean bf16Output, Options opt) {
        double[][] s = scores(x, gate);
        Routing r = tid2eid != null ? routeByHash(s, tid2eid, ids, scale) : route(s, bias, k, scale);
        double[][] y = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            double[] acc = new double[x[t].length];
            for (int j = 0; j < r.experts()[t].length; j++) {
                double[] o = expert(x[t], experts[r.experts()[t][j]], limit, r.weights()[t][j], opt);
                for (int d = 0; d < acc.length; d++) {
                    acc[d] += o[d];
                }
            }
            if (shared != null && opt.withShared()) {
                double[] o = expert(x[t], shared, limit, Double.NaN, opt);
                for (int d = 0; d < acc.length; d++) {
                    acc[d] += o[d];
                }
            }
            if (bf16Output) {
                for (int d = 0; d < acc.length; d++) {
                    acc[d] = RefNumbers.bf16(acc[d]);
                }
            }
            y[t] = acc;
        }
        return y;
    }

    // ---- decoding checkpoint tensors ----

    /** A real (F32/BF16) 2-D tensor as rows. */
    public static double[][] real2d(Tensor t) {
        float[] v = t.toFloatArray();
        int rows = (int) t.dim(0);
        int cols = (int) t.dim(1);
        double[][] out = new double[rows][cols];
        for (int i = 0; i < v.length; i++) {
            out[i / cols][i % cols] = v[i];
        }
        return out;
    }

    public static double[] real1d(Tensor t) {
        float[] v = t.toFloatArray();
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i];
        }
        return out;
    }

    /** An MXFP4 weight from its packed I8 [out, in/2] codes and F8_E8M0 [out, in/32] scales. */
    public static double[][] mxfp4(Tensor packed, Tensor scale) {
        byte[] p = packed.toByteArray();
        byte[] s = scale.toByteArray();
        int out = (int) packed.dim(0);
        int in = (int) packed.dim(1) * 2;
        double[][] w = new double[out][in];
        for (int r = 0; r < out; r++) {
            for (int c = 0; c < in; c++) {
                int b = p[(r * in + c) / 2];
                int code = (c & 1) == 0 ? b & 0xF : (b >>> 4) & 0xF;
                w[r][c] = RefNumbers.decodeE2m1(code) * RefNumbers.decodeUe8m0(s[r * (in / 32) + c / 32]);
            }
        }
        return w;
    }

    /** An FP8 weight from E4M3 [out, in] codes and F8_E8M0 128x128 block scales. */
    public static double[][] fp8(Tensor codes, Tensor scale) {
        byte[] q = codes.toByteArray();
        byte[] s = scale.toByteArray();
        int out = (int) codes.dim(0);
        int in = (int) codes.dim(1);
        int sc = (int) scale.dim(1);
        double[][] w = new double[out][in];
        for (int r = 0; r < out; r++) {
            for (int c = 0; c < in; c++) {
                w[r][c] = RefNumbers.decodeE4m3(q[r * in + c]) * RefNumbers.decodeUe8m0(s[(r / 128) * sc + c / 128]);
            }
        }
        return w;
    }

    /** Expert {@code prefix} ("layers.1.ffn.experts.3") in MXFP4, or FP8 when {@code fp8}. */
    public static ExpertWeights expert(Map<String, Tensor> weights, String prefix, boolean fp8) {
        double[][][] w = new double[3][][];
        String[] names = {"w1", "w2", "w3"};
        for (int i = 0; i < 3; i++) {
            Tensor v = weights.get(prefix + "." + names[i] + ".weight");
            Tensor s = weights.get(prefix + "." + names[i] + ".scale");
            w[i] = fp8 ? fp8(v, s) : mxfp4(v, s);
        }
        return new ExpertWeights(w[0], w[1], w[2]);
    }

    /** tid2eid as rows. */
    public static long[][] table(Tensor t) {
        long[] v = t.toLongArray();
        int k = (int) t.dim(1);
        long[][] out = new long[(int) t.dim(0)][k];
        for (int i = 0; i < v.length; i++) {
            out[i / k][i % k] = v[i];
        }
        return out;
    }
}

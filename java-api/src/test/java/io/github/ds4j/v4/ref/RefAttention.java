package io.github.ds4j.v4.ref;

import io.github.ds4j.DType;
import io.github.ds4j.Tensor;
import io.github.ds4j.v4.V4Config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * A float64 implementation of one V4 attention layer (spec §3, §3.1, §3.2, §6) over a whole
 * sequence from position 0, written from the spec and independent of the library's layer code.
 * It rounds to bf16 and simulates FP8/FP4 where the public reference does, so it can be compared
 * with the f32 layer within rounding: FP8 activation quantization before every FP8 GEMM, bf16
 * outputs of projections, norms and RoPE, FP8 simulation of the KV nope dims (64-blocks), Hadamard
 * and FP4 simulation in the indexer. wo_a is applied in bf16 without activation quantization, as
 * the reference does.
 */
public final class RefAttention {
    private final V4Config c;
    private final int ratio;
    private final double eps;
    private final double[] freqs;
    private final double[] sink;
    private final double[] qNorm;
    private final double[] kvNorm;
    private final double[][] wqA;
    private final double[][] wqB;
    private final double[][] wkv;
    private final double[][] woA;
    private final double[][] woB;
    private final Compressor compressor;
    private final Compressor indexCompressor;
    private final double[][] indexWqB;
    private final double[][] indexWeights;

    /** The reference of layer {@code layer}, reading its weights by checkpoint name from {@code w}. */
    public RefAttention(V4Config c, int layer, Map<String, Tensor> w) {
        this.c = c;
        this.ratio = c.compressRatios().get(layer);
        this.eps = c.rmsNormEps();
        String p = (layer < c.numLayers() ? "layers." + layer : "mtp." + (layer - c.numLayers())) + ".attn.";
        boolean yarn = ratio != 0 && c.yarn() != null;
        this.freqs = RefOps.frequencies(c.ropeDim(), ratio == 0 ? c.ropeTheta() : c.compressRopeTheta(),
                yarn ? c.yarn().factor() : 0, yarn ? c.yarn().originalMaxPositions() : 0,
                yarn ? c.yarn().betaFast() : 0, yarn ? c.yarn().betaSlow() : 0);
        this.sink = vector(w, p + "attn_sink");
        this.qNorm = vector(w, p + "q_norm.weight");
        this.kvNorm = vector(w, p + "kv_norm.weight");
        this.wqA = fp8Matrix(w, p + "wq_a");
        this.wqB = fp8Matrix(w, p + "wq_b");
        this.wkv = fp8Matrix(w, p + "wkv");
        this.woA = fp8Matrix(w, p + "wo_a");
        this.woB = fp8Matrix(w, p + "wo_b");
        this.compressor = ratio == 0 ? null : new Compressor(w, p + "compressor.", ratio, c.headDim(), c.ropeDim(), freqs, eps, false);
        if (ratio == 4) {
            this.indexCompressor = new Compressor(w, p + "indexer.compressor.", 4, c.indexHeadDim(), c.ropeDim(), freqs, eps, true);
            this.indexWqB = fp8Matrix(w, p + "indexer.wq_b");
            this.indexWeights = realMatrix(w, p + "indexer.weights_proj.weight");
        } else {
            this.indexCompressor = null;
            this.indexWqB = null;
            this.indexWeights = null;
        }
    }

    /** The attention compressor (null on window-only layers). */
    public Compressor compressor() {
        return compressor;
    }

    /** The indexer's compressor (null unless ratio 4). */
    public Compressor indexCompressor() {
        return indexCompressor;
    }

    /**
     * The layer's output for one sequence.
     *
     * @param out [T][hidden], bf16 values, with the reference's own indexer choice
     * @param alternatives per token, the outputs of every selection that is as good as the
     *     reference's within the tie tolerance (the first is {@code out[t]}); one element unless the
     *     indexer's k-th best score is a near-tie
     * @param selected per token: the compressed entries the indexer picked (null unless ratio 4)
     */
    public record Result(double[][] out, List<List<double[]>> alternatives, int[][] selected) {
        /** True when a correct layer may have picked another selection for token t. */
        public boolean ambiguous(int t) {
            return alternatives.get(t).size() > 1;
        }
    }

    /**
     * Runs the sequence x [T][hidden] (values as given to the layer) from position 0. Indexer
     * scores within {@code tieTolerance} (relative to the largest score) of the k-th best count
     * as tied: every way of completing the top-k from them is an acceptable choice.
     */
    public Result run(double[][] x, double tieTolerance) {
        int t = x.length;
        int heads = c.numHeads();
        int hd = c.headDim();
        int rd = c.ropeDim();
        int nope = hd - rd;
        double[][] qr = new double[t][];
        double[][] q = new double[t][];
        double[][] kv = new double[t][];
        for (int i = 0; i < t; i++) {
            qr[i] = RefOps.fp8Linear(x[i], wqA);
            RefOps.rmsNorm(qr[i], 0, qr[i].length, qNorm, eps);
            RefNumbers.bf16(qr[i]);
            q[i] = RefOps.fp8Linear(qr[i], wqB);
            for (int h = 0; h < heads; h++) {
                RefOps.rmsNorm(q[i], h * hd, (h + 1) * hd, null, eps);
                RefOps.bf16(q[i], h * hd, (h + 1) * hd);
                RefOps.rope(q[i], h * hd + nope, freqs, i, false);
                RefOps.bf16(q[i], h * hd + nope, (h + 1) * hd);
            }
            kv[i] = RefOps.fp8Linear(x[i], wkv);
            RefOps.rmsNorm(kv[i], 0, hd, kvNorm, eps);
            RefNumbers.bf16(kv[i]);
            RefOps.rope(kv[i], nope, freqs, i, false);
            RefOps.bf16(kv[i], nope, hd);
            RefNumbers.fp8Simulate(kv[i], 0, nope, 64);
        }
        double[][] entries = compressor == null ? new double[0][] : compressor.entries(x);
        double[][] keys = indexCompressor == null ? null : indexCompressor.entries(x);
        double[][] out = new double[t][];
        List<List<double[]>> alternatives = new ArrayList<>();
        int[][] selected = ratio == 4 ? new int[t][] : null;
        for (int i = 0; i < t; i++) {
            List<double[]> window = new ArrayList<>();
            for (int p = Math.max(0, i - c.slidingWindow() + 1); p <= i; p++) {
                window.add(kv[p]);
            }
            int complete = ratio == 0 ? 0 : (i + 1) / ratio;
            List<int[]> choices = new ArrayList<>();
            if (ratio == 4) {
                double[] scores = indexScores(x[i], qr[i], i, keys);
                selected[i] = topK(scores, Math.min(c.indexTopK(), complete));
                choices.add(selected[i]);
                choices.addAll(tiedChoices(scores, selected[i], tieTolerance));
            } else {
                int[] all = new int[complete];
                for (int j = 0; j < complete; j++) {
                    all[j] = j;
                }
                choices.add(all);
            }
            List<double[]> outs = new ArrayList<>();
            for (int[] choice : choices) {
                List<double[]> rows = new ArrayList<>(window);
                for (int j : choice) {
                    rows.add(entries[j]);
                }
                outs.add(output(q[i], rows, i));
            }
            out[i] = outs.get(0);
            alternatives.add(outs);
        }
        return new Result(out, alternatives, selected);
    }

    /** Attention over the given rows, inverse RoPE, grouped projection and wo_b for one token. */
    private double[] output(double[] q, List<double[]> rows, long pos) {
        int heads = c.numHeads();
        int hd = c.headDim();
        int nope = hd - c.ropeDim();
        double[] o = new double[heads * hd];
        for (int h = 0; h < heads; h++) {
            attend(q, h * hd, rows, sink[h], o);
            RefOps.bf16(o, h * hd, (h + 1) * hd);
            RefOps.rope(o, h * hd + nope, freqs, pos, true);
            RefOps.bf16(o, h * hd + nope, (h + 1) * hd);
        }
        return RefOps.fp8Linear(groupedProjection(o), woB);
    }

    /**
     * The selections other than {@code best} that a correct implementation may make: keep the
     * entries clearly above the k-th score, complete them with any subset of the entries within
     * the tolerance of it.
     */
    private static List<int[]> tiedChoices(double[] scores, int[] best, double tolerance) {
        int k = best.length;
        if (k == 0 || k >= scores.length) {
            return List.of();
        }
        double max = 0;
        for (double s : scores) {
            max = Math.max(max, Math.abs(s));
        }
        double kth = scores[best[k - 1]];
        double tol = tolerance * max;
        List<Integer> sure = new ArrayList<>();
        List<Integer> tied = new ArrayList<>();
        for (int j = 0; j < scores.length; j++) {
            if (scores[j] > kth + tol) {
                sure.add(j);
            } else if (scores[j] >= kth - tol) {
                tied.add(j);
            }
        }
        int need = k - sure.size();
        List<int[]> out = new ArrayList<>();
        if (tied.size() <= need || tied.size() > 12) {
            return out;
        }
        for (int mask = 0; mask < 1 << tied.size(); mask++) {
            if (Integer.bitCount(mask) != need) {
                continue;
            }
            int[] choice = new int[k];
            int n = 0;
            for (int j : sure) {
                choice[n++] = j;
            }
            for (int i = 0; i < tied.size(); i++) {
                if ((mask & 1 << i) != 0) {
                    choice[n++] = tied.get(i);
                }
            }
            int[] sorted = choice.clone();
            Arrays.sort(sorted);
            int[] mine = best.clone();
            Arrays.sort(mine);
            if (!Arrays.equals(sorted, mine)) {
                out.add(choice);
            }
        }
        return out;
    }

    /** The indexer scores of token t for its complete entries j < (t+1)/4 (spec §3.2). */
    public double[] indexScores(double[] x, double[] qr, int t, double[][] keys) {
        int heads = c.indexHeads();
        int di = c.indexHeadDim();
        int rd = c.ropeDim();
        double[] qi = RefOps.fp8Linear(qr, indexWqB);
        for (int h = 0; h < heads; h++) {
            RefOps.rope(qi, h * di + di - rd, freqs, t, false);
            RefOps.bf16(qi, h * di + di - rd, (h + 1) * di);
            RefOps.hadamard(qi, h * di, di);
            RefOps.bf16(qi, h * di, (h + 1) * di);
            RefNumbers.fp4Simulate(qi, h * di, (h + 1) * di, 32);
        }
        double[] w = RefNumbers.bf16(RefOps.matVec(x, indexWeights));
        double scale = 1 / Math.sqrt(di) / Math.sqrt(heads);
        double[] scores = new double[(t + 1) / 4];
        for (int j = 0; j < scores.length; j++) {
            double s = 0;
            for (int h = 0; h < heads; h++) {
                double dot = 0;
                for (int k = 0; k < di; k++) {
                    dot += qi[h * di + k] * keys[j][k];
                }
                s += Math.max(dot, 0) * w[h] * scale;
            }
            scores[j] = s;
        }
        return scores;
    }

    /** The normalized query latent of one token (for tests of the indexer alone). */
    public double[] queryLatent(double[] x) {
        double[] qr = RefOps.fp8Linear(x, wqA);
        RefOps.rmsNorm(qr, 0, qr.length, qNorm, eps);
        return RefNumbers.bf16(qr);
    }

    /** Sparse attention of one head with the sink in the denominator (spec §3). */
    private void attend(double[] q, int at, List<double[]> rows, double sinkLogit, double[] out) {
        int hd = c.headDim();
        double[] s = new double[rows.size()];
        double m = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < s.length; j++) {
            double dot = 0;
            for (int k = 0; k < hd; k++) {
                dot += q[at + k] * rows.get(j)[k];
            }
            s[j] = dot / Math.sqrt(hd);
            m = Math.max(m, s[j]);
        }
        double denom = Math.exp(sinkLogit - m);
        for (int j = 0; j < s.length; j++) {
            s[j] = Math.exp(s[j] - m);
            denom += s[j];
        }
        for (int j = 0; j < s.length; j++) {
            for (int k = 0; k < hd; k++) {
                out[at + k] += s[j] / denom * rows.get(j)[k];
            }
        }
    }

    /** z[g] = o[g] @ wo_a[g]^T in bf16: group g's slice of the heads against its o_lora rows. */
    private double[] groupedProjection(double[] o) {
        int groups = c.oGroups();
        int in = c.numHeads() * c.headDim() / groups;
        int rank = c.oLoraRank();
        double[] z = new double[groups * rank];
        for (int g = 0; g < groups; g++) {
            for (int r = 0; r < rank; r++) {
                double acc = 0;
                for (int k = 0; k < in; k++) {
                    acc += o[g * in + k] * woA[g * rank + r][k];
                }
                z[g * rank + r] = RefNumbers.bf16(acc);
            }
        }
        return z;
    }

    /** Indexes of the k largest scores, descending, ties to the lower index. */
    static int[] topK(double[] scores, int k) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -scores[i]).thenComparingInt(i -> i));
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = order[i];
        }
        return out;
    }

    /**
     * The compressor of spec §3.1 in float64: gated pooling (overlapping for ratio 4), bf16, RMSNorm,
     * RoPE at position e*ratio, then FP8 simulation of the nope dims (attention) or Hadamard and
     * FP4 simulation (indexer).
     */
    public static final class Compressor {
        private final double[][] wkv;
        private final double[][] wgate;
        private final double[][] ape;
        private final double[] norm;
        private final int ratio;
        private final int d;
        private final int rd;
        private final double[] freqs;
        private final double eps;
        private final boolean indexer;

        Compressor(Map<String, Tensor> w, String p, int ratio, int d, int rd, double[] freqs, double eps, boolean indexer) {
            this.wkv = realMatrix(w, p + "wkv.weight");
            this.wgate = realMatrix(w, p + "wgate.weight");
            this.ape = realMatrix(w, p + "ape");
            this.norm = vector(w, p + "norm.weight");
            this.ratio = ratio;
            this.d = d;
            this.rd = rd;
            this.freqs = freqs;
            this.eps = eps;
            this.indexer = indexer;
        }

        /** Every complete entry of the sequence x [T][hidden]: [floor(T/ratio)][d]. */
        public double[][] entries(double[][] x) {
            int n = x.length / ratio;
            boolean overlap = ratio == 4;
            double[][] kv = new double[x.length][];
            double[][] score = new double[x.length][];
            for (int t = 0; t < x.length; t++) {
                kv[t] = RefOps.matVec(x[t], wkv);
                score[t] = RefOps.matVec(x[t], wgate);
                for (int k = 0; k < score[t].length; k++) {
                    score[t][k] += ape[t % ratio][k];
                }
            }
            double[][] out = new double[n][];
            for (int e = 0; e < n; e++) {
                double[] entry = new double[d];
                for (int ch = 0; ch < d; ch++) {
                    List<double[]> slots = new ArrayList<>(); // {score, value}
                    if (overlap && e > 0) {
                        for (int i = 0; i < ratio; i++) {
                            int t = (e - 1) * ratio + i;
                            slots.add(new double[] {score[t][ch], kv[t][ch]});
                        }
                    }
                    int half = overlap ? d : 0;
                    for (int i = 0; i < ratio; i++) {
                        int t = e * ratio + i;
                        slots.add(new double[] {score[t][half + ch], kv[t][half + ch]});
                    }
                    double m = Double.NEGATIVE_INFINITY;
                    for (double[] s : slots) {
                        m = Math.max(m, s[0]);
                    }
                    double sum = 0;
                    double acc = 0;
                    for (double[] s : slots) {
                        double wgt = Math.exp(s[0] - m);
                        sum += wgt;
                        acc += wgt * s[1];
                    }
                    entry[ch] = RefNumbers.bf16(acc / sum);
                }
                RefOps.rmsNorm(entry, 0, d, norm, eps);
                RefNumbers.bf16(entry);
                RefOps.rope(entry, d - rd, freqs, (long) e * ratio, false);
                RefOps.bf16(entry, d - rd, d);
                if (indexer) {
                    RefOps.hadamard(entry, 0, d);
                    RefNumbers.bf16(entry);
                    RefNumbers.fp4Simulate(entry, 0, d, 32);
                } else {
                    RefNumbers.fp8Simulate(entry, 0, d - rd, 64);
                }
                out[e] = entry;
            }
            return out;
        }
    }

    // ---- reading weights: FP8 codes and UE8M0 scales are decoded here, from the raw bytes ----

    static double[] vector(Map<String, Tensor> w, String name) {
        float[] f = tensor(w, name).toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    static double[][] realMatrix(Map<String, Tensor> w, String name) {
        Tensor t = tensor(w, name);
        double[] flat = vector(w, name);
        int rows = Math.toIntExact(t.dim(0));
        int cols = Math.toIntExact(t.dim(1));
        double[][] m = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, r * cols, m[r], 0, cols);
        }
        return m;
    }

    /** An FP8 weight [out, in] with 128x128 scales, dequantized. */
    static double[][] fp8Matrix(Map<String, Tensor> w, String base) {
        Tensor values = tensor(w, base + ".weight");
        Tensor scales = tensor(w, base + ".scale");
        byte[] codes = values.toByteArray();
        int rows = Math.toIntExact(values.dim(0));
        int cols = Math.toIntExact(values.dim(1));
        int scaleCols = Math.toIntExact(scales.dim(1));
        double[] s = new double[Math.toIntExact(scales.numel())];
        if (scales.dtype() == DType.F8_E8M0) {
            byte[] sb = scales.toByteArray();
            for (int i = 0; i < s.length; i++) {
                s[i] = RefNumbers.decodeUe8m0(sb[i]);
            }
        } else {
            float[] sf = scales.toFloatArray();
            for (int i = 0; i < s.length; i++) {
                s[i] = sf[i];
            }
        }
        double[][] m = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) {
                m[r][k] = RefNumbers.decodeE4m3(codes[r * cols + k]) * s[(r / 128) * scaleCols + k / 128];
            }
        }
        return m;
    }

    private static Tensor tensor(Map<String, Tensor> w, String name) {
        Tensor t = w.get(name);
        if (t == null) {
            throw new IllegalArgumentException("reference: no tensor " + name);
        }
        return t;
    }
}

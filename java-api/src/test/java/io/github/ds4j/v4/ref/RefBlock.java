package io.github.ds4j.v4.ref;

import io.github.ds4j.Tensor;
import io.github.ds4j.v4.V4Config;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A float64 V4 block (spec §5) for one sequence from position 0, composed from the independent
 * references: mHC pre ({@link HcReference}) → attention ({@link RefAttention}) → mHC post, then
 * mHC pre → MoE ({@link MoeReference}) → mHC post. The residual streams are bf16 and rounded
 * where the reference rounds them: the weighted stream sum, the normed sub-layer input and each
 * updated stream.
 */
public final class RefBlock {
    private final V4Config c;
    private final boolean hash;
    private final Mix attnMix;
    private final Mix ffnMix;
    private final RefAttention attention;
    private final double[][] gate;
    private final double[] bias;
    private final long[][] tid2eid;
    private final MoeReference.ExpertWeights[] experts;
    private final MoeReference.ExpertWeights shared;

    /** The mHC parameters of one sub-layer and the norm of its input. */
    private record Mix(double[][] fn, double[] base, double[] scale, double[] norm) {
        static Mix of(Map<String, Tensor> w, String p, String site) {
            return new Mix(MoeReference.real2d(get(w, p + "hc_" + site + "_fn")), MoeReference.real1d(get(w, p + "hc_" + site + "_base")),
                    MoeReference.real1d(get(w, p + "hc_" + site + "_scale")), MoeReference.real1d(get(w, p + site + "_norm.weight")));
        }
    }

    /**
     * The block's output streams per token [T][hc][D], and per token the outputs of every
     * acceptable indexer choice (the first is {@code out[t]}).
     */
    public record Result(double[][][] out, List<List<double[][]>> alternatives) {
        /** True when a correct block may have picked another indexer selection for token t. */
        public boolean ambiguous(int t) {
            return alternatives.get(t).size() > 1;
        }
    }

    /** The reference of layer {@code layer} with its weights by checkpoint name. */
    public RefBlock(V4Config c, int layer, Map<String, Tensor> w) {
        this.c = c;
        this.hash = c.isHashLayer(layer);
        String p = layer < c.numLayers() ? "layers." + layer + "." : "mtp." + (layer - c.numLayers()) + ".";
        this.attnMix = Mix.of(w, p, "attn");
        this.ffnMix = Mix.of(w, p, "ffn");
        this.attention = new RefAttention(c, layer, w);
        String f = p + "ffn.";
        this.gate = MoeReference.real2d(get(w, f + "gate.weight"));
        this.bias = hash ? null : MoeReference.real1d(get(w, f + "gate.bias"));
        this.tid2eid = hash ? MoeReference.table(get(w, f + "gate.tid2eid")) : null;
        this.experts = new MoeReference.ExpertWeights[c.routedExperts()];
        for (int e = 0; e < experts.length; e++) {
            experts[e] = MoeReference.expert(w, f + "experts." + e, false);
        }
        this.shared = c.sharedExperts() > 0 ? MoeReference.expert(w, f + "shared_experts", true) : null;
    }

    /**
     * Runs the block over one sequence of streams x [T][hc][D] (bf16 values) with token ids
     * {@code ids} [T] (used by hash layers). Where the attention's indexer choice for a token is a
     * near-tie (within {@code tieTolerance}), every tied choice's block output is an alternative.
     */
    public Result run(double[][][] x, long[] ids, double tieTolerance) {
        return run(x, ids, tieTolerance, attentionInput(x));
    }

    /**
     * The attention's input for the streams x [T][hc][D]: mHC pre (weights, weighted sum rounded
     * to bf16, RMSNorm with attn_norm, rounded to bf16), [T][D].
     */
    public double[][] attentionInput(double[][][] x) {
        double[][] in = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            in[i] = subLayerInput(attnMix, x[i], split(attnMix, x[i]));
        }
        return in;
    }

    /**
     * {@link #run(double[][][], long[], double)} with the attention fed {@code attnIn} [T][D]
     * instead of this reference's own {@link #attentionInput}. A bf16 value that lies within
     * float32 noise of a rounding midpoint may round either way; on a CSA layer such a one-ulp
     * difference moves a compressed entry across FP8 steps and so every later token that selects
     * it. Tests check the layer's attention input against {@link #attentionInput} within one ulp,
     * then pass it here so that the rest is compared without that amplification.
     */
    public Result run(double[][][] x, long[] ids, double tieTolerance, double[][] attnIn) {
        int t = x.length;
        HcReference.Split[] attnSplit = new HcReference.Split[t];
        for (int i = 0; i < t; i++) {
            attnSplit[i] = split(attnMix, x[i]);
        }
        RefAttention.Result attn = attention.run(attnIn, tieTolerance);
        double[][][] out = new double[t][][];
        List<List<double[][]>> alternatives = new ArrayList<>();
        for (int i = 0; i < t; i++) {
            List<double[][]> outs = new ArrayList<>();
            for (double[] a : attn.alternatives().get(i)) {
                double[][] mid = roundStreams(HcReference.post(a, x[i], attnSplit[i].post(), attnSplit[i].comb()));
                HcReference.Split s = split(ffnMix, mid);
                double[] in = subLayerInput(ffnMix, mid, s);
                double[] y = MoeReference.forward(new double[][] {in}, gate, bias, tid2eid, ids == null ? null : new long[] {ids[i]},
                        experts, shared, c.expertsPerToken(), c.routedScalingFactor(), c.swigluLimit(), true,
                        MoeReference.Options.SPEC)[0];
                outs.add(roundStreams(HcReference.post(y, mid, s.post(), s.comb())));
            }
            out[i] = outs.get(0);
            alternatives.add(outs);
        }
        return new Result(out, alternatives);
    }

    private HcReference.Split split(Mix m, double[][] streams) {
        double[] mix = HcReference.mixes(HcReference.flat(streams), m.fn(), c.rmsNormEps());
        return HcReference.split(mix, m.scale(), m.base(), c.hcMult(), c.hcSinkhornIters(), c.hcEps(), HcReference.Variant.SPEC);
    }

    private double[] subLayerInput(Mix m, double[][] streams, HcReference.Split s) {
        double[] sum = HcReference.round(HcReference.weightedSum(streams, s.pre()), true);
        return HcReference.round(HcReference.rmsNorm(sum, m.norm(), c.rmsNormEps()), true);
    }

    private static double[][] roundStreams(double[][] streams) {
        double[][] out = new double[streams.length][];
        for (int j = 0; j < streams.length; j++) {
            out[j] = HcReference.round(streams[j], true);
        }
        return out;
    }

    private static Tensor get(Map<String, Tensor> w, String name) {
        Tensor t = w.get(name);
        if (t == null) {
            throw new IllegalArgumentException("reference: no tensor " + name);
        }
        return t;
    }
}

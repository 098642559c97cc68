package io.github.ds4j.internal.checkpoint;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.v4.V4Config;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The tensors a V4 checkpoint holds, by shipped name (spec §7), with the dtypes and shapes the
 * config implies. Loading validates against it; {@code make-checkpoint} generates from it.
 */
public final class CheckpointLayout {
    private static final Set<DType> REAL = EnumSet.of(DType.BF16, DType.F32, DType.F16);

    /** How a tensor's values are laid out, which decides how to generate or check it. */
    public enum Kind {
        /** A real-valued tensor (norm weights, bf16 projections, mHC parameters, biases, sinks). */
        REAL,
        /** FP8 E4M3 values of a 128x128 block-scaled weight; its scale follows as {@link #SCALE}. */
        FP8_WEIGHT,
        /** MXFP4 values packed as I8 [out, in/2]; its 1x32 scale follows as {@link #SCALE}. */
        FP4_WEIGHT,
        /** UE8M0 scales of the weight named before it. */
        SCALE,
        /** Token-id to expert table (I64). */
        TOKEN_TABLE,
    }

    /**
     * One expected tensor.
     *
     * @param name shipped name, e.g. "layers.3.attn.wq_a.weight"
     * @param kind what the values are
     * @param dtypes accepted dtypes; the first is what the shipped checkpoints use
     * @param shape the shape implied by the config
     */
    public record Entry(String name, Kind kind, List<DType> dtypes, Shape shape) {
        public Entry {
            dtypes = List.copyOf(dtypes);
        }

        /** The dtype shipped checkpoints use. */
        public DType dtype() {
            return dtypes.get(0);
        }

        /** Checks a tensor's dtype and shape; the message names this entry. */
        public void check(DType actualType, Shape actualShape) {
            if (!dtypes.contains(actualType)) {
                throw new IllegalArgumentException(name + ": expected dtype " + (dtypes.size() == 1 ? dtypes.get(0) : "one of " + dtypes)
                        + ", got " + actualType);
            }
            if (!shape.equals(actualShape)) {
                throw new IllegalArgumentException(name + ": expected shape " + shape + " (from config.json), got " + actualShape);
            }
        }
    }

    private final V4Config config;

    public CheckpointLayout(V4Config config) {
        this.config = config;
    }

    /** The prefix of layer {@code layer}'s tensors: "layers.N." or, for the MTP blocks after them, "mtp.K.". */
    public String prefix(int layer) {
        int all = config.numLayers() + config.mtpLayers();
        if (layer < 0 || layer >= all) {
            throw new IllegalArgumentException("layer: expected 0.." + (all - 1) + " (" + config.numLayers() + " layers + "
                    + config.mtpLayers() + " MTP), got " + layer);
        }
        return layer < config.numLayers() ? "layers." + layer + "." : "mtp." + (layer - config.numLayers()) + ".";
    }

    /** The attention module's tensors of one layer. */
    public List<Entry> attention(int layer) {
        V4Config c = config;
        String p = prefix(layer) + "attn.";
        List<Entry> out = new ArrayList<>();
        out.add(real(p + "attn_sink", List.of(DType.F32), c.numHeads()));
        out.add(real(p + "q_norm.weight", c.qLoraRank()));
        out.add(real(p + "kv_norm.weight", c.headDim()));
        fp8(out, p + "wq_a", c.qLoraRank(), c.hiddenSize());
        fp8(out, p + "wq_b", c.numHeads() * c.headDim(), c.qLoraRank());
        fp8(out, p + "wkv", c.headDim(), c.hiddenSize());
        fp8(out, p + "wo_a", c.oGroups() * c.oLoraRank(), c.groupInput());
        fp8(out, p + "wo_b", c.hiddenSize(), c.oGroups() * c.oLoraRank());
        int ratio = c.compressRatio(layer);
        if (ratio != 0) {
            compressor(out, p + "compressor.", ratio, c.headDim(), c.hiddenSize());
        }
        if (ratio == 4) {
            out.add(real(p + "indexer.weights_proj.weight", c.indexHeads(), c.hiddenSize()));
            fp8(out, p + "indexer.wq_b", c.indexHeads() * c.indexHeadDim(), c.qLoraRank());
            compressor(out, p + "indexer.compressor.", ratio, c.indexHeadDim(), c.hiddenSize());
        }
        return out;
    }

    /** The MoE module's tensors of one layer (every routed expert included). */
    public List<Entry> moe(int layer) {
        V4Config c = config;
        String p = prefix(layer) + "ffn.";
        List<Entry> out = new ArrayList<>();
        out.add(real(p + "gate.weight", c.routedExperts(), c.hiddenSize()));
        if (c.isHashLayer(layer)) {
            out.add(new Entry(p + "gate.tid2eid", Kind.TOKEN_TABLE, List.of(DType.I64, DType.I32),
                    Shape.of(c.vocabSize(), c.expertsPerToken())));
        } else {
            out.add(real(p + "gate.bias", List.of(DType.F32), c.routedExperts()));
        }
        for (int e = 0; e < c.routedExperts(); e++) {
            out.addAll(expert(layer, e));
        }
        int shared = c.moeIntermediate() * c.sharedExperts();
        if (shared > 0) {
            fp8(out, p + "shared_experts.w1", shared, c.hiddenSize());
            fp8(out, p + "shared_experts.w2", c.hiddenSize(), shared);
            fp8(out, p + "shared_experts.w3", shared, c.hiddenSize());
        }
        return out;
    }

    /** The three MXFP4 weights (and scales) of routed expert {@code e}. */
    public List<Entry> expert(int layer, int e) {
        V4Config c = config;
        String p = prefix(layer) + "ffn.experts." + e + ".";
        List<Entry> out = new ArrayList<>();
        fp4(out, p + "w1", c.moeIntermediate(), c.hiddenSize());
        fp4(out, p + "w2", c.hiddenSize(), c.moeIntermediate());
        fp4(out, p + "w3", c.moeIntermediate(), c.hiddenSize());
        return out;
    }

    /** The norms and mHC parameters that wrap the two sub-layers of a block. */
    public List<Entry> blockWrappers(int layer) {
        V4Config c = config;
        String p = prefix(layer);
        int mix = (2 + c.hcMult()) * c.hcMult();
        List<Entry> out = new ArrayList<>();
        out.add(real(p + "attn_norm.weight", c.hiddenSize()));
        out.add(real(p + "ffn_norm.weight", c.hiddenSize()));
        for (String f : List.of("attn", "ffn")) {
            out.add(real(p + "hc_" + f + "_fn", List.of(DType.F32), mix, c.hcMult() * c.hiddenSize()));
            out.add(real(p + "hc_" + f + "_base", List.of(DType.F32), mix));
            out.add(real(p + "hc_" + f + "_scale", List.of(DType.F32), 3));
        }
        return out;
    }

    /** Every tensor of one layer's block: wrappers, attention and MoE. */
    public List<Entry> block(int layer) {
        List<Entry> out = new ArrayList<>(blockWrappers(layer));
        out.addAll(attention(layer));
        out.addAll(moe(layer));
        return out;
    }

    /** The model-level tensors: embedding, final norm, head mixing and LM head. */
    public List<Entry> model() {
        V4Config c = config;
        List<Entry> out = new ArrayList<>();
        out.add(real("embed.weight", c.vocabSize(), c.hiddenSize()));
        out.addAll(head(""));
        out.add(real("head.weight", c.vocabSize(), c.hiddenSize()));
        return out;
    }

    /**
     * The final norm and mHC head mixing that fold the residual streams before an LM head:
     * {@code prefix} "" for the model's, "mtp.K." for MTP block K's.
     */
    public List<Entry> head(String prefix) {
        V4Config c = config;
        return List.of(real(prefix + "norm.weight", c.hiddenSize()),
                real(prefix + "hc_head_fn", List.of(DType.F32), c.hcMult(), c.hcMult() * c.hiddenSize()),
                real(prefix + "hc_head_base", List.of(DType.F32), c.hcMult()),
                real(prefix + "hc_head_scale", List.of(DType.F32), 1));
    }

    private static void compressor(List<Entry> out, String p, int ratio, int d, int hidden) {
        int width = (ratio == 4 ? 2 : 1) * d;
        out.add(real(p + "ape", List.of(DType.F32), ratio, width));
        out.add(real(p + "norm.weight", d));
        out.add(real(p + "wgate.weight", width, hidden));
        out.add(real(p + "wkv.weight", width, hidden));
    }

    private static void fp8(List<Entry> out, String base, long rows, long cols) {
        out.add(new Entry(base + ".weight", Kind.FP8_WEIGHT, List.of(DType.F8_E4M3), Shape.of(rows, cols)));
        out.add(new Entry(base + ".scale", Kind.SCALE, List.of(DType.F8_E8M0, DType.F32),
                Shape.of((rows + 127) / 128, (cols + 127) / 128)));
    }

    private static void fp4(List<Entry> out, String base, long rows, long cols) {
        out.add(new Entry(base + ".weight", Kind.FP4_WEIGHT, List.of(DType.I8, DType.U8), Shape.of(rows, cols / 2)));
        out.add(new Entry(base + ".scale", Kind.SCALE, List.of(DType.F8_E8M0, DType.F32), Shape.of(rows, cols / 32)));
    }

    private static Entry real(String name, long... shape) {
        return new Entry(name, Kind.REAL, List.of(DType.BF16, DType.F32, DType.F16), Shape.of(shape));
    }

    private static Entry real(String name, List<DType> dtypes, long... shape) {
        List<DType> all = new ArrayList<>(dtypes);
        for (DType d : REAL) {
            if (!all.contains(d)) {
                all.add(d);
            }
        }
        return new Entry(name, Kind.REAL, all, Shape.of(shape));
    }
}

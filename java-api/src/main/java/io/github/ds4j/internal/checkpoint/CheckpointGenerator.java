package io.github.ds4j.internal.checkpoint;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointLayout.Entry;
import io.github.ds4j.internal.checkpoint.CheckpointLayout.Kind;
import io.github.ds4j.internal.json.Json;
import io.github.ds4j.safetensors.SafeTensors;
import io.github.ds4j.safetensors.ShardedSafeTensors;
import io.github.ds4j.v4.V4Config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Random V4 weights in the shipped layout and dtypes ({@link CheckpointLayout}): FP8 weights with
 * UE8M0 128x128 scales, MXFP4 experts packed as I8 with 1x32 scales, BF16/F32 elsewhere. It writes
 * whole checkpoints ({@code ds4j make-checkpoint}: sharded safetensors with a
 * model.safetensors.index.json, plus config.json; the MTP block is not written, see
 * {@link #withLayers}) and gives the tests any part of a layer in memory ({@link #tensors}).
 *
 * <p>Each tensor depends only on the seed and its name, so one layer generated alone equals that
 * layer in a written checkpoint. Every initialisation rule is in this class, chosen by the
 * tensor's kind and name; the rules keep a model run realistic: projections have standard deviation
 * 1/sqrt(fan-in), so unit-RMS activations stay near unit size; norms are near one; routing biases
 * are small next to the spread of the scores, so they change some top-k choices but not all; hash
 * tables name k distinct experts per token; the mHC comb leans to its diagonal, as trained mHC does.
 */
public final class CheckpointGenerator {
    /** Shards close once they hold this many bytes, to bound memory while generating. */
    private static final long SHARD_BYTES = 1L << 30;

    private final V4Config config;
    private final CheckpointLayout layout;
    private final long seed;
    private final Consumer<String> log;

    /**
     * @param config the model; its layer count is what {@link #write} writes
     * @param seed   seed of every random value (same seed, same bytes)
     * @param log    receives a line per part written, or null
     */
    public CheckpointGenerator(V4Config config, long seed, Consumer<String> log) {
        this.config = config;
        this.layout = new CheckpointLayout(config);
        this.seed = seed;
        this.log = log;
    }

    /** A generator that logs nothing. */
    public CheckpointGenerator(V4Config config, long seed) {
        this(config, seed, null);
    }

    /** A copy of {@code config} with {@code layers} layers (ratios cut to match) and no MTP block. */
    public static V4Config withLayers(V4Config config, int layers) {
        if (layers < 1 || layers > config.numLayers()) {
            throw new IllegalArgumentException("layers: expected 1.." + config.numLayers() + ", got " + layers);
        }
        List<Integer> ratios = new ArrayList<>(config.compressRatios().subList(0, layers));
        ratios.add(0);
        return new V4Config(config.hiddenSize(), layers, config.numHeads(), config.headDim(), config.ropeDim(),
                config.qLoraRank(), config.oGroups(), config.oLoraRank(), config.slidingWindow(),
                config.indexHeads(), config.indexHeadDim(), config.indexTopK(), ratios,
                config.routedExperts(), config.sharedExperts(), config.expertsPerToken(), config.moeIntermediate(),
                config.numHashLayers(), config.routedScalingFactor(), config.swigluLimit(),
                config.hcMult(), config.hcSinkhornIters(), config.hcEps(),
                config.ropeTheta(), config.compressRopeTheta(), config.yarn(),
                config.rmsNormEps(), config.vocabSize(), config.maxPositions(), 0);
    }

    /** The layout whose entries {@link #tensors} takes. */
    public CheckpointLayout layout() {
        return layout;
    }

    /**
     * New host tensors for {@code entries} (a list from {@link #layout()}, where each FP8 or FP4
     * weight is followed by its scale), by name in list order; the caller closes them.
     */
    public Map<String, Tensor> tensors(List<Entry> entries) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            generate(entries, out::put);
            return out;
        } catch (RuntimeException e) {
            out.values().forEach(Tensor::close);
            throw e;
        }
    }

    /** Writes config.json, the shards and the index into {@code dir} (created if needed). */
    public void write(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), config.toJson());
            List<List<Entry>> groups = new ArrayList<>();
            groups.add(layout.model());
            for (int l = 0; l < config.numLayers(); l++) {
                groups.add(layout.block(l));
            }
            Shards shards = new Shards(dir);
            for (int g = 0; g < groups.size(); g++) {
                if (log != null) {
                    log.accept("make-checkpoint: writing " + (g == 0 ? "the model head" : "layer " + (g - 1)));
                }
                generate(groups.get(g), shards::add);
                shards.flushIfFull();
            }
            shards.finish();
        } catch (IOException e) {
            throw new UncheckedIOException("make-checkpoint: cannot write " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Hands each entry's tensor to {@code sink}; a block-scaled weight and its scale go together. */
    private void generate(List<Entry> entries, BiConsumer<String, Tensor> sink) {
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            RandomWeights random = RandomWeights.forName(seed, e.name());
            switch (e.kind()) {
                case FP8_WEIGHT, FP4_WEIGHT -> {
                    Entry scale = i + 1 < entries.size() ? entries.get(i + 1) : null;
                    if (scale == null || scale.kind() != Kind.SCALE) {
                        throw new IllegalArgumentException(e.name() + ": its scale must follow it in the entries");
                    }
                    Tensor[] w = blockScaled(e, random);
                    sink.accept(e.name(), w[0]);
                    sink.accept(scale.name(), w[1]);
                    i++;
                }
                case TOKEN_TABLE -> sink.accept(e.name(), tokenTable(e, random));
                case REAL -> sink.accept(e.name(), real(e, random));
                case SCALE -> throw new IllegalArgumentException(e.name() + ": a scale must follow its weight in the entries");
            }
        }
    }

    /** An FP8 or MXFP4 weight (values and scales) of standard deviation 1/sqrt(fan-in). */
    private static Tensor[] blockScaled(Entry e, RandomWeights random) {
        int out = Math.toIntExact(e.shape().dim(0));
        if (e.kind() == Kind.FP8_WEIGHT) {
            int in = Math.toIntExact(e.shape().dim(1));
            return random.fp8(out, in, 1 / Math.sqrt(in));
        }
        int in = Math.toIntExact(2 * e.shape().dim(1)); // two E2M1 codes per stored byte
        return random.mxfp4(out, in, 1 / Math.sqrt(in));
    }

    /** A real tensor initialised by what its name says it is. */
    private Tensor real(Entry e, RandomWeights random) {
        String n = e.name();
        Shape s = e.shape();
        DType t = e.dtype();
        if (n.endsWith("norm.weight")) {
            return Tensor.fromFloats(shifted(random.gaussian(s.numel(), 0.1), 1f), t, s);
        }
        if (n.endsWith("attn_sink") || n.equals("embed.weight")) {
            return random.real(t, s, 1.0);
        }
        if (n.endsWith(".ape")) {
            // Position biases of the compressor's gate: large enough that a slot mix-up shows.
            return random.real(t, s, 0.5);
        }
        if (n.endsWith("gate.bias")) {
            return uniform(random, t, s, -0.1, 0.1);
        }
        if (n.endsWith("_scale")) {
            return uniform(random, t, s, 0.5, 1.5);
        }
        if (n.endsWith("_base")) {
            return Tensor.fromFloats(hcBase(n, random, s), t, s);
        }
        // Projections (bf16 compressor, indexer and gate weights, mHC fn, LM head): 1/sqrt(fan-in).
        return random.real(t, s, 1 / Math.sqrt(s.last()));
    }

    /**
     * mHC biases: N(0, 1), and for a sub-layer's [(2+n)*n] base the comb part [n, n] gets +2 on
     * its diagonal, so each stream mostly keeps itself.
     */
    private float[] hcBase(String name, RandomWeights random, Shape s) {
        float[] b = random.gaussian(s.numel(), 1.0);
        int n = config.hcMult();
        if (!name.contains("hc_head_")) {
            for (int i = 0; i < n; i++) {
                b[2 * n + i * n + i] += 2f;
            }
        }
        return b;
    }

    private static float[] shifted(float[] v, float by) {
        for (int i = 0; i < v.length; i++) {
            v[i] += by;
        }
        return v;
    }

    private static Tensor uniform(RandomWeights random, DType t, Shape s, double lo, double hi) {
        float[] v = new float[Math.toIntExact(s.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.uniform(lo, hi);
        }
        return Tensor.fromFloats(v, t, s);
    }

    /** tid2eid [vocab, k]: for every token id, k distinct experts drawn uniformly (a partial Fisher-Yates shuffle). */
    private Tensor tokenTable(Entry e, RandomWeights random) {
        int vocab = Math.toIntExact(e.shape().dim(0));
        int k = Math.toIntExact(e.shape().dim(1));
        int experts = config.routedExperts();
        long[] table = new long[Math.multiplyExact(vocab, k)];
        int[] pool = new int[experts];
        for (int v = 0; v < vocab; v++) {
            for (int i = 0; i < experts; i++) {
                pool[i] = i;
            }
            for (int j = 0; j < k; j++) {
                int pick = j + (int) Math.floor(random.uniform(0, experts - j));
                int swap = pool[j];
                pool[j] = pool[pick];
                pool[pick] = swap;
                table[v * k + j] = pool[j];
            }
        }
        return Tensor.fromLongs(table, e.dtype(), e.shape());
    }

    /** Accumulates tensors into shard files and writes the index at the end. */
    private static final class Shards {
        private final Path dir;
        private final Map<String, Tensor> pending = new LinkedHashMap<>();
        private final Map<String, String> weightMap = new LinkedHashMap<>();
        private final List<Path> written = new ArrayList<>();
        private long pendingBytes;
        private long totalBytes;

        Shards(Path dir) {
            this.dir = dir;
        }

        void add(String name, Tensor t) {
            pending.put(name, t);
            pendingBytes += t.dtype().byteSize(t.numel());
        }

        void flushIfFull() {
            if (pendingBytes >= SHARD_BYTES) {
                flush();
            }
        }

        private void flush() {
            if (pending.isEmpty()) {
                return;
            }
            Path file = dir.resolve(String.format("shard-%05d.safetensors", written.size() + 1));
            SafeTensors.write(file, pending);
            for (String name : pending.keySet()) {
                weightMap.put(name, file.getFileName().toString());
            }
            pending.values().forEach(Tensor::close);
            pending.clear();
            totalBytes += pendingBytes;
            pendingBytes = 0;
            written.add(file);
        }

        void finish() throws IOException {
            flush();
            // Rename to the Hugging Face pattern now that the shard count is known.
            Map<String, String> renamed = new LinkedHashMap<>();
            for (int i = 0; i < written.size(); i++) {
                String name = String.format("model-%05d-of-%05d.safetensors", i + 1, written.size());
                Files.move(written.get(i), dir.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                renamed.put(written.get(i).getFileName().toString(), name);
            }
            Map<String, Object> map = new LinkedHashMap<>();
            weightMap.forEach((k, v) -> map.put(k, renamed.get(v)));
            Map<String, Object> index = new LinkedHashMap<>();
            index.put("metadata", Map.of("total_size", totalBytes));
            index.put("weight_map", map);
            Files.writeString(dir.resolve(ShardedSafeTensors.INDEX_FILE), Json.write(index));
        }
    }
}

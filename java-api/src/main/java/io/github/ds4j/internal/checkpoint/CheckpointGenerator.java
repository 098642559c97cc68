package io.github.ds4j.internal.checkpoint;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.json.Json;
import io.github.ds4j.safetensors.SafeTensors;
import io.github.ds4j.safetensors.ShardedSafeTensors;
import io.github.ds4j.v4.CheckpointLayout;
import io.github.ds4j.v4.CheckpointLayout.Entry;
import io.github.ds4j.v4.V4Config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Writes a V4 checkpoint with random weights in the shipped layout and dtypes: every tensor of
 * {@link CheckpointLayout} for the model head and each layer (FP8 weights with UE8M0 128x128
 * scales, MXFP4 experts packed as I8 with 1x32 scales, BF16/F32 elsewhere), sharded with a
 * model.safetensors.index.json, plus config.json. Weights are scaled so activations stay in a
 * realistic range: projections have standard deviation 1/sqrt(fan-in), norms are near one,
 * routing biases are small enough to change some selections but not all. The MTP block is not
 * written (the config says num_nextn_predict_layers 0).
 */
public final class CheckpointGenerator {
    /** Shards close once they hold this many bytes, to bound memory while generating. */
    private static final long SHARD_BYTES = 1L << 30;

    private final V4Config config;
    private final RandomWeights random;
    private final Consumer<String> log;

    /**
     * @param config the model; its layer count is what gets written
     * @param seed   seed of every random value (same seed, same bytes)
     * @param log    receives a line per part written, or null
     */
    public CheckpointGenerator(V4Config config, long seed, Consumer<String> log) {
        this.config = config;
        this.random = new RandomWeights(seed);
        this.log = log;
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

    /** Writes config.json, the shards and the index into {@code dir} (created if needed). */
    public void write(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), config.toJson());
            CheckpointLayout layout = new CheckpointLayout(config);
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
                List<Entry> entries = groups.get(g);
                for (int i = 0; i < entries.size(); i++) {
                    Entry e = entries.get(i);
                    switch (e.kind()) {
                        case FP8_WEIGHT -> {
                            Tensor[] w = random.fp8((int) e.shape().dim(0), (int) e.shape().dim(1), 1 / Math.sqrt(e.shape().dim(1)));
                            shards.add(e.name(), w[0]);
                            shards.add(entries.get(++i).name(), w[1]);
                        }
                        case FP4_WEIGHT -> {
                            int in = (int) e.shape().dim(1) * 2;
                            Tensor[] w = random.mxfp4((int) e.shape().dim(0), in, 1 / Math.sqrt(in));
                            shards.add(e.name(), w[0]);
                            shards.add(entries.get(++i).name(), w[1]);
                        }
                        case TOKEN_TABLE -> shards.add(e.name(), tokenTable(e.shape()));
                        case REAL -> shards.add(e.name(), real(e));
                        case SCALE -> throw new IllegalStateException(e.name() + ": a scale must follow its weight");
                    }
                }
                shards.flushIfFull();
            }
            shards.finish();
        } catch (IOException e) {
            throw new UncheckedIOException("make-checkpoint: cannot write " + dir + ": " + e.getMessage(), e);
        }
    }

    /** A real tensor initialised by what its name says it is. */
    private Tensor real(Entry e) {
        String n = e.name();
        Shape s = e.shape();
        DType t = e.dtype();
        if (n.endsWith("norm.weight")) {
            return around(t, s, 1.0, 0.1);
        }
        if (n.endsWith("attn_sink")) {
            return random.real(t, s, 1.0);
        }
        if (n.endsWith(".ape")) {
            return random.real(t, s, 0.1);
        }
        if (n.endsWith("gate.bias")) {
            return random.real(t, s, 0.05);
        }
        if (n.endsWith("_scale")) {
            return uniform(t, s, 0.5, 1.5);
        }
        if (n.endsWith("_base")) {
            return random.real(t, s, 0.5);
        }
        if (n.equals("embed.weight")) {
            return random.real(t, s, 1.0);
        }
        // Projections (bf16 compressor/indexer/gate weights, mHC fn, LM head): 1/sqrt(fan-in).
        return random.real(t, s, 1 / Math.sqrt(s.last()));
    }

    private Tensor around(DType t, Shape s, double mean, double std) {
        float[] v = random.gaussian(s.numel(), std);
        for (int i = 0; i < v.length; i++) {
            v[i] += (float) mean;
        }
        return Tensor.fromFloats(v, t, s);
    }

    private Tensor uniform(DType t, Shape s, double lo, double hi) {
        float[] v = new float[Math.toIntExact(s.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.uniform(lo, hi);
        }
        return Tensor.fromFloats(v, t, s);
    }

    /** tid2eid: for every token id, k distinct experts drawn uniformly. */
    private Tensor tokenTable(Shape s) {
        int vocab = (int) s.dim(0);
        int k = (int) s.dim(1);
        int experts = config.routedExperts();
        long[] ids = new long[vocab * k];
        for (int tok = 0; tok < vocab; tok++) {
            for (int j = 0; j < k; j++) {
                long e;
                boolean repeat;
                do {
                    e = (long) random.uniform(0, experts);
                    repeat = false;
                    for (int q = 0; q < j; q++) {
                        repeat |= ids[tok * k + q] == e;
                    }
                } while (repeat);
                ids[tok * k + j] = e;
            }
        }
        return Tensor.fromLongs(ids, DType.I64, s);
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

package io.github.ds4j.bench.cpu;

import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointGenerator;
import io.github.ds4j.internal.checkpoint.CheckpointLayout.Entry;
import io.github.ds4j.internal.checkpoint.CheckpointLayout.Kind;
import io.github.ds4j.v4.TensorSource;
import io.github.ds4j.v4.V4Config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The random weights of one layer ({@link CheckpointGenerator}), each tensor generated the first
 * time it is asked for: a Flash layer holds 256 routed experts, of which a decode step reads 6,
 * and generating all of them would take minutes. Every tensor depends only on the seed and its
 * name, so a lazily generated one equals the one a written checkpoint holds. Remembers the byte
 * size of each tensor handed out, for the traffic accounting.
 */
final class GeneratedWeights implements TensorSource, AutoCloseable {
    private final CheckpointGenerator generator;
    private final Map<String, Integer> index = new HashMap<>();
    private final List<Entry> entries;
    private final Map<String, Tensor> made = new LinkedHashMap<>();
    private final Map<String, Long> served = new LinkedHashMap<>();

    GeneratedWeights(V4Config config, int layer, long seed) {
        this.generator = new CheckpointGenerator(config, seed);
        this.entries = generator.layout().block(layer);
        for (int i = 0; i < entries.size(); i++) {
            index.put(entries.get(i).name(), i);
        }
    }

    @Override
    public synchronized Tensor tensor(String name) {
        Tensor t = made.get(name);
        if (t == null) {
            Integer i = index.get(name);
            if (i == null) {
                throw new IllegalArgumentException(name + ": not a tensor of this layer");
            }
            Entry e = entries.get(i);
            // A block-scaled weight and its scale are generated together, the weight first.
            List<Entry> group = new ArrayList<>();
            if (e.kind() == Kind.SCALE) {
                group.add(entries.get(i - 1));
            }
            group.add(e);
            if (e.kind() == Kind.FP8_WEIGHT || e.kind() == Kind.FP4_WEIGHT) {
                group.add(entries.get(i + 1));
            }
            made.putAll(generator.tensors(group));
            t = made.get(name);
        }
        served.put(name, t.dtype().byteSize(t.numel()));
        return t;
    }

    @Override
    public boolean contains(String name) {
        return index.containsKey(name);
    }

    /** Bytes of every tensor handed out so far, by name. */
    synchronized Map<String, Long> served() {
        return new LinkedHashMap<>(served);
    }

    @Override
    public synchronized void close() {
        made.values().forEach(Tensor::close);
        made.clear();
    }
}

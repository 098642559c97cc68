package io.github.ds4j.v4.ref;

import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointGenerator;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.v4.TensorSource;
import io.github.ds4j.v4.V4Config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Host tensors by name for the layer tests, owned here; records every name asked for. The
 * factories fill it with one part of a layer as {@link CheckpointGenerator} makes it, the same
 * values that part has in a checkpoint written with that seed.
 */
public final class MapSource implements TensorSource, AutoCloseable {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final List<String> requested = Collections.synchronizedList(new ArrayList<>());

    public MapSource(Map<String, Tensor> tensors) {
        this.tensors.putAll(tensors);
    }

    /** The random tensors of {@code entries} (from {@code new CheckpointLayout(config)}). */
    public static MapSource random(V4Config config, long seed, List<CheckpointLayout.Entry> entries) {
        return new MapSource(new CheckpointGenerator(config, seed).tensors(entries));
    }

    /** Layer {@code layer}'s attention weights. */
    public static MapSource attention(V4Config config, int layer, long seed) {
        return random(config, seed, new CheckpointLayout(config).attention(layer));
    }

    /** Layer {@code layer}'s MoE weights (gate, every routed expert, shared expert). */
    public static MapSource moe(V4Config config, int layer, long seed) {
        return random(config, seed, new CheckpointLayout(config).moe(layer));
    }

    /** Layer {@code layer}'s two mHC sites and sub-layer norms. */
    public static MapSource hyperConnections(V4Config config, int layer, long seed) {
        return random(config, seed, new CheckpointLayout(config).blockWrappers(layer));
    }

    /** The mHC head and final norm under {@code prefix} ("" for the model, "mtp.K." for an MTP block). */
    public static MapSource head(V4Config config, String prefix, long seed) {
        return random(config, seed, new CheckpointLayout(config).head(prefix));
    }

    @Override
    public Tensor tensor(String name) {
        requested.add(name);
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException(name + ": no such tensor");
        }
        return t;
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The tensors by name (still owned here; removing one hands it to the caller). */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** Replaces a tensor (closing the old one). */
    public void put(String name, Tensor t) {
        Tensor old = tensors.put(name, t);
        if (old != null && old != t) {
            old.close();
        }
    }

    /** Every name asked for, in order, repeats included. */
    public List<String> requested() {
        return requested;
    }

    @Override
    public void close() {
        tensors.values().forEach(Tensor::close);
    }
}

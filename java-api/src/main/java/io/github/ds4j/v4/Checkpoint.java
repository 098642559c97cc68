package io.github.ds4j.v4;

import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.safetensors.ShardedSafeTensors;

import java.io.Flushable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A V4 checkpoint on disk: config.json plus safetensors shards (with or without
 * model.safetensors.index.json). Shards are memory-mapped lazily, so asking for one layer reads
 * only that layer's tensors. Every tensor a layer needs is checked against the dtype and shape
 * the config implies (spec §7) before use, with messages naming the tensor.
 */
public final class Checkpoint implements AutoCloseable {
    /** Which tensors of a layer to serve. */
    public enum Part {
        ATTENTION, MOE, BLOCK
    }

    private final Path directory;
    private final V4Config config;
    private final CheckpointLayout layout;
    private final ShardedSafeTensors tensors;
    private final Appendable progress;

    private Checkpoint(Path directory, V4Config config, ShardedSafeTensors tensors, Appendable progress) {
        this.directory = directory;
        this.config = config;
        this.layout = new CheckpointLayout(config);
        this.tensors = tensors;
        this.progress = progress;
    }

    /** Opens a checkpoint folder; progress of slow loads goes to standard error. */
    public static Checkpoint open(Path directory) {
        return open(directory, System.err);
    }

    /**
     * Opens a checkpoint folder; {@code progress} (a PrintStream, PrintWriter, or null for none)
     * hears about validation that takes more than a second.
     */
    public static Checkpoint open(Path directory, Appendable progress) {
        if (!Files.isDirectory(directory)) {
            throw new IllegalArgumentException("checkpoint: " + directory + " is not a directory");
        }
        if (!Files.isRegularFile(directory.resolve("config.json"))) {
            throw new IllegalArgumentException("checkpoint: " + directory + " has no config.json");
        }
        V4Config config = V4Config.load(directory);
        return new Checkpoint(directory, config, ShardedSafeTensors.open(directory), progress);
    }

    public Path directory() {
        return directory;
    }

    public V4Config config() {
        return config;
    }

    /**
     * The tensors of one part of layer {@code layer} (the MTP block is layer {@code numLayers}),
     * each checked for presence, dtype and shape first (with progress on the progress stream when
     * that takes more than a second). The returned source serves only those names; tensors are
     * memory-mapped views, read from disk when first touched.
     */
    public TensorSource layer(int layer, Part part) {
        if (layer < 0 || layer >= config.compressRatios().size()) {
            throw new IllegalArgumentException("layer: expected 0.." + (config.compressRatios().size() - 1)
                    + " (num_hidden_layers " + config.numLayers() + " + MTP), got " + layer);
        }
        List<CheckpointLayout.Entry> entries = switch (part) {
            case ATTENTION -> layout.attention(layer);
            case MOE -> layout.moe(layer);
            case BLOCK -> layout.block(layer);
        };
        return validated(entries, "layer " + layer + " " + part.name().toLowerCase(java.util.Locale.ROOT));
    }

    /** The model-level tensors (embedding, final norm, head mixing, LM head), checked. */
    public TensorSource model() {
        return validated(layout.model(), "model head");
    }

    private TensorSource validated(List<CheckpointLayout.Entry> entries, String what) {
        Progress p = new Progress(progress, "checking " + what, entries.size());
        Map<String, CheckpointLayout.Entry> byName = new HashMap<>();
        for (CheckpointLayout.Entry e : entries) {
            if (!tensors.contains(e.name())) {
                throw new IllegalArgumentException(e.name() + ": missing from the checkpoint " + directory
                        + " (expected " + e.dtype() + " " + e.shape() + ")");
            }
            Tensor t = tensors.tensor(e.name());
            e.check(t.dtype(), t.shape());
            byName.put(e.name(), e);
            p.step();
        }
        p.done();
        return new LayerSource(byName.keySet());
    }

    @Override
    public void close() {
        tensors.close();
    }

    /** Serves a fixed set of names. */
    private final class LayerSource implements TensorSource {
        private final Set<String> names;

        LayerSource(Set<String> names) {
            this.names = Set.copyOf(names);
        }

        @Override
        public Tensor tensor(String name) {
            if (!names.contains(name)) {
                throw new IllegalArgumentException(name + ": not part of this layer's tensors (" + names.size() + " served: "
                        + names.stream().sorted().limit(3).collect(Collectors.joining(", ")) + ", ...)");
            }
            return tensors.tensor(name);
        }

        @Override
        public boolean contains(String name) {
            return names.contains(name);
        }
    }

    /** Prints "what: i/n" on a progress stream, only once more than a second has passed. */
    private static final class Progress {
        private final Appendable out;
        private final String what;
        private final int total;
        private final long start = System.nanoTime();
        private long lastPrint;
        private int done;
        private boolean printed;

        Progress(Appendable out, String what, int total) {
            this.out = out;
            this.what = what;
            this.total = total;
        }

        synchronized void step() {
            done++;
            long now = System.nanoTime();
            if (out != null && now - start > 1_000_000_000L && now - lastPrint > 500_000_000L) {
                lastPrint = now;
                printed = true;
                print("\r" + what + ": " + done + "/" + total + " tensors");
            }
        }

        synchronized void done() {
            if (out != null && printed) {
                print("\r" + what + ": " + done + "/" + total + " tensors" + System.lineSeparator());
                printed = false;
            }
        }

        private void print(String text) {
            try {
                out.append(text);
                if (out instanceof Flushable f) {
                    f.flush();
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}

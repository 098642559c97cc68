package io.github.ds4j.safetensors;

import io.github.ds4j.Tensor;
import io.github.ds4j.internal.json.Json;
import io.github.ds4j.internal.json.JsonException;
import io.github.ds4j.v4.TensorSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A checkpoint split over several safetensors files in one directory, read as one
 * {@link TensorSource}. With {@code model.safetensors.index.json} its {@code weight_map} says
 * which shard holds each tensor and a shard is mapped only when one of its tensors is first asked
 * for; without an index every {@code *.safetensors} file in the directory is a shard and all are
 * mapped on the first lookup (mapping reads no tensor data). Tensors are zero-copy views, valid
 * until {@link #close()}, which closes every shard.
 */
public final class ShardedSafeTensors implements TensorSource, AutoCloseable {
    /** The index file name Hugging Face checkpoints use. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path dir;
    /** Tensor name to shard file; null until known when there is no index. */
    private Map<String, Path> location;
    private final List<Path> shardFiles;
    private final Map<Path, SafeTensors> open = new LinkedHashMap<>();
    private boolean closed;

    private ShardedSafeTensors(Path dir, Map<String, Path> location, List<Path> shardFiles) {
        this.dir = dir;
        this.location = location;
        this.shardFiles = shardFiles;
    }

    /**
     * Opens a checkpoint directory (with or without an index) or a single safetensors file.
     * Throws {@link SafeTensorsException} when the directory, its index or a named shard is
     * missing or malformed.
     */
    public static ShardedSafeTensors open(Path path) {
        if (Files.isRegularFile(path)) {
            return new ShardedSafeTensors(path.toAbsolutePath().getParent(), null, List.of(path));
        }
        if (!Files.isDirectory(path)) {
            throw new SafeTensorsException("cannot read checkpoint " + path + ": no such file or directory");
        }
        Path index = path.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            Map<String, Path> loc = readIndex(path, index);
            return new ShardedSafeTensors(path, loc, List.copyOf(new java.util.LinkedHashSet<>(loc.values())));
        }
        List<Path> shards;
        try (Stream<Path> s = Files.list(path)) {
            shards = s.filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p))
                    .sorted().toList();
        } catch (IOException e) {
            throw new SafeTensorsException("cannot list " + path + ": " + SafeTensors.describe(e), e);
        }
        if (shards.isEmpty()) {
            throw new SafeTensorsException(path + " holds no *.safetensors files and no " + INDEX_FILE);
        }
        return new ShardedSafeTensors(path, null, shards);
    }

    /** The directory of the checkpoint. */
    public Path directory() {
        return dir;
    }

    /** The shard files, in index order or sorted by name. */
    public List<Path> shards() {
        return shardFiles;
    }

    /** Every tensor name (maps all shards when there is no index). */
    public synchronized Set<String> names() {
        return Collections.unmodifiableSet(locations().keySet());
    }

    @Override
    public synchronized boolean contains(String name) {
        return locations().containsKey(name);
    }

    /**
     * A zero-copy view of tensor {@code name} from the shard that holds it (mapped on first use).
     * Throws {@link IllegalArgumentException} naming the tensor when no shard has it, and
     * {@link SafeTensorsException} when the index names a shard that does not hold it.
     */
    @Override
    public synchronized Tensor tensor(String name) {
        Path file = locations().get(name);
        if (file == null) {
            throw new IllegalArgumentException("checkpoint " + dir + " has no tensor \"" + name + "\"");
        }
        SafeTensors shard = shard(file);
        if (!shard.contains(name)) {
            throw new SafeTensorsException(dir.resolve(INDEX_FILE) + " places tensor \"" + name + "\" in " + file.getFileName()
                    + ", which does not hold it");
        }
        return shard.tensor(name);
    }

    /** Number of shards mapped so far (for tests of lazy opening). */
    synchronized int openShardCount() {
        return open.size();
    }

    /** Closes every mapped shard; their tensor views become unusable. Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        RuntimeException first = null;
        for (SafeTensors s : open.values()) {
            try {
                s.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        open.clear();
        if (first != null) {
            throw first;
        }
    }

    private Map<String, Path> locations() {
        checkOpen();
        if (location == null) {
            Map<String, Path> loc = new LinkedHashMap<>();
            for (Path p : shardFiles) {
                for (String n : shard(p).names()) {
                    Path prev = loc.putIfAbsent(n, p);
                    if (prev != null) {
                        throw new SafeTensorsException("tensor \"" + n + "\" is in both " + prev + " and " + p);
                    }
                }
            }
            location = loc;
        }
        return location;
    }

    private SafeTensors shard(Path file) {
        checkOpen();
        SafeTensors s = open.get(file);
        if (s == null) {
            s = SafeTensors.open(file);
            open.put(file, s);
        }
        return s;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("checkpoint " + dir + " is closed");
        }
    }

    private static Map<String, Path> readIndex(Path dir, Path index) {
        String text;
        try {
            if (Files.size(index) > Header.MAX_HEADER_BYTES) {
                throw new SafeTensorsException(index + ": larger than " + Header.MAX_HEADER_BYTES + " bytes");
            }
            text = Files.readString(index);
        } catch (IOException e) {
            throw new SafeTensorsException("cannot read " + index + ": " + SafeTensors.describe(e), e);
        }
        Object root;
        try {
            root = Json.parse(text);
        } catch (JsonException e) {
            throw new SafeTensorsException(index + ": not valid JSON: " + e.getMessage());
        }
        if (!(root instanceof Map<?, ?> m) || !(m.get("weight_map") instanceof Map<?, ?> wm)) {
            throw new SafeTensorsException(index + ": expected an object with a \"weight_map\" object");
        }
        Path base = dir.toAbsolutePath().normalize();
        Map<String, Path> loc = new LinkedHashMap<>();
        Map<String, Path> checked = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : wm.entrySet()) {
            String name = (String) e.getKey();
            if (!(e.getValue() instanceof String f)) {
                throw new SafeTensorsException(index + ": the shard of tensor \"" + name + "\" must be a file name, got " + e.getValue());
            }
            Path shard = checked.get(f);
            if (shard == null) {
                shard = base.resolve(f).normalize();
                // The index must not send the reader outside the checkpoint directory.
                if (!shard.getParent().equals(base) || f.isEmpty()) {
                    throw new SafeTensorsException(index + ": shard \"" + f + "\" of tensor \"" + name
                            + "\" is not a file in " + dir);
                }
                if (!Files.isRegularFile(shard)) {
                    throw new SafeTensorsException(index + ": shard " + f + " (of tensor \"" + name + "\") does not exist");
                }
                checked.put(f, shard);
            }
            loc.put(name, shard);
        }
        return loc;
    }

    @Override
    public String toString() {
        return "ShardedSafeTensors[" + dir + ", " + shardFiles.size() + " shards]";
    }
}

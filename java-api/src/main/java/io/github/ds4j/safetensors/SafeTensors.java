package io.github.ds4j.safetensors;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Storage;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.v4.TensorSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Set;

/**
 * One safetensors file, memory-mapped read-only. Tensors are zero-copy host views of the mapping:
 * they stay usable until this file is closed, after which touching them throws
 * {@link IllegalStateException}. The header is fully validated on {@link #open}: dtypes, shapes,
 * offsets inside the data section, sizes that match, no overlapping tensors; a malformed file
 * fails with a {@link SafeTensorsException} naming the file and the tensor.
 *
 * <pre>{@code
 * try (SafeTensors f = SafeTensors.open(Path.of("model.safetensors"))) {
 *     Tensor w = f.tensor("layers.0.attn.wq_a.weight");   // F8_E4M3 [1024, 4096], no copy
 * }
 * SafeTensors.write(Path.of("out.safetensors"), Map.of("y", y), Map.of("format", "pt"));
 * }</pre>
 */
public final class SafeTensors implements TensorSource, AutoCloseable {
    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Header header;

    private SafeTensors(Path path, Arena arena, MemorySegment data, Header header) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.header = header;
    }

    /**
     * Maps {@code file} and validates its header. Throws {@link SafeTensorsException} when the file
     * cannot be read or is malformed.
     */
    public static SafeTensors open(Path file) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment whole = size == 0 ? MemorySegment.ofArray(new byte[0]) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            Header header = Header.parse(file.toString(), whole);
            return new SafeTensors(file, arena, whole.asSlice(header.dataStart), header);
        } catch (IOException e) {
            arena.close();
            throw new SafeTensorsException("cannot read " + file + ": " + describe(e), e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** Tensor names in header order. */
    public Set<String> names() {
        return header.entries.keySet();
    }

    /** The {@code __metadata__} string map (empty when the file has none). */
    public Map<String, String> metadata() {
        return header.metadata;
    }

    @Override
    public boolean contains(String name) {
        return header.entries.containsKey(name);
    }

    /**
     * A zero-copy view of tensor {@code name}; closing the view does nothing, closing this file
     * invalidates it. Throws {@link IllegalArgumentException} naming the file when there is none.
     */
    @Override
    public Tensor tensor(String name) {
        checkOpen();
        Header.Entry e = header.entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException(path + " has no tensor \"" + name + "\"");
        }
        MemorySegment bytes = data.asSlice(e.begin(), e.byteSize());
        return Tensor.of(Storage.borrowed(bytes, CpuBackend.shared()), e.dtype(), e.shape(), false);
    }

    /** The dtype of tensor {@code name} as the header states it, without making a view. */
    public DType dtype(String name) {
        return entry(name).dtype();
    }

    /** The shape of tensor {@code name} as the header states it. */
    public Shape shape(String name) {
        return entry(name).shape();
    }

    /** True until {@link #close()}. */
    public boolean isOpen() {
        return arena.scope().isAlive();
    }

    /** Unmaps the file; every tensor view of it becomes unusable. Idempotent. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    /**
     * Writes {@code tensors} (in the map's iteration order) to {@code file}. See
     * {@link #write(Path, Map, Map)}.
     */
    public static void write(Path file, Map<String, Tensor> tensors) {
        write(file, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} in the map's iteration order (use a {@link java.util.LinkedHashMap}
     * to choose it) and {@code metadata} as {@code __metadata__}. Host and device tensors are
     * accepted (device ones are copied to the host; strided ones must be on the host); FP4_E2M1
     * tensors are stored as I8 [..., cols/2], as checkpoints store them. The data goes to a
     * temporary file in the same directory that is then atomically renamed, so on any error no
     * half-written file is left and an existing {@code file} is untouched.
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        Writer.write(file, tensors, metadata);
    }

    @Override
    public String toString() {
        return "SafeTensors[" + path + ", " + header.entries.size() + " tensors" + (isOpen() ? "" : ", closed") + "]";
    }

    private Header.Entry entry(String name) {
        Header.Entry e = header.entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException(path + " has no tensor \"" + name + "\"");
        }
        return e;
    }

    private void checkOpen() {
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException(path + " is closed");
        }
    }

    static String describe(IOException e) {
        String kind = switch (e) {
            case java.nio.file.NoSuchFileException x -> "no such file";
            case java.nio.file.AccessDeniedException x -> "permission denied";
            case java.nio.file.FileSystemException x when x.getReason() != null -> x.getReason();
            default -> e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        };
        return kind;
    }
}

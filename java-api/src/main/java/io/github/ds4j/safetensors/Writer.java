package io.github.ds4j.safetensors;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.json.Json;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes safetensors files atomically: a temporary file in the target directory, then a rename. */
final class Writer {
    /** Largest slice handed to one channel write (ByteBuffers are int-indexed). */
    private static final long CHUNK = 1L << 30;

    private Writer() {
    }

    /** A tensor as it will be stored: its safetensors dtype and shape, and where its bytes come from. */
    private record Item(String name, Tensor tensor, String dtype, Shape shape, long bytes) {
    }

    static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        if (file == null) {
            throw new IllegalArgumentException("file: must not be null");
        }
        if (tensors == null) {
            throw new IllegalArgumentException("tensors: must not be null");
        }
        List<Item> items = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            items.add(item(e.getKey(), e.getValue()));
        }
        Map<String, Object> head = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) {
            Map<String, Object> meta = new LinkedHashMap<>();
            metadata.forEach((k, v) -> {
                if (k == null || v == null) {
                    throw new IllegalArgumentException("metadata: keys and values must not be null, got " + k + " = " + v);
                }
                meta.put(k, v);
            });
            head.put(Header.METADATA_KEY, meta);
        }
        long offset = 0;
        for (Item it : items) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", it.dtype());
            List<Long> dims = new ArrayList<>();
            for (long d : it.shape().toArray()) {
                dims.add(d);
            }
            entry.put("shape", dims);
            entry.put("data_offsets", List.of(offset, offset + it.bytes()));
            head.put(it.name(), entry);
            offset += it.bytes();
        }
        byte[] json = Json.write(head).getBytes(StandardCharsets.UTF_8);
        // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
        int padded = (json.length + 7) & ~7;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(json);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        prefix.flip();

        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        Path tmp = null;
        try {
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, prefix);
                for (Item it : items) {
                    writeTensor(ch, it);
                }
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new SafeTensorsException("cannot write " + file + ": " + SafeTensors.describe(e), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // The original failure is what the caller needs to see.
                }
            }
        }
    }

    private static Item item(String name, Tensor t) {
        if (name == null) {
            throw new IllegalArgumentException("tensors: names must not be null");
        }
        if (name.equals(Header.METADATA_KEY)) {
            throw new IllegalArgumentException("tensors: \"" + Header.METADATA_KEY + "\" is reserved for the metadata");
        }
        if (t == null) {
            throw new IllegalArgumentException("tensor \"" + name + "\": must not be null");
        }
        t.checkOpen("tensor \"" + name + "\"");
        if (!t.device().isHost() && !t.isContiguous()) {
            throw new IllegalArgumentException("tensor \"" + name + "\": a strided tensor on " + t.device()
                    + " cannot be written; make it contiguous first");
        }
        DType d = t.dtype();
        Shape shape = t.shape();
        if (d == DType.FP4_E2M1) {
            if (shape.rank() == 0) {
                throw new IllegalArgumentException("tensor \"" + name + "\": an FP4 scalar cannot be stored as packed I8");
            }
            // Checkpoints keep MXFP4 as I8 [..., cols/2], two elements per byte, low nibble first.
            return new Item(name, t, "I8", shape.withLast(shape.last() / 2), d.byteSize(t.numel()));
        }
        return new Item(name, t, d.safetensorsName().orElseThrow(), shape, d.byteSize(t.numel()));
    }

    private static void writeTensor(FileChannel ch, Item it) throws IOException {
        Tensor t = it.tensor();
        if (it.bytes() == 0) {
            return;
        }
        if (t.device().isHost() && t.isContiguous()) {
            writeSegment(ch, t.hostSegment().asSlice(0, it.bytes()));
            return;
        }
        try (Tensor host = t.toHost()) {
            writeSegment(ch, host.hostSegment().asSlice(0, it.bytes()));
        }
    }

    private static void writeSegment(FileChannel ch, MemorySegment seg) throws IOException {
        for (long at = 0; at < seg.byteSize(); at += CHUNK) {
            writeFully(ch, seg.asSlice(at, Math.min(CHUNK, seg.byteSize() - at)).asByteBuffer());
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}

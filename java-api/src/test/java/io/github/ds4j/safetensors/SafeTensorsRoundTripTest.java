package io.github.ds4j.safetensors;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.json.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafeTensorsRoundTripTest {
    @TempDir
    Path dir;

    /** Random bytes with no zero byte, so an all-zero read-back cannot pass by accident. */
    private static byte[] randomBytes(SplittableRandom rng, long n) {
        byte[] b = new byte[Math.toIntExact(n)];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (1 + rng.nextInt(255));
        }
        return b;
    }

    @Test
    void everyDtypeRoundTripsBitExactWithShapeOrderAndMetadata() {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, Tensor> in = new LinkedHashMap<>();
        Map<String, byte[]> bytes = new LinkedHashMap<>();
        // Reverse order of the enum, so header order is the map order, not an accidental sort.
        List<DType> types = new ArrayList<>(List.of(DType.values()));
        java.util.Collections.reverse(types);
        for (DType d : types) {
            if (d == DType.FP4_E2M1) {
                continue;
            }
            Shape shape = Shape.of(1 + rng.nextInt(5), 1 + rng.nextInt(7), 1 + rng.nextInt(3));
            byte[] b = randomBytes(rng, d.byteSize(shape.numel()));
            String name = "t." + d.name().toLowerCase();
            in.put(name, Tensor.fromBytes(b, d, shape));
            bytes.put(name, b);
        }
        Path file = dir.resolve("all.safetensors");
        Map<String, String> meta = Map.of("format", "pt", "note", "ünïcode \"quoted\"");
        SafeTensors.write(file, in, meta);
        try (SafeTensors f = SafeTensors.open(file)) {
            assertEquals(List.copyOf(in.keySet()), List.copyOf(f.names()));
            assertEquals(meta, f.metadata());
            for (String name : in.keySet()) {
                Tensor t = f.tensor(name);
                assertEquals(in.get(name).dtype(), t.dtype(), name);
                assertEquals(in.get(name).shape(), t.shape(), name);
                assertArrayEquals(bytes.get(name), t.toByteArray(), name);
                assertEquals(t.dtype(), f.dtype(name));
                assertEquals(t.shape(), f.shape(name));
            }
        }
        in.values().forEach(Tensor::close);
    }

    @Test
    void tensorsAreZeroCopyViewsOfTheMappingAndDieWithTheFile() {
        Path file = dir.resolve("x.safetensors");
        try (Tensor x = Tensor.fromFloats(new float[] {1.5f, -2f, 3.25f, 7f}, DType.F32, Shape.of(2, 2))) {
            SafeTensors.write(file, Map.of("x", x));
        }
        SafeTensors f = SafeTensors.open(file);
        Tensor t = f.tensor("x");
        assertTrue(t.storage().segment().isMapped());
        assertFalse(t.ownsStorage());
        assertArrayEquals(new float[] {1.5f, -2f, 3.25f, 7f}, t.toFloatArray());
        f.close();
        f.close();
        assertFalse(f.isOpen());
        assertThrows(IllegalStateException.class, t::toFloatArray);
        assertThrows(IllegalStateException.class, () -> f.tensor("x"));
    }

    @Test
    void dataSectionStartsEightByteAlignedAndOffsetsAreContiguous() throws IOException {
        Path file = dir.resolve("a.safetensors");
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("a", Tensor.fromBytes(new byte[] {1, 2, 3}, DType.U8, Shape.of(3)));
        in.put("b", Tensor.fromLongs(new long[] {5, -6}, DType.I64, Shape.of(2)));
        SafeTensors.write(file, in);
        byte[] raw = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
        @SuppressWarnings("unchecked")
        Map<String, Object> head = (Map<String, Object>) Json.parse(new String(raw, 8, (int) n, StandardCharsets.UTF_8));
        assertEquals(List.of(0L, 3L), ((Map<?, ?>) head.get("a")).get("data_offsets"));
        assertEquals(List.of(3L, 19L), ((Map<?, ?>) head.get("b")).get("data_offsets"));
        assertEquals(8 + n + 19, raw.length);
        try (SafeTensors f = SafeTensors.open(file)) {
            assertArrayEquals(new long[] {5, -6}, f.tensor("b").toLongArray());
        }
        in.values().forEach(Tensor::close);
    }

    @Test
    void scalarsAndEmptyTensorsRoundTrip() {
        Path file = dir.resolve("edge.safetensors");
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("scalar", Tensor.fromFloats(new float[] {42.5f}, DType.F32, Shape.of()));
        in.put("empty", Tensor.allocate(DType.BF16, Shape.of(0, 4)));
        in.put("empty2", Tensor.allocate(DType.I32, Shape.of(3, 0)));
        in.put("after", Tensor.fromLongs(new long[] {-7, 9}, DType.I32, Shape.of(2)));
        SafeTensors.write(file, in);
        try (SafeTensors f = SafeTensors.open(file)) {
            Tensor s = f.tensor("scalar");
            assertEquals(0, s.rank());
            assertArrayEquals(new float[] {42.5f}, s.toFloatArray());
            assertEquals(Shape.of(0, 4), f.tensor("empty").shape());
            assertEquals(0, f.tensor("empty").toFloatArray().length);
            assertEquals(Shape.of(3, 0), f.tensor("empty2").shape());
            assertArrayEquals(new long[] {-7, 9}, f.tensor("after").toLongArray());
        }
        in.values().forEach(Tensor::close);
    }

    @Test
    void emptyFileWithOnlyMetadataRoundTrips() {
        Path file = dir.resolve("none.safetensors");
        SafeTensors.write(file, Map.of(), Map.of("k", "v"));
        try (SafeTensors f = SafeTensors.open(file)) {
            assertTrue(f.names().isEmpty());
            assertEquals(Map.of("k", "v"), f.metadata());
        }
    }

    @Test
    void fp4TensorsAreStoredAsPackedI8WithHalfTheColumns() {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        byte[] packed = randomBytes(new SplittableRandom(seed), 3 * 8);
        Path file = dir.resolve("fp4.safetensors");
        try (Tensor fp4 = Tensor.fromBytes(packed, DType.FP4_E2M1, Shape.of(3, 16))) {
            SafeTensors.write(file, Map.of("w", fp4));
            try (SafeTensors f = SafeTensors.open(file)) {
                Tensor w = f.tensor("w");
                assertEquals(DType.I8, w.dtype());
                assertEquals(Shape.of(3, 8), w.shape());
                assertArrayEquals(packed, w.toByteArray());
                assertArrayEquals(fp4.toFloatArray(), w.viewAs(DType.FP4_E2M1, Shape.of(3, 16)).toFloatArray());
            }
        }
    }

    @Test
    void stridedViewsAreWrittenAsDenseTensors() {
        float[] v = new float[24];
        for (int i = 0; i < v.length; i++) {
            v[i] = i + 0.5f;
        }
        Path file = dir.resolve("view.safetensors");
        try (Tensor t = Tensor.fromFloats(v, DType.F32, Shape.of(4, 6))) {
            Tensor view = t.slice(1, 2, 5).transpose(0, 1);
            SafeTensors.write(file, Map.of("v", view));
            try (SafeTensors f = SafeTensors.open(file)) {
                assertEquals(Shape.of(3, 4), f.tensor("v").shape());
                assertArrayEquals(view.toFloatArray(), f.tensor("v").toFloatArray());
            }
        }
    }

    @Test
    void writeReplacesAnExistingFileAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("r.safetensors");
        try (Tensor a = Tensor.fromFloats(new float[] {1}, DType.F32, Shape.of(1));
             Tensor b = Tensor.fromFloats(new float[] {2, 3}, DType.F32, Shape.of(2))) {
            SafeTensors.write(file, Map.of("a", a));
            SafeTensors.write(file, Map.of("b", b));
        }
        try (SafeTensors f = SafeTensors.open(file)) {
            assertEquals(List.of("b"), List.copyOf(f.names()));
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList());
        }
    }

    @Test
    void failedWritesLeaveNoFileBehind() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        Tensor closed = Tensor.fromFloats(new float[] {1, 2}, DType.F32, Shape.of(2));
        closed.close();
        Map<String, Tensor> in = new LinkedHashMap<>();
        try (Tensor ok = Tensor.fromFloats(new float[] {1, 2}, DType.F32, Shape.of(2))) {
            in.put("ok", ok);
            in.put("closed", closed);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> SafeTensors.write(file, in));
            assertTrue(e.getMessage().contains("\"closed\""), e.getMessage());
            IllegalArgumentException r = assertThrows(IllegalArgumentException.class,
                    () -> SafeTensors.write(file, Map.of("__metadata__", ok)));
            assertTrue(r.getMessage().contains("reserved"), r.getMessage());
            // The rename fails (the target is a non-empty directory) after all data was written.
            Path blocker = dir.resolve("blocked.safetensors");
            Files.createDirectory(blocker);
            Files.writeString(blocker.resolve("keep"), "x");
            SafeTensorsException w = assertThrows(SafeTensorsException.class, () -> SafeTensors.write(blocker, Map.of("ok", ok)));
            assertTrue(w.getMessage().contains("blocked.safetensors"), w.getMessage());
            SafeTensorsException missingDir = assertThrows(SafeTensorsException.class,
                    () -> SafeTensors.write(dir.resolve("no/such/dir/x.safetensors"), Map.of("ok", ok)));
            assertTrue(missingDir.getMessage().contains("x.safetensors"), missingDir.getMessage());
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(dir.resolve("blocked.safetensors")), s.toList());
        }
    }

    @Test
    void unreadableFilesNameTheFile() throws IOException {
        Path missing = dir.resolve("missing.safetensors");
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(missing));
        assertTrue(e.getMessage().contains("missing.safetensors") && e.getMessage().contains("no such file"), e.getMessage());
        SafeTensorsException d = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(dir));
        assertTrue(d.getMessage().contains(dir.toString()), d.getMessage());
    }

    @Test
    void missingTensorIsNamedWithTheFile() {
        Path file = dir.resolve("m.safetensors");
        try (Tensor a = Tensor.fromFloats(new float[] {1}, DType.F32, Shape.of(1))) {
            SafeTensors.write(file, Map.of("a", a));
        }
        try (SafeTensors f = SafeTensors.open(file)) {
            assertFalse(f.contains("w.scale"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.tensor("w.scale"));
            assertEquals(file + " has no tensor \"w.scale\"", e.getMessage());
        }
    }

    @Test
    void readsFilesWithHeaderPaddingAndGapsWrittenByOtherTools() throws IOException {
        // Another writer's layout: unpadded keys in a different order, trailing spaces, a gap between tensors.
        String json = "{\"b\":{\"data_offsets\":[8,12],\"shape\":[2],\"dtype\":\"BF16\"},"
                + "\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"shape\":[],\"dtype\":\"F32\",\"data_offsets\":[0,4]}}   ";
        byte[] head = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + head.length + 12).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(head.length).put(head).putFloat(-0.75f).putInt(0x55555555).putShort((short) 0x3FC0).putShort((short) 0xC040);
        Path file = dir.resolve("other.safetensors");
        Files.write(file, b.array());
        try (SafeTensors f = SafeTensors.open(file)) {
            assertEquals(List.of("b", "a"), List.copyOf(f.names()));
            assertArrayEquals(new float[] {-0.75f}, f.tensor("a").toFloatArray());
            assertArrayEquals(new float[] {1.5f, -3f}, f.tensor("b").toFloatArray());
            assertEquals(0x3FC0, f.tensor("b").hostSegment().get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
        }
    }
}

package io.github.ds4j.safetensors;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.json.Json;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
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
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Hostile inputs for the reader: every case must end in a {@link SafeTensorsException} or
 * {@link IllegalArgumentException}, or open a file whose every tensor reads back inside the file.
 * Any other exception (an index out of bounds, an arithmetic overflow, a JVM crash) fails.
 */
class SafeTensorsFuzzTest {
    @TempDir
    Path dir;

    private long seed;
    private SplittableRandom rng;
    private byte[] valid;
    private int headerLength;
    private int accepted;
    private int rejected;

    @BeforeEach
    void writeValidFile() throws IOException {
        seed = System.nanoTime();
        System.out.println("seed " + seed);
        rng = new SplittableRandom(seed);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("embed.weight", Tensor.fromFloats(new float[] {1, -2, 3, -4, 5, -6}, DType.BF16, Shape.of(2, 3)));
        in.put("layers.0.attn.wq_a.weight", Tensor.fromBytes(new byte[] {0x38, (byte) 0xb8, 0x40, 0x7e}, DType.F8_E4M3, Shape.of(2, 2)));
        in.put("layers.0.attn.wq_a.scale", Tensor.fromBytes(new byte[] {127}, DType.F8_E8M0, Shape.of(1, 1)));
        in.put("layers.0.ffn.gate.tid2eid", Tensor.fromLongs(new long[] {3, 1, 2}, DType.I64, Shape.of(3, 1)));
        in.put("scalar", Tensor.fromFloats(new float[] {0.25f}, DType.F32, Shape.of()));
        in.put("empty", Tensor.allocate(DType.F16, Shape.of(0)));
        Path file = dir.resolve("valid.safetensors");
        SafeTensors.write(file, in, Map.of("format", "pt"));
        in.values().forEach(Tensor::close);
        valid = Files.readAllBytes(file);
        headerLength = (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong();
        check("the valid file itself", valid);
        assertEquals(1, accepted);
    }

    /** Opens {@code bytes} as a file; fails on anything but a clean rejection or a fully readable file. */
    private void check(String what, byte[] bytes) {
        Path file = dir.resolve("case.safetensors");
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        try (SafeTensors f = SafeTensors.open(file)) {
            for (String name : f.names()) {
                Tensor t = f.tensor(name);
                byte[] b = t.toByteArray();
                assertEquals(t.dtype().byteSize(t.numel()), b.length, name);
            }
            accepted++;
        } catch (SafeTensorsException | IllegalArgumentException e) {
            assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), "empty message for " + what);
            rejected++;
        } catch (Throwable t) {
            fail("seed " + seed + ", case " + what + ": " + t + " (expected SafeTensorsException or IllegalArgumentException)", t);
        }
    }

    private byte[] withHeader(String json, byte[] data) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length).put(h).put(data).array();
    }

    private byte[] dataSection() {
        byte[] d = new byte[valid.length - 8 - headerLength];
        System.arraycopy(valid, 8 + headerLength, d, 0, d.length);
        return d;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> header() {
        return (Map<String, Object>) Json.parse(new String(valid, 8, headerLength, StandardCharsets.UTF_8));
    }

    @Test
    void randomBytesAreRejectedCleanly() {
        for (int i = 0; i < 300; i++) {
            byte[] b = new byte[rng.nextInt(i < 100 ? 16 : 512)];
            rng.nextBytes(b);
            if (i % 3 == 0 && b.length >= 8) {
                // A plausible header length so the JSON parser sees the random bytes.
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(rng.nextInt(b.length - 7));
            }
            check("random bytes #" + i + " (" + b.length + " bytes)", b);
        }
        assertTrue(rejected >= 299, "random bytes accepted as a safetensors file: " + accepted);
    }

    @Test
    void everyTruncationIsRejected() {
        for (int len = 0; len < valid.length; len++) {
            byte[] b = new byte[len];
            System.arraycopy(valid, 0, b, 0, len);
            check("truncated at " + len, b);
        }
        // Every shorter file loses bytes of the header or of a tensor, so every one must fail.
        assertEquals(1, accepted, "a truncated file was accepted");
        assertEquals(valid.length, rejected);
    }

    @Test
    void randomByteFlipsInsideTheHeaderNeverEscape() {
        for (int i = 0; i < 1500; i++) {
            byte[] b = valid.clone();
            int flips = 1 + rng.nextInt(3);
            for (int k = 0; k < flips; k++) {
                int at = 8 + rng.nextInt(headerLength);
                b[at] = switch (rng.nextInt(4)) {
                    case 0 -> (byte) rng.nextInt(256);
                    case 1 -> (byte) "0123456789-[]{}\",:eE.".charAt(rng.nextInt(21));
                    case 2 -> (byte) (b[at] ^ (1 << rng.nextInt(8)));
                    default -> (byte) (b[at] + 1);
                };
            }
            check("byte flips #" + i, b);
        }
    }

    @Test
    void badHeaderLengthsAreRejected() {
        long[] lengths = {-1, Long.MIN_VALUE, 0, 1, headerLength + 1L, valid.length, Integer.MAX_VALUE, 1L << 40, Header.MAX_HEADER_BYTES + 1};
        for (long n : lengths) {
            byte[] b = valid.clone();
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(n);
            int before = rejected;
            check("header length " + n, b);
            assertEquals(before + 1, rejected, "header length " + n + " accepted");
        }
    }

    @Test
    void structuredHeaderMutationsAreRejectedNamingTheTensor() {
        String w = "layers.0.attn.wq_a.weight";
        Map<String, Consumer<Map<String, Object>>> cases = new LinkedHashMap<>();
        cases.put("offsets past the end", h -> entry(h, w).put("data_offsets", List.of(10L, 10L + dataSection().length)));
        cases.put("end before begin", h -> entry(h, w).put("data_offsets", List.of(16L, 12L)));
        cases.put("offsets overlapping another tensor", h -> {
            List<?> o = (List<?>) entry(h, "embed.weight").get("data_offsets");
            entry(h, w).put("data_offsets", List.of((Long) o.get(0) + 2, (Long) o.get(0) + 6));
        });
        cases.put("size not matching the shape", h -> entry(h, w).put("shape", List.of(2L, 3L)));
        cases.put("huge shape", h -> entry(h, w).put("shape", List.of(1L << 40, 1L << 40)));
        cases.put("shape overflowing a long", h -> entry(h, w).put("shape", List.of(1L << 62, 1L << 62, 16L)));
        cases.put("bytes overflowing a long", h -> entry(h, "scalar").put("shape", List.of(1L << 62)));
        cases.put("negative dimension", h -> entry(h, w).put("shape", List.of(-2L, -2L)));
        cases.put("negative offset", h -> entry(h, w).put("data_offsets", List.of(-4L, 0L)));
        cases.put("fractional dimension", h -> entry(h, w).put("shape", List.of(2.5, 1.6)));
        cases.put("dimension beyond a long", h -> entry(h, w).put("shape", List.of(1e30, 1.0)));
        cases.put("string shape", h -> entry(h, w).put("shape", "[2,2]"));
        cases.put("shape of strings", h -> entry(h, w).put("shape", List.of("2", "2")));
        cases.put("null shape", h -> entry(h, w).put("shape", null));
        cases.put("one offset", h -> entry(h, w).put("data_offsets", List.of(0L)));
        cases.put("three offsets", h -> entry(h, w).put("data_offsets", List.of(0L, 4L, 8L)));
        cases.put("object offsets", h -> entry(h, w).put("data_offsets", Map.of("begin", 0L)));
        cases.put("unknown dtype", h -> entry(h, w).put("dtype", "F8_E4M3FNUZ"));
        cases.put("numeric dtype", h -> entry(h, w).put("dtype", 8L));
        cases.put("missing dtype", h -> entry(h, w).remove("dtype"));
        cases.put("missing shape", h -> entry(h, w).remove("shape"));
        cases.put("missing offsets", h -> entry(h, w).remove("data_offsets"));
        cases.put("tensor is a list", h -> h.put(w, List.of(1L, 2L)));
        cases.put("tensor is a string", h -> h.put(w, "F32"));
        cases.put("metadata is a list", h -> h.put("__metadata__", List.of("a")));
        cases.put("metadata value is a number", h -> h.put("__metadata__", Map.of("k", 1L)));
        for (Map.Entry<String, Consumer<Map<String, Object>>> c : cases.entrySet()) {
            Map<String, Object> h = header();
            c.getValue().accept(h);
            byte[] b = withHeader(Json.write(h), dataSection());
            Path file = dir.resolve("case.safetensors");
            try {
                Files.write(file, b);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            try {
                SafeTensors.open(file).close();
                fail("seed " + seed + ": " + c.getKey() + " was accepted");
            } catch (SafeTensorsException e) {
                assertTrue(e.getMessage().startsWith(file.toString()), c.getKey() + ": " + e.getMessage());
                if (!c.getKey().startsWith("metadata")) {
                    assertTrue(e.getMessage().contains(w) || e.getMessage().contains("scalar"), c.getKey() + ": " + e.getMessage());
                }
            } catch (Throwable t) {
                fail(c.getKey() + ": " + t, t);
            }
        }
    }

    @Test
    void nonObjectAndMalformedJsonHeadersAreRejected() {
        List<String> bodies = new ArrayList<>(List.of("[]", "\"x\"", "12", "null", "{", "{\"a\":}", "{\"a\":1,\"a\":2}",
                "{}}", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}"));
        StringBuilder deep = new StringBuilder();
        deep.append("[".repeat(100_000));
        bodies.add(deep.toString());
        for (String body : bodies) {
            int before = rejected;
            check("header " + (body.length() > 20 ? body.substring(0, 20) + "..." : body), withHeader(body, new byte[8]));
            assertEquals(before + 1, rejected, body.length() > 20 ? body.substring(0, 20) : body);
        }
        // Invalid UTF-8 inside a string.
        byte[] b = withHeader("{\"__metadata__\":{\"k\":\"??\"}}", new byte[0]);
        b[8 + 22] = (byte) 0xC3;
        b[8 + 23] = (byte) 0x28;
        int before = rejected;
        check("invalid UTF-8", b);
        assertEquals(before + 1, rejected);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> entry(Map<String, Object> header, String name) {
        Map<String, Object> e = new LinkedHashMap<>((Map<String, Object>) header.get(name));
        header.put(name, e);
        return e;
    }
}

package io.github.ds4j.safetensors;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.json.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShardedSafeTensorsTest {
    @TempDir
    Path dir;

    private final Map<String, float[]> written = new LinkedHashMap<>();
    private SplittableRandom rng;

    private void seed() {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        rng = new SplittableRandom(seed);
    }

    /** Writes a shard holding {@code names}, each a random non-zero F32 tensor. */
    private void shard(String file, String... names) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String n : names) {
            float[] v = new float[2 + rng.nextInt(6)];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (rng.nextDouble(0.5, 2) * (rng.nextBoolean() ? 1 : -1));
            }
            written.put(n, v);
            m.put(n, Tensor.fromFloats(v, DType.F32, Shape.of(v.length)));
        }
        SafeTensors.write(dir.resolve(file), m);
        m.values().forEach(Tensor::close);
    }

    private void index(Map<String, String> weightMap) throws IOException {
        Files.writeString(dir.resolve(ShardedSafeTensors.INDEX_FILE),
                Json.write(Map.of("metadata", Map.of("total_size", 123), "weight_map", weightMap)));
    }

    @Test
    void indexedCheckpointOpensOnlyTheShardsThatAreUsed() throws IOException {
        seed();
        shard("model-00001-of-00003.safetensors", "embed.weight", "layers.0.attn_norm.weight");
        shard("model-00002-of-00003.safetensors", "layers.1.attn_norm.weight");
        shard("model-00003-of-00003.safetensors", "head.weight");
        Map<String, String> wm = new LinkedHashMap<>();
        wm.put("embed.weight", "model-00001-of-00003.safetensors");
        wm.put("layers.0.attn_norm.weight", "model-00001-of-00003.safetensors");
        wm.put("layers.1.attn_norm.weight", "model-00002-of-00003.safetensors");
        wm.put("head.weight", "model-00003-of-00003.safetensors");
        index(wm);
        try (ShardedSafeTensors c = ShardedSafeTensors.open(dir)) {
            assertEquals(0, c.openShardCount());
            assertEquals(wm.keySet(), c.names());
            assertTrue(c.contains("head.weight"));
            assertEquals(0, c.openShardCount());
            assertArrayEquals(written.get("layers.1.attn_norm.weight"), c.tensor("layers.1.attn_norm.weight").toFloatArray());
            assertEquals(1, c.openShardCount());
            Tensor head = c.tensor("head.weight");
            assertArrayEquals(written.get("head.weight"), head.toFloatArray());
            assertEquals(2, c.openShardCount());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.tensor("layers.9.x"));
            assertTrue(e.getMessage().contains("\"layers.9.x\""), e.getMessage());
            c.close();
            assertThrows(IllegalStateException.class, head::toFloatArray);
            assertThrows(IllegalStateException.class, () -> c.tensor("head.weight"));
        }
    }

    @Test
    void directoryWithoutIndexReadsEveryShard() {
        seed();
        shard("b.safetensors", "layers.0.ffn.gate.weight", "layers.0.ffn.gate.bias");
        shard("a.safetensors", "embed.weight");
        try (ShardedSafeTensors c = ShardedSafeTensors.open(dir)) {
            assertEquals(List.of(dir.resolve("a.safetensors"), dir.resolve("b.safetensors")), c.shards());
            assertEquals(Set.copyOf(written.keySet()), Set.copyOf(c.names()));
            for (Map.Entry<String, float[]> e : written.entrySet()) {
                assertArrayEquals(e.getValue(), c.tensor(e.getKey()).toFloatArray(), e.getKey());
            }
            assertFalse(c.contains("head.weight"));
        }
    }

    @Test
    void singleFileIsACheckpointToo() {
        seed();
        shard("model.safetensors", "x");
        try (ShardedSafeTensors c = ShardedSafeTensors.open(dir.resolve("model.safetensors"))) {
            assertArrayEquals(written.get("x"), c.tensor("x").toFloatArray());
        }
    }

    @Test
    void duplicateTensorsAcrossShardsAreRejected() {
        seed();
        shard("a.safetensors", "w");
        shard("b.safetensors", "w");
        try (ShardedSafeTensors c = ShardedSafeTensors.open(dir)) {
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> c.tensor("w"));
            assertTrue(e.getMessage().contains("\"w\"") && e.getMessage().contains("a.safetensors"), e.getMessage());
        }
    }

    @Test
    void badIndexesAreRejectedNamingTheIndexAndTensor() throws IOException {
        seed();
        shard("s1.safetensors", "a");
        index(Map.of("a", "s2.safetensors"));
        SafeTensorsException missing = assertThrows(SafeTensorsException.class, () -> ShardedSafeTensors.open(dir));
        assertTrue(missing.getMessage().contains("s2.safetensors") && missing.getMessage().contains("\"a\""), missing.getMessage());

        index(Map.of("a", "../s1.safetensors"));
        SafeTensorsException escape = assertThrows(SafeTensorsException.class, () -> ShardedSafeTensors.open(dir));
        assertTrue(escape.getMessage().contains("not a file in"), escape.getMessage());

        index(Map.of("b", "s1.safetensors"));
        try (ShardedSafeTensors c = ShardedSafeTensors.open(dir)) {
            SafeTensorsException wrong = assertThrows(SafeTensorsException.class, () -> c.tensor("b"));
            assertTrue(wrong.getMessage().contains("\"b\"") && wrong.getMessage().contains("s1.safetensors"), wrong.getMessage());
        }

        Files.writeString(dir.resolve(ShardedSafeTensors.INDEX_FILE), "{\"weight_map\": [1, 2]}");
        assertThrows(SafeTensorsException.class, () -> ShardedSafeTensors.open(dir));
        Files.writeString(dir.resolve(ShardedSafeTensors.INDEX_FILE), "{\"weight_map\": {\"a\": 7}}");
        assertThrows(SafeTensorsException.class, () -> ShardedSafeTensors.open(dir));
        Files.writeString(dir.resolve(ShardedSafeTensors.INDEX_FILE), "{\"weight_map\": ");
        assertThrows(SafeTensorsException.class, () -> ShardedSafeTensors.open(dir));
    }

    @Test
    void emptyOrMissingDirectoriesAreRejected() throws IOException {
        Path empty = Files.createDirectory(dir.resolve("empty"));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> ShardedSafeTensors.open(empty));
        assertTrue(e.getMessage().contains("no *.safetensors"), e.getMessage());
        assertThrows(SafeTensorsException.class, () -> ShardedSafeTensors.open(dir.resolve("nope")));
    }
}

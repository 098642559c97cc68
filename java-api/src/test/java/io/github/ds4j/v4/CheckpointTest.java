package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointGenerator;
import io.github.ds4j.safetensors.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    @TempDir
    Path dir;

    private static Path generate(Path dir, long seed) {
        new CheckpointGenerator(V4Config.tiny(), seed, null).write(dir);
        return dir;
    }

    @Test
    void generatedTinyCheckpointPassesValidationOfEveryLayerAndTheHead() {
        generate(dir, 7);
        try (Checkpoint ckpt = Checkpoint.open(dir, null)) {
            assertEquals(V4Config.tiny().hiddenSize(), ckpt.config().hiddenSize());
            for (int l = 0; l < ckpt.config().numLayers(); l++) {
                TensorSource src = ckpt.layer(l, Checkpoint.Part.BLOCK);
                assertTrue(src.contains("layers." + l + ".attn.wq_a.weight"));
                assertFalse(src.contains("layers." + (l + 1) + ".attn.wq_a.weight"));
            }
            ckpt.model();
            // Hash layer 0 has tid2eid with distinct experts per token; the others a bias.
            TensorSource l0 = ckpt.layer(0, Checkpoint.Part.MOE);
            long[] table = l0.tensor("layers.0.ffn.gate.tid2eid").toLongArray();
            int k = ckpt.config().expertsPerToken();
            for (int t = 0; t < table.length / k; t++) {
                Set<Long> seen = new HashSet<>();
                for (int j = 0; j < k; j++) {
                    long e = table[t * k + j];
                    assertTrue(e >= 0 && e < ckpt.config().routedExperts());
                    assertTrue(seen.add(e), "token " + t + " repeats expert " + e);
                }
            }
            assertTrue(ckpt.layer(1, Checkpoint.Part.MOE).contains("layers.1.ffn.gate.bias"));
            assertThrows(IllegalArgumentException.class, () -> l0.tensor("layers.1.ffn.gate.bias"));
        }
    }

    @Test
    void sameSeedWritesTheSameBytes() throws IOException {
        Path a = generate(dir.resolve("a"), 11);
        Path b = generate(dir.resolve("b"), 11);
        Path c = generate(dir.resolve("c"), 12);
        assertEquals(digest(a), digest(b));
        assertFalse(digest(a).equals(digest(c)));
    }

    @Test
    void wrongShapeOrMissingTensorIsNamed() throws IOException {
        generate(dir, 3);
        Path shard = shardHolding("layers.2.attn.wkv.weight");
        Map<String, Tensor> all = new HashMap<>();
        try (SafeTensors f = SafeTensors.open(shard)) {
            for (String n : f.names()) {
                all.put(n, f.tensor(n).toHost());
            }
        }
        Tensor bad = Tensor.allocate(DType.F8_E4M3, Shape.of(64, 256));
        all.put("layers.2.attn.wkv.weight", bad);
        SafeTensors.write(shard, new java.util.TreeMap<>(all));
        try (Checkpoint ckpt = Checkpoint.open(dir, null)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ckpt.layer(2, Checkpoint.Part.ATTENTION));
            assertTrue(e.getMessage().startsWith("layers.2.attn.wkv.weight: expected shape [128, 256]"), e.getMessage());
            ckpt.layer(1, Checkpoint.Part.ATTENTION);
        }
        all.remove("layers.2.attn.wkv.weight");
        all.values().forEach(Tensor::close);
    }

    private Path shardHolding(String name) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".safetensors")).toList()) {
                try (SafeTensors f = SafeTensors.open(p)) {
                    if (f.contains(name)) {
                        return p;
                    }
                }
            }
        }
        throw new AssertionError(name + " not found");
    }

    private static String digest(Path dir) throws IOException {
        StringBuilder sb = new StringBuilder();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                sb.append(p.getFileName()).append(Arrays.hashCode(Files.readAllBytes(p))).append(';');
            }
        }
        return sb.toString();
    }

    @Test
    void layerOutOfRangeIsRejected() {
        generate(dir, 5);
        try (Checkpoint ckpt = Checkpoint.open(dir, null)) {
            assertThrows(IllegalArgumentException.class, () -> ckpt.layer(99, Checkpoint.Part.BLOCK));
            assertArrayEquals(new long[] {128, 256}, ckpt.layer(0, Checkpoint.Part.ATTENTION)
                    .tensor("layers.0.attn.wkv.weight").shape().toArray());
        }
    }
}

package io.github.ds4j.cli;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointGenerator;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.safetensors.SafeTensors;
import io.github.ds4j.v4.Attention;
import io.github.ds4j.v4.Block;
import io.github.ds4j.v4.Checkpoint;
import io.github.ds4j.v4.HyperConnections;
import io.github.ds4j.v4.KvCache;
import io.github.ds4j.v4.Moe;
import io.github.ds4j.v4.TensorSource;
import io.github.ds4j.v4.V4Config;
import io.github.ds4j.v4.ref.AttentionFixtures;
import io.github.ds4j.v4.ref.HcReference;
import io.github.ds4j.v4.ref.RefBlock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ds4j layer} on checkpoints written by {@link CheckpointGenerator}: every part on window,
 * CSA and HCA layers with hash and biased routing, compared with the layer classes called directly
 * (bit for bit) and the block with the float64 {@link RefBlock}; decode steps, FP8 cache, start
 * positions, dtypes, another config, and the error paths (exit 2, the tensor named, no output).
 */
class LayerCommandTest {
    /** The tiny preset as make-checkpoint writes it: 4 layers, no MTP block. */
    static final V4Config TINY = CheckpointGenerator.withLayers(V4Config.tiny(), 4);
    static final long SEED = 1234;

    @TempDir
    static Path dir;
    static Path tiny;
    static Compute cpu;

    @BeforeAll
    static void setUp() {
        System.out.println("LayerCommandTest: checkpoint seed " + SEED);
        tiny = dir.resolve("tiny");
        new CheckpointGenerator(TINY, SEED, null).write(tiny);
        cpu = Compute.open("cpu");
    }

    @AfterAll
    static void tearDown() {
        cpu.close();
    }

    @Test
    void everyPartOnWindowCsaAndHcaLayersMatchesTheLayerClassesCalledDirectly() throws IOException {
        // Layer 0: window only, hash-routed; 1: CSA (12 entries for a top-4 at 48 tokens); 2: HCA (3 entries).
        for (int layer = 0; layer < 3; layer++) {
            for (String part : new String[] {"attn", "ffn", "block"}) {
                long seed = 100 + layer * 10L + part.length();
                Path in = input("in-" + layer + part, seed, part, 2, 48, DType.BF16);
                Path out = dir.resolve("out-" + layer + part + ".safetensors");
                Cli r = Cli.run("layer", "--checkpoint", tiny.toString(), "--layer", "" + layer, "--part", part,
                        "--input", in.toString(), "--output", out.toString(), "--device", "cpu");
                assertEquals(0, r.code(), r.toString());
                assertTrue(r.lastLine().startsWith("ok: layer " + layer + " " + part + " on cpu: 2 x 48 tokens"), r.toString());
                try (SafeTensors got = SafeTensors.open(out);
                     SafeTensors x = SafeTensors.open(in)) {
                    Tensor y = got.tensor("y");
                    assertEquals(DType.F32, y.dtype());
                    assertEquals(x.tensor("x").shape(), y.shape());
                    assertArrayEquals(direct(tiny, layer, part, x.tensor("x"), x.tensor("input_ids"), 0, KvCache.Format.BF16),
                            y.toFloatArray(), "layer " + layer + " " + part + ", seed " + seed);
                }
            }
        }
    }

    @Test
    void blockMatchesTheFloat64ReferenceOnHashAndHcaLayers() throws IOException {
        for (int layer : new int[] {0, 2}) {
            long seed = 200 + layer;
            Path in = input("ref-" + layer, seed, "block", 1, 40, DType.BF16);
            Path out = dir.resolve("ref-out-" + layer + ".safetensors");
            Cli r = Cli.run("layer", "--checkpoint", tiny.toString(), "--layer", "" + layer, "--part", "block",
                    "--input", in.toString(), "--output", out.toString(), "--decode-steps", "5");
            assertEquals(0, r.code(), r.toString());
            try (SafeTensors got = SafeTensors.open(out);
                 SafeTensors x = SafeTensors.open(in);
                 Checkpoint ckpt = Checkpoint.open(tiny, null)) {
                TensorSource src = ckpt.layer(layer, Checkpoint.Part.BLOCK);
                Map<String, Tensor> weights = new HashMap<>();
                for (CheckpointLayout.Entry e : new CheckpointLayout(ckpt.config()).block(layer)) {
                    weights.put(e.name(), src.tensor(e.name()));
                }
                double[][][] streams = streams(x.tensor("x"));
                // The attention input as this layer's mHC computed it: within rounding of the
                // reference's (the mHC tests check that), it keeps one-ulp differences from being
                // amplified through the KV rows' FP8 steps.
                double[][] attnIn;
                try (HyperConnections.Pre pre = HyperConnections.load(cpu, TINY, layer, HyperConnections.Site.ATTENTION, src)
                        .pre(x.tensor("x"))) {
                    attnIn = rows(pre.input().toFloatArray(), TINY.hiddenSize());
                }
                RefBlock.Result ref = new RefBlock(TINY, layer, weights).run(streams, x.tensor("input_ids").toLongArray(), 2e-2, attnIn);
                double[][] y = rows(got.tensor("y").toFloatArray(), TINY.hcMult() * TINY.hiddenSize());
                double sum = 0;
                for (int t = 0; t < y.length; t++) {
                    double err = AttentionFixtures.relError(y[t], HcReference.flat(ref.out()[t]));
                    sum += err;
                    assertTrue(err < 8e-2, "layer " + layer + ", token " + t + ": relative error " + err);
                }
                System.out.printf("layer block vs float64: layer %d, mean token error %.2e%n", layer, sum / y.length);
                assertTrue(sum / y.length < 4e-3, "mean relative error " + sum / y.length);
            }
        }
    }

    @Test
    void decodeStepsGiveThePrefillResultWithinRounding() throws IOException {
        for (int layer : new int[] {1, 2, 3}) {
            for (String part : new String[] {"attn", "block"}) {
                Path in = input("dec-" + layer + part, 300 + layer, part, 2, 44, DType.BF16);
                float[] prefill = runLayer(in, layer, part);
                float[] decode = runLayer(in, layer, part, "--decode-steps", "8");
                int row = Math.toIntExact(TINY.hiddenSize() * (part.equals("block") ? TINY.hcMult() : 1L));
                double[][] a = rows(prefill, row);
                double[][] b = rows(decode, row);
                for (int t = 0; t < a.length; t++) {
                    // The same math in another order: a bf16 step of the row's largest values at most.
                    assertTrue(maxError(b[t], a[t]) <= 0x1p-6, "layer " + layer + " " + part + ", row " + t + ": decode differs by "
                            + maxError(b[t], a[t]));
                }
            }
        }
    }

    @Test
    void fp8KvCacheGivesTheBf16ResultWithinFp8Tolerance() throws IOException {
        for (int layer : new int[] {0, 1, 2}) {
            Path in = input("fp8-" + layer, 400 + layer, "attn", 1, 40, DType.BF16);
            double[][] bf16 = rows(runLayer(in, layer, "attn", "--decode-steps", "6"), TINY.hiddenSize());
            double[][] fp8 = rows(runLayer(in, layer, "attn", "--decode-steps", "6", "--kv-cache", "fp8"), TINY.hiddenSize());
            for (int t = 0; t < bf16.length; t++) {
                // The nope dims were FP8-simulated before they reach the cache, so the FP8 store keeps them.
                assertTrue(AttentionFixtures.relError(fp8[t], bf16[t]) <= 1e-3, "layer " + layer + ", row " + t + ": " + AttentionFixtures.relError(fp8[t], bf16[t]));
            }
        }
    }

    @Test
    void startPosBeginsTheSequencesThereAsTheCacheDoes() throws IOException {
        for (int layer : new int[] {0, 1, 2}) {
            for (String part : new String[] {"attn", "block"}) {
                Path in = input("pos-" + layer + part, 500 + layer, part, 2, 30, DType.BF16);
                float[] got = runLayer(in, layer, part, "--start-pos", "37", "--decode-steps", "3");
                try (SafeTensors x = SafeTensors.open(in)) {
                    float[] want = direct(tiny, layer, part, x.tensor("x"), x.tensor("input_ids"), 37, KvCache.Format.BF16);
                    double[][] a = rows(want, want.length / 60);
                    double[][] b = rows(got, want.length / 60);
                    for (int t = 0; t < a.length; t++) {
                        assertTrue(maxError(b[t], a[t]) <= 0x1p-6, "layer " + layer + " " + part + ", row " + t);
                    }
                }
            }
        }
    }

    @Test
    void outputDtypeAndF16OrF32InputsAreHonoured() throws IOException {
        // Values that F16, BF16 and F32 all hold exactly: the dtype of x decides only the compute dtype.
        Path bf16In = input("dt-bf16", 600, "attn", 1, 20, DType.BF16);
        Path f16In = input("dt-f16", 600, "attn", 1, 20, DType.F16);
        Path f32In = input("dt-f32", 600, "attn", 1, 20, DType.F32);
        Path out = dir.resolve("dt-out.safetensors");
        Cli r = Cli.run("layer", "--checkpoint", tiny.toString(), "--layer", "1", "--part", "attn", "--input", bf16In.toString(),
                "--output", out.toString(), "--out-dtype", "bf16");
        assertEquals(0, r.code(), r.toString());
        float[] f32FromBf16 = runLayer(bf16In, 1, "attn");
        try (SafeTensors got = SafeTensors.open(out)) {
            assertEquals(DType.BF16, got.dtype("y"));
            // A bf16 computation written as bf16 or f32 holds the same values.
            assertArrayEquals(f32FromBf16, got.tensor("y").toFloatArray());
        }
        assertArrayEquals(runLayer(f32In, 1, "attn"), runLayer(f16In, 1, "attn"), "F16 input computes as F32");
    }

    @Test
    void anotherConfigWorksAndOnlyTheLayersTensorsAreNeeded() throws IOException {
        // Sizes unlike tiny's: hidden 384, 2 streams, 2 heads of 128, window 8, ratios 8 and 4.
        V4Config c = new V4Config(384, 2, 2, 128, 64, 256, 1, 128, 8, 2, 64, 2, List.of(8, 4, 0),
                4, 1, 2, 256, 1, 2.5, 10.0, 2, 20, 1e-6, 10000, 160000, new RopeSpec.Yarn(16, 65536, 32, 1), 1e-6, 300, 4096, 0);
        Path full = dir.resolve("other");
        new CheckpointGenerator(c, 77, null).write(full);
        // A folder with config.json and a single file holding layer 1's block and nothing else.
        Path only = dir.resolve("only-layer-1");
        Files.createDirectories(only);
        Files.copy(full.resolve("config.json"), only.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(full, null)) {
            Map<String, Tensor> subset = new LinkedHashMap<>();
            TensorSource src = ckpt.layer(1, Checkpoint.Part.BLOCK);
            for (CheckpointLayout.Entry e : new CheckpointLayout(ckpt.config()).block(1)) {
                subset.put(e.name(), src.tensor(e.name()));
            }
            SafeTensors.write(only.resolve("layer1.safetensors"), subset);
        }
        Path in = dir.resolve("other-in.safetensors");
        SplittableRandom rng = new SplittableRandom(78);
        try (Tensor x = random(rng, DType.BF16, Shape.of(1, 19, 2, 384));
             Tensor ids = randomIds(rng, 1, 19, 300)) {
            SafeTensors.write(in, Map.of("x", x, "input_ids", ids));
        }
        Path out = dir.resolve("other-out.safetensors");
        Cli r = Cli.run("layer", "--checkpoint", only.toString(), "--layer", "1", "--part", "block", "--input", in.toString(),
                "--output", out.toString(), "--decode-steps", "2");
        assertEquals(0, r.code(), r.toString());
        try (SafeTensors got = SafeTensors.open(out);
             SafeTensors x = SafeTensors.open(in)) {
            assertEquals(Shape.of(1, 19, 2, 384), got.shape("y"));
            float[] want = direct(full, 1, "block", x.tensor("x"), x.tensor("input_ids"), 0, KvCache.Format.BF16);
            double[][] a = rows(want, 768);
            double[][] b = rows(got.tensor("y").toFloatArray(), 768);
            for (int t = 0; t < a.length; t++) {
                assertTrue(maxError(b[t], a[t]) <= 0x1p-6, "row " + t);
            }
        }
        r = Cli.run("layer", "--checkpoint", only.toString(), "--layer", "0", "--part", "block", "--input", in.toString(),
                "--output", dir.resolve("other-out0.safetensors").toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.lastLine().startsWith("error: layers.0.") && r.lastLine().contains("missing from the checkpoint"), r.toString());
    }

    @Test
    void badInputsExitTwoNamingTheTensorAndWriteNothing() throws IOException {
        Path good = input("bad-good", 700, "attn", 2, 6, DType.BF16);
        Path noIds = dir.resolve("bad-noids.safetensors");
        Path wrongIds = dir.resolve("bad-wrongids.safetensors");
        Path outOfVocab = dir.resolve("bad-vocab.safetensors");
        Path streams = input("bad-streams", 701, "block", 2, 6, DType.BF16);
        SplittableRandom rng = new SplittableRandom(702);
        try (SafeTensors g = SafeTensors.open(good);
             Tensor ids32 = randomIds(rng, 2, 5, TINY.vocabSize());
             Tensor big = Tensor.fromLongs(new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 5000}, DType.I64, Shape.of(2, 6))) {
            SafeTensors.write(noIds, Map.of("x", g.tensor("x")));
            SafeTensors.write(wrongIds, Map.of("x", g.tensor("x"), "input_ids", ids32));
            SafeTensors.write(outOfVocab, Map.of("x", g.tensor("x"), "input_ids", big));
        }
        String ck = tiny.toString();
        assertError("input_ids: missing from", "layer", "--checkpoint", ck, "--layer", "0", "--part", "ffn", "--input", noIds.toString());
        assertError("input_ids: missing from", "layer", "--checkpoint", ck, "--layer", "0", "--part", "block", "--input", streams.toString()
                .replace("bad-streams", "bad-streams-noids"));
        assertError("input_ids: expected I64 or I32 [2, 6]", "layer", "--checkpoint", ck, "--layer", "1", "--part", "ffn",
                "--input", wrongIds.toString());
        assertError("input_ids: id 5000 at [1, 5] is outside the vocabulary 0..1023", "layer", "--checkpoint", ck, "--layer", "0",
                "--part", "ffn", "--input", outOfVocab.toString());
        assertError("x: expected [B, S, 4, 256] (hc_mult, hidden_size) for --part block, got BF16 [2, 6, 256]", "layer",
                "--checkpoint", ck, "--layer", "1", "--part", "block", "--input", good.toString());
        assertError("x: expected [B, S, 256] (hidden_size) for --part attn, got BF16 [2, 6, 4, 256]", "layer",
                "--checkpoint", ck, "--layer", "1", "--part", "attn", "--input", streams.toString());
        assertError("--layer: expected 0..3 (num_hidden_layers 4, no MTP block), got 4", "layer", "--checkpoint", ck, "--layer", "4",
                "--part", "attn", "--input", good.toString());
        assertError("--layer: expected 0..3", "layer", "--checkpoint", ck, "--layer", "-1", "--part", "attn", "--input", good.toString());
        assertError("checkpoint: " + dir.resolve("nowhere") + " is not a directory", "layer", "--checkpoint", dir.resolve("nowhere").toString(),
                "--layer", "0", "--part", "attn", "--input", good.toString());
        assertError("has no tensor \"x\"", "layer", "--checkpoint", ck, "--layer", "0", "--part", "attn", "--input", fileWithoutX());
        assertError("--decode-steps: 7 is more than the 6 tokens of x", "layer", "--checkpoint", ck, "--layer", "1", "--part", "attn",
                "--input", good.toString(), "--decode-steps", "7");
        assertError("--part: expected attn, ffn or block", "layer", "--checkpoint", ck, "--layer", "1", "--part", "moe",
                "--input", good.toString());
        assertError("--kv-cache: expected bf16 or fp8", "layer", "--checkpoint", ck, "--layer", "1", "--part", "attn",
                "--input", good.toString(), "--kv-cache", "int8");
        assertError("--start-pos: must be >= 0", "layer", "--checkpoint", ck, "--layer", "1", "--part", "attn",
                "--input", good.toString(), "--start-pos", "-3");
    }

    @Test
    void anAcceleratorWithoutLayerKernelsIsRefusedByNameAndPassedOverByAuto() throws IOException {
        Path in = input("dev", 800, "attn", 1, 4, DType.BF16);
        Path out = dir.resolve("dev-out.safetensors");
        Cli auto = Cli.run("layer", "--checkpoint", tiny.toString(), "--layer", "0", "--part", "attn", "--input", in.toString(),
                "--output", out.toString(), "--device", "auto");
        assertEquals(0, auto.code(), auto.toString());
        assertTrue(auto.lastLine().contains(" on cpu: "), auto.toString());
        Files.deleteIfExists(out);
        Cli cuda = Cli.run("layer", "--checkpoint", tiny.toString(), "--layer", "0", "--part", "attn", "--input", in.toString(),
                "--output", out.toString(), "--device", "cuda");
        // Either there is no GPU (the device is absent) or it has no layer kernels yet: both exit 2.
        assertEquals(2, cuda.code(), cuda.toString());
        assertTrue(cuda.lastLine().startsWith("error: "), cuda.toString());
        assertFalse(Files.exists(out));
    }

    // ---- helpers ----

    private void assertError(String message, String... args) {
        Path out = dir.resolve("must-not-exist.safetensors");
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--output", out.toString()));
        Cli r = Cli.run(all.toArray(String[]::new));
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.lastLine().startsWith("error: ") && r.lastLine().contains(message), "expected \"" + message + "\" in:\n" + r);
        assertFalse(Files.exists(out), "no output after an error");
    }

    private String fileWithoutX() throws IOException {
        Path p = dir.resolve("bad-nox.safetensors");
        try (Tensor ids = Tensor.fromLongs(new long[] {1, 2}, DType.I64, Shape.of(1, 2))) {
            SafeTensors.write(p, Map.of("input_ids", ids));
        }
        return p.toString();
    }

    /** Runs the CLI on the tiny checkpoint with defaults plus {@code flags}; returns y as f32. */
    static float[] runLayer(Path in, int layer, String part, String... flags) {
        Path out = dir.resolve("run-" + System.nanoTime() + ".safetensors");
        List<String> args = new ArrayList<>(List.of("layer", "--checkpoint", tiny.toString(), "--layer", "" + layer, "--part", part,
                "--input", in.toString(), "--output", out.toString()));
        args.addAll(List.of(flags));
        Cli r = Cli.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.toString());
        try (SafeTensors f = SafeTensors.open(out)) {
            return f.tensor("y").toFloatArray();
        }
    }

    /** The part called directly through the library on x and ids at once, from position {@code start}. */
    static float[] direct(Path ckptDir, int layer, String part, Tensor x, Tensor ids, long start, KvCache.Format format) {
        try (Checkpoint ckpt = Checkpoint.open(ckptDir, null)) {
            V4Config c = ckpt.config();
            int batch = Math.toIntExact(x.dim(0));
            long seq = x.dim(1);
            switch (part) {
                case "attn" -> {
                    try (Attention attn = Attention.load(cpu, c, layer, ckpt.layer(layer, Checkpoint.Part.ATTENTION));
                         KvCache cache = attn.newCache(batch, start + seq, format)) {
                        cache.startAt(start);
                        try (Tensor y = attn.forward(x, start, cache)) {
                            return y.toFloatArray();
                        }
                    }
                }
                case "ffn" -> {
                    try (Tensor y = Moe.load(cpu, c, layer, ckpt.layer(layer, Checkpoint.Part.MOE)).forward(x, ids)) {
                        return y.toFloatArray();
                    }
                }
                default -> {
                    try (Block block = Block.load(cpu, c, layer, ckpt.layer(layer, Checkpoint.Part.BLOCK));
                         KvCache cache = block.newCache(batch, start + seq, format)) {
                        cache.startAt(start);
                        try (Tensor y = block.forward(x, ids, cache)) {
                            return y.toFloatArray();
                        }
                    }
                }
            }
        }
    }

    /** Writes x (unit Gaussian, rounded to what F16 and BF16 both hold) and input_ids for a part. */
    static Path input(String name, long seed, String part, int batch, int seq, DType dtype) throws IOException {
        SplittableRandom rng = new SplittableRandom(seed);
        Shape shape = part.equals("block") ? Shape.of(batch, seq, TINY.hcMult(), TINY.hiddenSize()) : Shape.of(batch, seq, TINY.hiddenSize());
        Path p = dir.resolve(name + ".safetensors");
        try (Tensor x = random(rng, dtype, shape);
             Tensor ids = randomIds(rng, batch, seq, TINY.vocabSize())) {
            SafeTensors.write(p, Map.of("x", x, "input_ids", ids));
        }
        if (part.equals("block")) {
            // The same streams without ids, for the error tests.
            try (SafeTensors f = SafeTensors.open(p)) {
                SafeTensors.write(dir.resolve(name + "-noids.safetensors"), Map.of("x", f.tensor("x")));
            }
        }
        return p;
    }

    static Tensor random(SplittableRandom rng, DType dtype, Shape shape) {
        float[] v = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < v.length; i++) {
            // A bf16 value at least 2^-10 in size: exact in F16, BF16 and F32 alike.
            float g = (float) rng.nextGaussian();
            g = Math.abs(g) < 0x1p-10f ? Math.copySign(0x1p-10f, g) : g;
            v[i] = Float.intBitsToFloat(Float.floatToRawIntBits(g) & 0xFFFF0000);
        }
        return Tensor.fromFloats(v, dtype, shape);
    }

    static Tensor randomIds(SplittableRandom rng, int batch, int seq, int vocab) {
        long[] v = new long[batch * seq];
        for (int i = 0; i < v.length; i++) {
            v[i] = rng.nextInt(vocab);
        }
        return Tensor.fromLongs(v, DType.I64, Shape.of(batch, seq));
    }

    static double[][] rows(float[] v, int cols) {
        double[][] out = new double[v.length / cols][cols];
        for (int i = 0; i < v.length; i++) {
            out[i / cols][i % cols] = v[i];
        }
        return out;
    }

    /** x [1, T, hc, D] as [T][hc][D]. */
    static double[][][] streams(Tensor x) {
        int n = Math.toIntExact(x.dim(2));
        int d = Math.toIntExact(x.dim(3));
        double[][] r = rows(x.toFloatArray(), d);
        double[][][] out = new double[r.length / n][n][];
        for (int i = 0; i < r.length; i++) {
            out[i / n][i % n] = r[i];
        }
        return out;
    }

    /** max |a − r| / max |r|. */
    static double maxError(double[] a, double[] r) {
        double max = 0;
        double scale = 0;
        for (int i = 0; i < r.length; i++) {
            max = Math.max(max, Math.abs(a[i] - r[i]));
            scale = Math.max(scale, Math.abs(r[i]));
        }
        return max / Math.max(scale, 1e-300);
    }
}

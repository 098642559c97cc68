package io.github.ds4j.cli;

import io.github.ds4j.internal.checkpoint.CheckpointGenerator;
import io.github.ds4j.v4.V4Config;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ds4j demo}, the main job, on tiny checkpoints. */
class DemoCommandTest {
    private static final Pattern GREEDY = Pattern.compile("greedy tokens: \\[([0-9, ]*)] then ([0-9]+)");
    private static final Pattern CHECKSUM = Pattern.compile("logits checksum \\(\\d+ rows of \\d+\\): (sum \\S+, fnv64 [0-9a-f]{16})");

    @TempDir
    Path dir;

    @Test
    void writesATinyCheckpointRunsEveryPartAndDeletesIt() {
        Cli r = Cli.run("demo", "--prompt-tokens", "37", "--decode-steps", "3", "--warmup", "0", "--seed", "5");
        assertEquals(0, r.code(), r.toString());
        for (String part : List.of("embedding", "attention", "MoE", "mHC", "head", "total", "tokens/s")) {
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith(part + " ")), part + " timing missing:\n" + r);
        }
        assertTrue(r.out().contains("4 of 4 layers (compress ratios [0, 4, 16, 4])"), r.toString());
        assertTrue(GREEDY.matcher(r.out()).find(), r.toString());
        assertTrue(CHECKSUM.matcher(r.out()).find(), r.toString());
        assertTrue(r.lastLine().startsWith("ok: demo on cpu: 4 layers, 37-token prompt + 3 decoded"), r.toString());
        Matcher m = Pattern.compile("written to (\\S+) in").matcher(r.out());
        assertTrue(m.find(), r.toString());
        assertFalse(Files.exists(Path.of(m.group(1))), "the temporary checkpoint is deleted");
        // Same seed, same build, same CPU path: the same tokens and bits, warm-up or not.
        Cli again = Cli.run("demo", "--prompt-tokens", "37", "--decode-steps", "3", "--warmup", "1", "--seed", "5");
        assertEquals(0, again.code(), again.toString());
        assertEquals(group(CHECKSUM, r.out(), 1), group(CHECKSUM, again.out(), 1));
    }

    @Test
    void greedyDecodingAgreesWithAPrefillOfThePromptAndTheGeneratedTokens() {
        Path ckpt = dir.resolve("tiny");
        new CheckpointGenerator(CheckpointGenerator.withLayers(V4Config.tiny(), 3), 9, null).write(ckpt);
        String prompt = "17,250,3,999,42,42,7,512,64,128,1,2,3,4,5,6,7,8,9,10,300,301,302";
        Cli decode = Cli.run("demo", "--checkpoint", ckpt.toString(), "--prompt", prompt, "--decode-steps", "4", "--warmup", "0",
                "--kv-cache", "fp8");
        assertEquals(0, decode.code(), decode.toString());
        assertTrue(decode.out().contains("3 of 3 layers"), decode.toString());
        String generated = group(GREEDY, decode.out(), 1).replace(" ", "");
        String[] g = generated.split(",");
        // The first three generated tokens appended to the prompt: one prefill must predict the fourth.
        Cli prefill = Cli.run("demo", "--checkpoint", ckpt.toString(), "--prompt", prompt + "," + g[0] + "," + g[1] + "," + g[2],
                "--decode-steps", "0", "--warmup", "0");
        assertEquals(0, prefill.code(), prefill.toString());
        assertEquals(g[3], group(GREEDY, prefill.out(), 2), decode.out() + "\n" + prefill.out());
        assertTrue(Files.exists(ckpt.resolve("config.json")), "a given checkpoint is left alone");
    }

    @Test
    void badFlagsAndAnAbsentDeviceExitTwo() {
        Cli r = Cli.run("demo", "--layers", "9", "--warmup", "0");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.lastLine().startsWith("error: --layers: expected 1..4, got 9"), r.toString());
        r = Cli.run("demo", "--prompt", "1,2,5000", "--warmup", "0");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.lastLine().startsWith("error: --prompt: token id 5000 is outside the vocabulary 0..1023"), r.toString());
        r = Cli.run("demo", "--checkpoint", dir.resolve("nowhere").toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.lastLine().contains("is not a directory"), r.toString());
        // No GPU here (the device is absent), or one without layer kernels yet: exit 2 either way.
        r = Cli.run("demo", "--device", "cuda", "--warmup", "0");
        assertEquals(2, r.code(), r.toString());
    }

    private static String group(Pattern p, String text, int group) {
        Matcher m = p.matcher(text);
        assertTrue(m.find(), p + " not in:\n" + text);
        return m.group(group);
    }
}

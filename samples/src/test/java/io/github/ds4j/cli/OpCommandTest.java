package io.github.ds4j.cli;

import io.github.ds4j.Backends;
import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.DeviceKind;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.RandomWeights;
import io.github.ds4j.safetensors.SafeTensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every op of cli.md run in-process on files written with the safetensors writer, its outputs
 * compared bit for bit with {@link Compute} on the CPU given the same inputs and flags.
 */
class OpCommandTest {
    @TempDir
    Path dir;

    private RandomWeights rnd;
    private Compute cpu;
    private final List<Tensor> open = new ArrayList<>();

    @BeforeEach
    void setUp() {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        rnd = new RandomWeights(seed);
        cpu = Compute.open("cpu");
    }

    @AfterEach
    void tearDown() {
        open.forEach(Tensor::close);
        cpu.close();
    }

    private Tensor keep(Tensor t) {
        open.add(t);
        return t;
    }

    private Tensor real(DType d, long... shape) {
        return keep(rnd.real(d, Shape.of(shape), 1.5));
    }

    private Path input(Map<String, Tensor> tensors) {
        Path p = dir.resolve("in.safetensors");
        SafeTensors.write(p, tensors);
        return p;
    }

    private static Map<String, Tensor> map(Object... kv) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], (Tensor) kv[i + 1]);
        }
        return m;
    }

    /** Runs the op and returns its output file, after checking the exit code and the ok line. */
    private Path runOk(String op, Path in, String... flags) {
        Path out = dir.resolve("out.safetensors");
        List<String> args = new ArrayList<>(List.of("op", op, "--input", in.toString(), "--output", out.toString(), "--device", "cpu"));
        args.addAll(List.of(flags));
        Cli r = Cli.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.lastLine().startsWith("ok: op " + op + " on cpu"), r.toString());
        assertTrue(r.err().lines().noneMatch(l -> l.startsWith("error")), r.toString());
        return out;
    }

    /** The output tensor equals {@code expected} in dtype, shape and every byte. */
    private static void assertSame(Path out, String name, Tensor expected) {
        try (SafeTensors f = SafeTensors.open(out)) {
            Tensor t = f.tensor(name);
            assertEquals(expected.dtype(), t.dtype(), name);
            assertEquals(expected.shape(), t.shape(), name);
            assertArrayEquals(expected.toByteArray(), t.toByteArray(), name);
        }
    }

    @Test
    void actQuantWritesE4m3CodesAndScalesInEitherScaleDtype() {
        Tensor x = real(DType.BF16, 5, 256);
        Path in = input(map("x", x));
        Path out = runOk("act-quant", in);
        try (BlockScaled q = cpu.quantizeActivations(x, 128, DType.F8_E8M0)) {
            assertSame(out, "q", q.values());
            assertSame(out, "s", q.scales());
        }
        out = runOk("act-quant", in, "--block", "64", "--scale", "f32");
        try (BlockScaled q = cpu.quantizeActivations(x, 64, DType.F32)) {
            assertEquals(Shape.of(5, 4), q.scales().shape());
            assertSame(out, "q", q.values());
            assertSame(out, "s", q.scales());
        }
    }

    @Test
    void fp8AndFp4SimulationKeepTheInputDtypeAndHonourTheBlock() {
        Tensor x = real(DType.F32, 3, 128);
        Path in = input(map("x", x));
        try (Tensor y = cpu.fp8Simulate(x, 64)) {
            assertSame(runOk("fp8-sim", in), "y", y);
        }
        try (Tensor y = cpu.fp8Simulate(x, 128); Tensor other = cpu.fp8Simulate(x, 64)) {
            assertNotEquals(List.of(other.toFloatArray()), List.of(y.toFloatArray()));
            assertSame(runOk("fp8-sim", in, "--block", "128"), "y", y);
        }
        try (Tensor y = cpu.fp4Simulate(x, 32)) {
            assertSame(runOk("fp4-sim", in), "y", y);
        }
        try (Tensor y = cpu.fp4Simulate(x, 16)) {
            assertSame(runOk("fp4-sim", in, "--block", "16"), "y", y);
        }
    }

    @Test
    void f16InputsAreAcceptedAndGiveF16Outputs() {
        Tensor x = real(DType.F16, 4, 64);
        Path in = input(map("x", x));
        try (Tensor x32 = Tensor.fromFloats(x.toFloatArray(), DType.F32, x.shape());
             Tensor y32 = cpu.fp8Simulate(x32, 64);
             Tensor y = Tensor.fromFloats(y32.toFloatArray(), DType.F16, x.shape())) {
            assertSame(runOk("fp8-sim", in), "y", y);
        }
    }

    @Test
    void fp8GemmQuantizesXAndUsesTheBlockScaledWeight() {
        Tensor x = real(DType.BF16, 3, 256);
        Tensor[] w = rnd.fp8(200, 256, 0.05);
        keep(w[0]);
        keep(w[1]);
        Path in = input(map("x", x, "w", w[0], "w.scale", w[1]));
        try (Tensor y = cpu.gemm(x, BlockScaled.fp8Weight(w[0], w[1]), DType.BF16)) {
            assertSame(runOk("fp8-gemm", in), "y", y);
        }
        try (Tensor y = cpu.gemm(x, BlockScaled.fp8Weight(w[0], w[1]), DType.F32)) {
            assertSame(runOk("fp8-gemm", in, "--out-dtype", "f32"), "y", y);
        }
    }

    @Test
    void fp4GemmReadsPackedI8WeightsWithOneBy32Scales() {
        Tensor x = real(DType.F32, 2, 256);
        Tensor[] w = rnd.mxfp4(48, 256, 0.05);
        keep(w[0]);
        keep(w[1]);
        Path in = input(map("x", x, "w", w[0], "w.scale", w[1]));
        BlockScaled wq = BlockScaled.mxfp4Weight(w[0].viewAs(DType.FP4_E2M1, Shape.of(48, 256)), w[1]);
        try (Tensor y = cpu.gemm(x, wq, DType.BF16)) {
            assertSame(runOk("fp4-gemm", in), "y", y);
        }
    }

    @Test
    void linearAcceptsBf16AndF32Weights() {
        Tensor x = real(DType.BF16, 3, 40);
        Tensor w = real(DType.F32, 24, 40);
        Path in = input(map("x", x, "w", w));
        try (Tensor y = cpu.linear(x, w, DType.BF16)) {
            assertSame(runOk("linear", in), "y", y);
        }
        Tensor wb = real(DType.BF16, 24, 40);
        in = input(map("x", x, "w", wb));
        try (Tensor y = cpu.linear(x, wb, DType.F32)) {
            assertSame(runOk("linear", in, "--out-dtype", "f32"), "y", y);
        }
    }

    @Test
    void rmsnormUsesTheWeightAndEps() {
        Tensor x = real(DType.BF16, 4, 96);
        Tensor weight = real(DType.F32, 96);
        Path in = input(map("x", x, "weight", weight));
        try (Tensor y = cpu.rmsNorm(x, weight, 1e-6f)) {
            assertSame(runOk("rmsnorm", in), "y", y);
        }
        try (Tensor y = cpu.rmsNorm(x, weight, 0.5f)) {
            assertSame(runOk("rmsnorm", in, "--eps", "0.5"), "y", y);
        }
    }

    @Test
    void ropeHonoursStartPositionBaseYarnAndInverse() {
        Tensor x = real(DType.F32, 5, 3, 64);
        Path in = input(map("x", x));
        try (Tensor y = cpu.rope(x, RopeSpec.plain(64, 10000), 0)) {
            assertSame(runOk("rope", in), "y", y);
        }
        RopeSpec yarn = new RopeSpec(64, 160000, new RopeSpec.Yarn(16, 65536, 32, 1));
        try (Tensor y = cpu.rope(x, yarn, 1000)) {
            assertSame(runOk("rope", in, "--start-pos", "1000", "--base", "160000", "--yarn", "16,65536,32,1"), "y", y);
        }
        try (Tensor y = cpu.inverseRope(x, RopeSpec.plain(64, 10000), 7)) {
            assertSame(runOk("rope", in, "--start-pos", "7", "--inverse"), "y", y);
        }
    }

    @Test
    void hadamardAndSwiglu() {
        Tensor x = real(DType.BF16, 3, 128);
        try (Tensor y = cpu.hadamard(x)) {
            assertSame(runOk("hadamard", input(map("x", x))), "y", y);
        }
        Tensor gate = keep(rnd.real(DType.F32, Shape.of(4, 32), 8));
        Tensor up = keep(rnd.real(DType.F32, Shape.of(4, 32), 8));
        Path in = input(map("gate", gate, "up", up));
        try (Tensor y = cpu.swiglu(gate, up, 10)) {
            assertSame(runOk("swiglu", in), "y", y);
        }
        try (Tensor y = cpu.swiglu(gate, up, 0); Tensor clamped = cpu.swiglu(gate, up, 10)) {
            assertNotEquals(List.of(clamped.toFloatArray()), List.of(y.toFloatArray()));
            assertSame(runOk("swiglu", in, "--limit", "0"), "y", y);
        }
    }

    @Test
    void autoDeviceIsTheDefaultAndRunsHere() {
        Path in = input(map("x", real(DType.F32, 2, 64)));
        Path out = dir.resolve("auto.safetensors");
        Cli r = Cli.run("op", "hadamard", "--input", in.toString(), "--output", out.toString());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.lastLine().startsWith("ok: op hadamard on "), r.toString());
        assertTrue(Files.exists(out));
    }

    // ---- errors: exit code 2, a message naming the tensor and what was expected, no output ----

    private void assertError(String expectedInMessage, String... args) throws IOException {
        Path out = dir.resolve("out.safetensors");
        Files.deleteIfExists(out);
        Cli r = Cli.run(args);
        assertEquals(2, r.code(), r.toString());
        String last = r.lastLine();
        assertTrue(last.startsWith("error: "), r.toString());
        assertTrue(last.contains(expectedInMessage), "expected \"" + expectedInMessage + "\" in: " + last);
        assertFalse(Files.exists(out), "an output file was left behind");
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "a temporary file was left behind");
        }
    }

    private String[] op(String name, Path in, String... flags) {
        List<String> args = new ArrayList<>(List.of("op", name, "--input", in.toString(), "--output",
                dir.resolve("out.safetensors").toString(), "--device", "cpu"));
        args.addAll(List.of(flags));
        return args.toArray(String[]::new);
    }

    @Test
    void missingTensorsAreNamedWithWhatTheOpReads() throws IOException {
        Tensor x = real(DType.BF16, 2, 256);
        Tensor[] w = rnd.fp8(128, 256, 0.05);
        keep(w[0]);
        keep(w[1]);
        Path in = input(map("x", x, "w", w[0]));
        assertError("has no tensor \"w.scale\" (op fp8-gemm reads x [M, K], w F8_E4M3 [N, K], w.scale F8_E8M0", op("fp8-gemm", in));
        assertError("has no tensor \"weight\"", op("rmsnorm", in));
        assertError("has no tensor \"gate\"", op("swiglu", in));
    }

    @Test
    void wrongDtypesAreNamed() throws IOException {
        Tensor x = real(DType.BF16, 2, 256);
        Tensor wb = real(DType.BF16, 128, 256);
        Tensor[] w = rnd.fp8(128, 256, 0.05);
        keep(w[0]);
        keep(w[1]);
        assertError("w: expected F8_E4M3 [N, 256]", op("fp8-gemm", input(map("x", x, "w", wb, "w.scale", w[1]))));
        assertError("w: expected I8 [N, 128]", op("fp4-gemm", input(map("x", x, "w", w[0], "w.scale", w[1]))));
        Tensor ints = keep(Tensor.fromLongs(new long[] {1, 2, 3, 4}, DType.I32, Shape.of(2, 2)));
        assertError("x: expected a real tensor (F32, BF16 or F16) [M, K], got I32 [2, 2]", op("act-quant", input(map("x", ints))));
        Tensor scaleBf16 = real(DType.BF16, 1, 2);
        assertError("w.scale: expected [F8_E8M0, F32] [1, 2]", op("fp8-gemm", input(map("x", x, "w", w[0], "w.scale", scaleBf16))));
    }

    @Test
    void wrongShapesAreNamedWithTheExpectedShape() throws IOException {
        Tensor x = real(DType.F32, 2, 256);
        Tensor[] w = rnd.fp8(128, 256, 0.05);
        keep(w[0]);
        keep(w[1]);
        Tensor badScale = keep(Tensor.fromBytes(new byte[] {127, 127, 127}, DType.F8_E8M0, Shape.of(1, 3)));
        assertError("w.scale: expected [F8_E8M0, F32] [1, 2]",
                op("fp8-gemm", input(map("x", x, "w", w[0], "w.scale", badScale))));
        Tensor x2 = real(DType.F32, 2, 384);
        assertError("w: expected F8_E4M3 [N, 384]", op("fp8-gemm", input(map("x", x2, "w", w[0], "w.scale", w[1]))));
        assertError("x: K = 100", op("fp8-gemm", input(map("x", real(DType.F32, 2, 100), "w", w[0], "w.scale", w[1]))));
        assertError("weight: expected shape [256]", op("rmsnorm", input(map("x", x, "weight", real(DType.F32, 255)))));
        assertError("up: expected shape [2, 256]", op("swiglu", input(map("gate", x, "up", real(DType.F32, 2, 128)))));
        assertError("x: expected [M, d] with d a power of two, got d = 96", op("hadamard", input(map("x", real(DType.F32, 2, 96)))));
        assertError("x: the last dimension of [2, 100] is not a multiple of --block 128", op("act-quant", input(map("x", real(DType.F32, 2, 100)))));
        assertError("x: expected [S, ..., R]", op("rope", input(map("x", real(DType.F32, 64)))));
        assertError("x: the rope dims R", op("rope", input(map("x", real(DType.F32, 2, 63)))));
        assertError("w: expected [N, 256]", op("linear", input(map("x", x, "w", real(DType.F32, 4, 128)))));
    }

    @Test
    void badFlagValuesAreNamed() throws IOException {
        Path in = input(map("x", real(DType.F32, 2, 128), "gate", real(DType.F32, 2, 8), "up", real(DType.F32, 2, 8)));
        assertError("--scale: expected ue8m0 or f32", op("act-quant", in, "--scale", "e5m2"));
        assertError("--block: must be positive, got 0", op("fp8-sim", in, "--block", "0"));
        assertError("--yarn: expected factor,orig,beta_fast,beta_slow", op("rope", in, "--yarn", "16,65536"));
        assertError("--out-dtype: expected bf16 or f32", op("linear", in, "--out-dtype", "f16"));
        assertError("--limit: must be finite and >= 0", op("swiglu", in, "--limit", "-1"));
        assertError("--start-pos: must be >= 0", op("rope", in, "--start-pos", "-3"));
        assertError("Invalid value for option '--eps'", op("rmsnorm", in, "--eps", "tiny"));
        assertError("Unknown option", op("fp8-sim", in, "--blok", "3"));
    }

    @Test
    void unreadableInputsAreNamed() throws IOException {
        assertError("cannot read " + dir.resolve("nope.safetensors") + ": no such file", op("hadamard", dir.resolve("nope.safetensors")));
        Path junk = dir.resolve("junk.safetensors");
        Files.write(junk, new byte[] {1, 2, 3});
        assertError(junk + ": the file has 3 bytes", op("hadamard", junk));
        Path bad = dir.resolve("bad.safetensors");
        byte[] head = "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}".getBytes();
        byte[] b = new byte[8 + head.length + 8];
        b[0] = (byte) head.length;
        System.arraycopy(head, 0, b, 8, head.length);
        Files.write(bad, b);
        assertError("tensor \"x\": data_offsets [0, 16] are not inside the data section of 8 bytes", op("hadamard", bad));
    }

    @Test
    void absentDevicesFailWithAOneLineReason() throws IOException {
        Path in = input(map("x", real(DType.F32, 2, 64)));
        // cuda:63 is absent on any machine; plain cuda only where no CUDA device is present.
        assertError("cuda", op("hadamard", in, "--device", "cuda:63"));
        if (!Backends.probeAll().get(DeviceKind.CUDA).isAvailable()) {
            assertError("cuda", op("hadamard", in, "--device", "cuda"));
        }
        assertError("ascend:0 is not available: no Ascend runtime", op("hadamard", in, "--device", "ascend"));
        assertError("--device: bad device \"tpu\"", op("hadamard", in, "--device", "tpu"));
        Cli r = Cli.run(op("hadamard", in, "--device", "cuda:63"));
        assertEquals(1, r.err().lines().filter(l -> !l.isBlank()).count(), r.toString());
    }

    @Test
    void usageErrorsExitWithTwo() throws IOException {
        assertError("Missing required option: '--input", "op", "rmsnorm", "--output", dir.resolve("out.safetensors").toString());
        assertError("Unmatched argument at index 1: 'gelu'", "op", "gelu");
        assertError("no op given: expected one of act-quant", "op");
        assertError("no command given", new String[0]);
    }

    @Test
    void aFailedOpLeavesAnExistingOutputUntouched() throws IOException {
        Path out = dir.resolve("out.safetensors");
        Files.writeString(out, "previous");
        Path in = input(map("x", real(DType.F32, 2, 96)));
        Cli r = Cli.run(op("hadamard", in));
        assertEquals(2, r.code(), r.toString());
        assertEquals("previous", Files.readString(out));
    }

    @Test
    void writingIntoAMissingDirectoryIsAnError() {
        Path in = input(map("x", real(DType.F32, 2, 64)));
        Cli r = Cli.run("op", "hadamard", "--input", in.toString(), "--output", dir.resolve("no/such/out.safetensors").toString(), "--device", "cpu");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.lastLine().startsWith("error: cannot write"), r.toString());
    }

    @Test
    void helpDescribesEveryFlag() {
        Cli r = Cli.run("op", "rope", "--help");
        assertEquals(0, r.code());
        for (String flag : List.of("--input", "--output", "--device", "--start-pos", "--base", "--yarn", "--inverse")) {
            assertTrue(r.out().contains(flag), flag + " missing from:\n" + r.out());
        }
        Cli ops = Cli.run("op", "--help");
        for (String op : List.of("act-quant", "fp8-sim", "fp4-sim", "fp8-gemm", "fp4-gemm", "linear", "rmsnorm", "rope", "hadamard", "swiglu")) {
            assertTrue(ops.out().contains(op), op + " missing from:\n" + ops.out());
        }
    }
}

package io.github.ds4j;

import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.Backend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every op of {@link Compute} with bad arguments: each must throw before the backend is asked to
 * do anything (no kernel, no allocation), with a message that starts with the argument's name
 * and says what was expected and what came.
 */
class ComputeValidationTest {
    private static final int M = 4;
    private static final int K = 256;
    private static final int N = 256;
    /** Backend methods that do no work: calling them during validation is fine. */
    private static final Set<String> HARMLESS = Set.of("device", "description", "toString", "hashCode", "equals");

    private final List<String> calls = new ArrayList<>();
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private Compute cpu;
    private Random rnd;

    // valid operands
    private Tensor x;
    private Tensor xRope;
    private BlockScaled fp8W;
    private BlockScaled fp4W;
    private BlockScaled act;
    private Tensor realW;
    private Tensor normW;

    // bad operands
    private Tensor closed;
    private Tensor transposed;
    private Tensor ints;
    private Tensor halfs;
    private Tensor remote;

    @BeforeEach
    void setUp() {
        rnd = TestData.random("compute validation");
        Backend recording = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    if (!HARMLESS.contains(method.getName())) {
                        calls.add(method.getName());
                    }
                    try {
                        return method.invoke(CpuBackend.shared(), args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        cpu = Compute.of(recording);
        x = keep(Tensor.fromFloats(TestData.floats(rnd, M * K), DType.F32, Shape.of(M, K)));
        xRope = keep(Tensor.fromFloats(TestData.floats(rnd, M * 2 * 64), DType.BF16, Shape.of(M, 2, 64)));
        realW = keep(Tensor.fromFloats(TestData.floats(rnd, N * K), DType.BF16, Shape.of(N, K)));
        normW = keep(Tensor.fromFloats(TestData.floats(rnd, K), DType.F32, Shape.of(K)));
        fp8W = keep(BlockScaled.fp8Weight(Tensor.fromFloats(TestData.floats(rnd, N * K), DType.F8_E4M3, Shape.of(N, K)),
                Tensor.fromFloats(new float[] {1, 2, 0.5f, 1}, DType.F8_E8M0, Shape.of(2, 2))));
        fp4W = keep(BlockScaled.mxfp4Weight(Tensor.fromFloats(TestData.floats(rnd, 64 * K), DType.FP4_E2M1, Shape.of(64, K)),
                Tensor.fromFloats(ones(64 * K / 32), DType.F8_E8M0, Shape.of(64, K / 32))));
        act = keep(BlockScaled.fp8Activations(Tensor.fromFloats(TestData.floats(rnd, M * K), DType.F8_E4M3, Shape.of(M, K)),
                Tensor.fromFloats(ones(M * 2), DType.F32, Shape.of(M, 2)), 128));
        closed = Tensor.allocate(DType.F32, Shape.of(M, K));
        closed.close();
        transposed = keep(Tensor.fromFloats(TestData.floats(rnd, M * K), DType.F32, Shape.of(K, M))).transpose(0, 1);
        ints = keep(Tensor.allocate(DType.I32, Shape.of(M, K)));
        halfs = keep(Tensor.fromFloats(TestData.floats(rnd, M * K), DType.F16, Shape.of(M, K)));
        remote = onAnotherDevice(Shape.of(M, K));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        cpu.close();
    }

    private <T extends AutoCloseable> T keep(T t) {
        toClose.add(t);
        return t;
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    /** A tensor whose storage claims to live on cuda:0 (a backend that does nothing else). */
    private Tensor onAnotherDevice(Shape shape) {
        Backend fake = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "device" -> Device.cuda(0);
                    case "toString" -> "fake cuda backend";
                    case "hashCode" -> 1;
                    case "equals" -> proxy == args[0];
                    default -> throw new AssertionError("the fake device was asked to " + method.getName());
                });
        MemorySegment seg = MemorySegment.ofArray(new byte[Math.toIntExact(DType.F32.byteSize(shape.numel()))]);
        return Tensor.of(Storage.borrowed(seg, fake), DType.F32, shape, false);
    }

    private Tensor out(DType t, long... dims) {
        return keep(Tensor.allocate(t, Shape.of(dims)));
    }

    /** The same valid-shaped slot filled with each kind of bad tensor. */
    private List<Bad> badTensors(String arg, java.util.function.Function<Tensor, Executable> call) {
        return List.of(
                new Bad(arg, IllegalStateException.class, call.apply(closed), "tensor is closed"),
                new Bad(arg, IllegalArgumentException.class, call.apply(transposed), "expected a row layout", "got shape [4, 256]"),
                new Bad(arg, IllegalArgumentException.class, call.apply(ints), "expected dtype", "got I32"),
                new Bad(arg, IllegalArgumentException.class, call.apply(remote), "expected a tensor on cpu, got one on cuda:0"),
                new Bad(arg, IllegalArgumentException.class, call.apply(null), "must not be null"));
    }

    /** One bad call: the exception type, the argument its message starts with, and what it must say. */
    private record Bad(String arg, Class<? extends RuntimeException> type, Executable call, String... says) {
    }

    private void expectAll(List<Bad> cases) {
        int i = 0;
        for (Bad b : cases) {
            String label = "case " + i++ + " (" + b.arg() + ")";
            long live = Storage.liveCount(Device.CPU);
            calls.clear();
            RuntimeException e = assertThrows(b.type(), b.call(), label);
            String m = e.getMessage();
            if (m == null || !m.startsWith(b.arg() + ":")) {
                fail(label + ": message should start with \"" + b.arg() + ":\", got \"" + m + "\"");
            }
            boolean plain = m.endsWith("tensor is closed") || m.endsWith("must not be null");
            if (!plain && !(m.contains("expected") && m.contains("got"))) {
                fail(label + ": message should say what was expected and what came: \"" + m + "\"");
            }
            for (String part : b.says()) {
                if (!m.contains(part)) {
                    fail(label + ": message \"" + m + "\" should contain \"" + part + "\"");
                }
            }
            if (!calls.isEmpty()) {
                fail(label + ": the backend was called (" + calls + ") before the bad argument was rejected: " + m);
            }
            assertEquals(live, Storage.liveCount(Device.CPU), label + ": a rejected call left memory allocated");
        }
    }

    @Test
    void quantizationOpsRejectBadInputs() {
        List<Bad> c = new ArrayList<>();
        c.addAll(badTensors("x", t -> () -> cpu.quantizeActivations(t, 128, DType.F8_E8M0)));
        c.addAll(badTensors("x", t -> () -> cpu.fp8Simulate(t, 64)));
        c.addAll(badTensors("x", t -> () -> cpu.fp4Simulate(t, 32)));
        Tensor y = out(DType.F32, M, K);
        c.addAll(badTensors("x", t -> () -> cpu.fp8SimulateInto(t, 64, y)));
        c.addAll(badTensors("y", t -> () -> cpu.fp8SimulateInto(x, 64, t)));
        c.addAll(badTensors("y", t -> () -> cpu.fp4SimulateInto(x, 32, t)));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.quantizeActivations(halfs, 128, DType.F32), "got F16"));
        for (int block : new int[] {0, -128}) {
            c.add(new Bad("block", IllegalArgumentException.class, () -> cpu.quantizeActivations(x, block, DType.F32), "got " + block));
            c.add(new Bad("block", IllegalArgumentException.class, () -> cpu.fp8Simulate(x, block)));
            c.add(new Bad("block", IllegalArgumentException.class, () -> cpu.fp4SimulateInto(x, block, y)));
        }
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.quantizeActivations(x, 100, DType.F32), "multiple of 100", "got 256"));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.fp8Simulate(x, 96), "multiple of 96"));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.fp4Simulate(x, 512), "multiple of 512"));
        c.add(new Bad("scaleType", IllegalArgumentException.class, () -> cpu.quantizeActivations(x, 128, DType.BF16), "got BF16"));
        c.add(new Bad("scaleType", IllegalArgumentException.class, () -> cpu.quantizeActivations(x, 128, null), "got null"));
        Tensor narrow = out(DType.F32, M, K - 64);
        Tensor tall = out(DType.F32, K, M);
        c.add(new Bad("y", IllegalArgumentException.class, () -> cpu.fp8SimulateInto(x, 64, narrow),
                "expected shape [4, 256]", "got [4, 192]"));
        c.add(new Bad("y", IllegalArgumentException.class, () -> cpu.fp4SimulateInto(x, 32, tall), "got [256, 4]"));
        expectAll(c);
    }

    @Test
    void gemmsRejectBadInputs() {
        List<Bad> c = new ArrayList<>();
        c.addAll(badTensors("x", t -> () -> cpu.gemm(t, fp8W, DType.BF16)));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.gemm(x.slice(1, 0, 128), fp8W, DType.F32),
                "expected shape [*, 256]", "got [4, 128]"));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.gemm(halfs, fp4W, DType.F32), "got F16"));
        for (DType bad : new DType[] {DType.F16, DType.I32, DType.F8_E4M3, null}) {
            c.add(new Bad("outType", IllegalArgumentException.class, () -> cpu.gemm(x, fp8W, bad), "got " + bad));
            c.add(new Bad("outType", IllegalArgumentException.class, () -> cpu.gemm(act, fp4W, bad), "got " + bad));
        }
        c.add(new Bad("w", IllegalArgumentException.class, () -> cpu.gemm(x, null, DType.F32), "must not be null"));
        // FP8 values with activation-style 1x128 blocks
        BlockScaled rowBlocks = new BlockScaled(fp8W.values(), keep(Tensor.fromFloats(ones(N * 2), DType.F32, Shape.of(N, 2))), 1, 128);
        c.add(new Bad("w", IllegalArgumentException.class, () -> cpu.gemm(x, rowBlocks, DType.F32), "128x128", "got 1x128"));
        BlockScaled fp4Square = new BlockScaled(fp4W.values(), keep(Tensor.fromFloats(ones(2), DType.F32, Shape.of(1, 2))), 128, 128);
        c.add(new Bad("w", IllegalArgumentException.class, () -> cpu.gemm(x, fp4Square, DType.F32), "1x32", "got 128x128"));
        BlockScaled e5m2 = BlockScaled.fp8Weight(keep(Tensor.allocate(DType.F8_E5M2, Shape.of(N, K))), fp8W.scales());
        c.add(new Bad("w", IllegalArgumentException.class, () -> cpu.gemm(x, e5m2, DType.F32), "got F8_E5M2"));
        Tensor square = keep(Tensor.allocate(DType.F8_E4M3, Shape.of(K, N)));
        BlockScaled stridedW = BlockScaled.fp8Weight(square.transpose(0, 1), fp8W.scales());
        c.add(new Bad("w.values", IllegalArgumentException.class, () -> cpu.gemm(x, stridedW, DType.F32), "expected a contiguous tensor"));
        Tensor closedScales = Tensor.allocate(DType.F8_E8M0, Shape.of(2, 2));
        BlockScaled willClose = BlockScaled.fp8Weight(fp8W.values(), closedScales);
        closedScales.close();
        c.add(new Bad("w.scales", IllegalStateException.class, () -> cpu.gemm(x, willClose, DType.F32)));
        BlockScaled fp4Ragged = BlockScaled.mxfp4Weight(keep(Tensor.allocate(DType.FP4_E2M1, Shape.of(64, 48))),
                keep(Tensor.fromFloats(ones(128), DType.F8_E8M0, Shape.of(64, 2))));
        Tensor x48 = out(DType.F32, M, 48);
        c.add(new Bad("w", IllegalArgumentException.class, () -> cpu.gemm(x48, fp4Ragged, DType.F32), "multiple of 32", "got 48"));

        // pre-quantized activations
        c.add(new Bad("a", IllegalArgumentException.class, () -> cpu.gemm((BlockScaled) null, fp8W, DType.F32), "must not be null"));
        BlockScaled act64 = BlockScaled.fp8Activations(act.values(), keep(Tensor.fromFloats(ones(M * 4), DType.F32, Shape.of(M, 4))), 64);
        c.add(new Bad("a", IllegalArgumentException.class, () -> cpu.gemm(act64, fp8W, DType.F32), "1x128", "got 1x64"));
        BlockScaled actE5 = BlockScaled.fp8Activations(keep(Tensor.allocate(DType.F8_E5M2, Shape.of(M, K))), act.scales(), 128);
        c.add(new Bad("a", IllegalArgumentException.class, () -> cpu.gemm(actE5, fp8W, DType.F32), "got F8_E5M2 [4, 256]"));
        BlockScaled actShort = BlockScaled.fp8Activations(keep(Tensor.allocate(DType.F8_E4M3, Shape.of(M, 128))),
                keep(Tensor.fromFloats(ones(M), DType.F32, Shape.of(M, 1))), 128);
        c.add(new Bad("a", IllegalArgumentException.class, () -> cpu.gemm(actShort, fp8W, DType.F32), "K = 256", "got [4, 128]"));
        BlockScaled w192 = BlockScaled.fp8Weight(keep(Tensor.allocate(DType.F8_E4M3, Shape.of(N, 192))),
                keep(Tensor.fromFloats(ones(4), DType.F8_E8M0, Shape.of(2, 2))));
        BlockScaled act192 = BlockScaled.fp8Activations(keep(Tensor.allocate(DType.F8_E4M3, Shape.of(M, 192))),
                keep(Tensor.fromFloats(ones(M * 2), DType.F32, Shape.of(M, 2))), 128);
        c.add(new Bad("a", IllegalArgumentException.class, () -> cpu.gemm(act192, w192, DType.F32), "multiple of 128", "got 192"));
        BlockScaled act3d = BlockScaled.fp8Activations(keep(Tensor.allocate(DType.F8_E4M3, Shape.of(2, 2, K))),
                keep(Tensor.fromFloats(ones(8), DType.F32, Shape.of(2, 2, 2))), 128);
        c.add(new Bad("a", IllegalArgumentException.class, () -> cpu.gemm(act3d, fp8W, DType.F32), "[M, K]"));
        Tensor closedAct = Tensor.allocate(DType.F8_E4M3, Shape.of(M, K));
        BlockScaled actClosed = BlockScaled.fp8Activations(closedAct, act.scales(), 128);
        closedAct.close();
        c.add(new Bad("a.values", IllegalStateException.class, () -> cpu.gemm(actClosed, fp8W, DType.F32)));

        // outputs
        c.addAll(badTensors("y", t -> () -> cpu.gemmInto(act, fp8W, t)));
        Tensor y255 = out(DType.F32, M, N - 1);
        Tensor y256 = out(DType.F32, M, N);
        Tensor yHalf = out(DType.F16, M, N);
        c.add(new Bad("y", IllegalArgumentException.class, () -> cpu.gemmInto(act, fp8W, y255),
                "expected shape [4, 256]", "got [4, 255]"));
        c.add(new Bad("y", IllegalArgumentException.class, () -> cpu.gemmInto(act, fp4W, y256), "[4, 64]"));
        c.add(new Bad("y", IllegalArgumentException.class, () -> cpu.gemmInto(act, fp8W, yHalf), "got F16"));
        expectAll(c);
    }

    @Test
    void linearRejectsBadInputs() {
        List<Bad> c = new ArrayList<>();
        c.addAll(badTensors("x", t -> () -> cpu.linear(t, realW, DType.F32)));
        c.addAll(badTensors("w", t -> () -> cpu.linear(x, t, DType.F32)));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.linear(x.slice(1, 0, 100), realW, DType.F32),
                "expected shape [*, 256]", "got [4, 100]"));
        Tensor w3 = out(DType.F32, 2, N, K);
        c.add(new Bad("w", IllegalArgumentException.class, () -> cpu.linear(x, w3, DType.F32), "expected [N, K]", "got [2, 256, 256]"));
        c.add(new Bad("outType", IllegalArgumentException.class, () -> cpu.linear(x, realW, DType.I64), "got I64"));
        c.addAll(badTensors("y", t -> () -> cpu.linearInto(x, realW, t)));
        Tensor yT = out(DType.BF16, N, M);
        Tensor x3 = out(DType.F32, 2, 3, 2 * K).slice(-1, 0, K);
        c.add(new Bad("y", IllegalArgumentException.class, () -> cpu.linearInto(x, realW, yT),
                "expected shape [4, 256]", "got [256, 4]"));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.linear(x3, realW, DType.F32),
                "expected a contiguous tensor for rank 3"));
        expectAll(c);
    }

    @Test
    void rowOpsRejectBadInputs() {
        List<Bad> c = new ArrayList<>();
        Tensor y = out(DType.F32, M, K);
        c.addAll(badTensors("x", t -> () -> cpu.rmsNorm(t, normW, 1e-6f)));
        Tensor closedWeight = Tensor.allocate(DType.F32, Shape.of(K));
        closedWeight.close();
        Tensor intWeight = out(DType.I32, K);
        c.add(new Bad("weight", IllegalStateException.class, () -> cpu.rmsNorm(x, closedWeight, 1e-6f)));
        c.add(new Bad("weight", IllegalArgumentException.class, () -> cpu.rmsNorm(x, intWeight, 1e-6f), "got I32"));
        c.add(new Bad("weight", IllegalArgumentException.class, () -> cpu.rmsNorm(x, remote.select(0, 0), 1e-6f), "cuda:0"));
        c.add(new Bad("weight", IllegalArgumentException.class, () -> cpu.rmsNorm(x, normW.slice(0, 0, 255), 1e-6f),
                "expected shape [256]", "got [255]"));
        c.add(new Bad("weight", IllegalArgumentException.class, () -> cpu.rmsNorm(x, realW.select(1, 0), 1e-6f),
                "expected a contiguous tensor"));
        for (float eps : new float[] {-1e-6f, Float.NaN, Float.POSITIVE_INFINITY}) {
            c.add(new Bad("eps", IllegalArgumentException.class, () -> cpu.rmsNorm(x, null, eps), "got " + eps));
            c.add(new Bad("eps", IllegalArgumentException.class, () -> cpu.rmsNormInto(x, normW, eps, y), "got " + eps));
        }
        c.addAll(badTensors("y", t -> () -> cpu.rmsNormInto(x, normW, 1e-6f, t)));

        c.addAll(badTensors("x", t -> () -> cpu.hadamard(t)));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.hadamard(x.slice(1, 0, 96)), "power-of-two", "got [4, 96]"));
        c.addAll(badTensors("y", t -> () -> cpu.hadamardInto(x, t)));

        Tensor up = keep(Tensor.fromFloats(TestData.floats(rnd, M * K), DType.BF16, Shape.of(M, K)));
        c.addAll(badTensors("gate", t -> () -> cpu.swiglu(t, up, 10f)));
        c.addAll(badTensors("up", t -> () -> cpu.swiglu(x, t, 10f)));
        c.add(new Bad("up", IllegalArgumentException.class, () -> cpu.swiglu(x, up.slice(0, 0, 3), 10f),
                "expected shape [4, 256]", "got [3, 256]"));
        for (float limit : new float[] {-1f, Float.NaN, Float.POSITIVE_INFINITY}) {
            c.add(new Bad("limit", IllegalArgumentException.class, () -> cpu.swiglu(x, up, limit), "got " + limit));
        }
        c.addAll(badTensors("y", t -> () -> cpu.swigluInto(x, up, 10f, t)));

        c.addAll(badTensors("x", t -> () -> cpu.softmax(t)));
        c.addAll(badTensors("x", t -> () -> cpu.topK(t, 3)));
        for (int k : new int[] {0, -1, K + 1}) {
            c.add(new Bad("k", IllegalArgumentException.class, () -> cpu.topK(x, k), "expected 1..256", "got " + k));
        }
        c.addAll(badTensors("x", t -> () -> cpu.convert(t, DType.BF16)));
        for (DType to : new DType[] {DType.F8_E4M3, DType.I32, null}) {
            c.add(new Bad("to", IllegalArgumentException.class, () -> cpu.convert(x, to), "got " + to));
        }
        expectAll(c);
    }

    @Test
    void ropeRejectsBadInputs() {
        RopeSpec spec = new RopeSpec(64, 160000, new RopeSpec.Yarn(16, 65536, 32, 1));
        List<Bad> c = new ArrayList<>();
        Tensor rope64 = keep(Tensor.fromFloats(TestData.floats(rnd, M * 64), DType.F32, Shape.of(M, 64)));
        Tensor rope64T = keep(Tensor.allocate(DType.F32, Shape.of(64, M))).transpose(0, 1);
        c.add(new Bad("x", IllegalStateException.class, () -> cpu.rope(closed, spec, 0)));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.rope(rope64T, spec, 0), "expected a row layout"));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.rope(ints.slice(1, 0, 64), spec, 0), "got I32"));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.rope(null, spec, 0), "must not be null"));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.rope(rope64.select(0, 0), spec, 0), "got [64]"));
        c.add(new Bad("x", IllegalArgumentException.class, () -> cpu.inverseRope(x, spec, 0), "expected last dimension 64", "got [4, 256]"));
        c.add(new Bad("rope", IllegalArgumentException.class, () -> cpu.rope(rope64, null, 0), "must not be null"));
        c.add(new Bad("startPos", IllegalArgumentException.class, () -> cpu.rope(xRope, spec, -1), "got -1"));
        c.add(new Bad("startPos", IllegalArgumentException.class, () -> cpu.ropeInto(xRope, spec, Long.MIN_VALUE, true, xRope)));
        c.add(new Bad("y", IllegalArgumentException.class, () -> cpu.ropeInto(xRope, spec, 0, false, rope64), "got [4, 64]"));
        c.add(new Bad("y", IllegalArgumentException.class, () -> cpu.ropeInto(rope64, spec, 0, false, rope64T), "expected a row layout"));
        expectAll(c);
    }

    @Test
    void memoryOpsRejectBadInputs() {
        List<Bad> c = new ArrayList<>();
        Tensor dst = out(DType.F32, M, K);
        c.add(new Bad("src", IllegalArgumentException.class, () -> cpu.copyFromHost(MemorySegment.ofArray(new byte[10]), dst),
                "expected at least 4096 bytes", "got 10"));
        c.add(new Bad("src", IllegalArgumentException.class, () -> cpu.copyFromHost(null, dst), "must not be null"));
        c.add(new Bad("dst", IllegalArgumentException.class, () -> cpu.copyFromHost(MemorySegment.ofArray(new byte[4096]), transposed),
                "expected a contiguous tensor"));
        c.add(new Bad("dst", IllegalStateException.class, () -> cpu.copyFromHost(MemorySegment.ofArray(new byte[4096]), closed)));
        c.add(new Bad("src", IllegalStateException.class, () -> cpu.upload(closed)));
        c.add(new Bad("src", IllegalArgumentException.class, () -> cpu.upload(remote), "got one on cuda:0"));
        c.add(new Bad("src", IllegalArgumentException.class, () -> cpu.upload((Tensor) null)));
        c.add(new Bad("src", IllegalArgumentException.class, () -> cpu.upload((BlockScaled) null)));
        c.add(new Bad("shape", IllegalArgumentException.class, () -> cpu.allocate(DType.FP4_E2M1, Shape.of(2, 3)), "got [2, 3]"));
        expectAll(c);
    }

    @Test
    void validInputsPassTheChecksAndReachTheBackend() {
        // the positive control: the same operands with nothing wrong are accepted
        calls.clear();
        try (Tensor q = cpu.gemm(x, fp8W, DType.BF16);
             Tensor r = cpu.gemm(act, fp4W, DType.F32);
             Tensor l = cpu.linear(x, realW, DType.F32);
             Tensor n = cpu.rmsNorm(x, normW, 1e-6f);
             Tensor h = cpu.hadamard(x);
             Tensor rope = cpu.rope(xRope, new RopeSpec(64, 160000, new RopeSpec.Yarn(16, 65536, 32, 1)), 7);
             TopK top = cpu.topK(x, 3)) {
            assertEquals(Shape.of(M, N), q.shape());
            assertEquals(Shape.of(M, 64), r.shape());
            assertEquals(Shape.of(M, N), l.shape());
            assertEquals(x.shape(), n.shape());
            assertEquals(x.shape(), h.shape());
            assertEquals(xRope.shape(), rope.shape());
            assertEquals(Shape.of(M, 3), top.values().shape());
        }
        assertTrue(calls.containsAll(List.of("quantizeActivations", "fp8Gemm", "fp4Gemm", "linear", "rmsNorm", "hadamard", "rope", "topK")),
                calls.toString());
    }
}

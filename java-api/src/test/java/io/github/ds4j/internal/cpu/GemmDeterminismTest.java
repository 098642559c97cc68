package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The SIMD GEMV and GEMM give the same bits whether their kernels run in the interpreter or
 * compiled by C2. A child JVM runs every case with {@code -Xint} ({@link #main}); this JVM runs
 * them after enough calls for C2 to compile the kernels. (Vector API lane reductions leave their
 * order to the JIT tier, so a kernel that used them changed its last bits once compiled.)
 */
class GemmDeterminismTest {
    private static final long SEED = 20261123;
    private static final int WARM_CALLS = 3000;

    @Test
    void interpretedAndCompiledKernelsGiveTheSameBits() throws Exception {
        if (!CpuPath.simd()) {
            System.out.println("GemmDeterminismTest: SIMD is off (" + CpuPath.describe() + "); checking the scalar loops");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xint");
        cmd.add("--add-modules");
        cmd.add("jdk.incubator.vector");
        if (System.getProperty("ds4j.cpu.simd") != null) {
            cmd.add("-Dds4j.cpu.simd=" + System.getProperty("ds4j.cpu.simd"));
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(GemmDeterminismTest.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (var in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "-Xint child JVM did not finish");
        assertEquals(0, p.exitValue(), "-Xint child failed:\n" + out);

        for (int i = 0; i < WARM_CALLS; i++) {
            results();
        }
        for (Map.Entry<String, String> e : results().entrySet()) {
            assertTrue(out.contains(e.getKey() + " " + e.getValue() + "\n"),
                    e.getKey() + ": compiled bits " + e.getValue() + ", interpreted:\n" + out);
        }
    }

    /** Each case's output bits as a hash, by case name; the inputs are the same on every call. */
    static Map<String, String> results() {
        Map<String, String> r = new LinkedHashMap<>();
        for (int m : new int[] {1, 3, 6}) {
            for (GemmScaledTest.Op op : GemmScaledTest.Op.values()) {
                int k = op == GemmScaledTest.Op.FP4 ? 160 : 256;
                try (GemmScaledTest.Inputs in = GemmScaledTest.inputs(op, m, 24, k, SEED + m, false, false, false)) {
                    r.put(op + " m=" + m, bits(GemmScaledTest.run(in, op, DType.F32, true)));
                }
            }
            for (DType wt : new DType[] {DType.F32, DType.BF16}) {
                try (GemmLinearTest.Inputs in = GemmLinearTest.inputs(m, 24, 40, DType.BF16, wt, SEED + m)) {
                    r.put("linear " + wt + " m=" + m, bits(GemmLinearTest.run(in, DType.F32, true)));
                }
            }
        }
        return r;
    }

    private static String bits(float[] y) {
        int[] b = new int[y.length];
        for (int i = 0; i < y.length; i++) {
            b[i] = Float.floatToRawIntBits(y[i]);
        }
        return Integer.toHexString(Arrays.hashCode(b));
    }

    /** Child JVM (run with -Xint): prints each case's bits, one "name hash" line each. */
    public static void main(String[] args) {
        try {
            results().forEach((name, hash) -> System.out.println(name + " " + hash));
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            System.exit(1);
        }
        System.exit(0);
    }
}

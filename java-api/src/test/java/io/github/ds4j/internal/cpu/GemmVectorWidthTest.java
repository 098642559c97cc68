package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The SIMD GEMM kernels at the vector widths other machines have: 128 bits (NEON, SSE; two int
 * vectors per code load) and 256 bits (AVX2). The species is fixed when the kernels load, so each
 * width runs in a child JVM ({@link #main}) with {@code -Dds4j.cpu.gemm.vectorBits}.
 */
class GemmVectorWidthTest {

    @Test
    void kernelsAt128And256BitsMatchTheFloat64Reference() throws Exception {
        for (int bits : new int[] {128, 256}) {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.add("--add-modules");
            cmd.add("jdk.incubator.vector");
            cmd.add("-Dds4j.cpu.gemm.vectorBits=" + bits);
            if (System.getProperty("ds4j.cpu.simd") != null) {
                cmd.add("-Dds4j.cpu.simd=" + System.getProperty("ds4j.cpu.simd"));
            }
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(GemmVectorWidthTest.class.getName());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out;
            try (var in = p.getInputStream()) {
                out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), bits + "-bit child JVM did not finish");
            assertEquals(0, p.exitValue(), bits + "-bit child failed:\n" + out);
            // The child runs the width asked for, or its widest if that is narrower (or no SIMD: 0).
            var m = java.util.regex.Pattern.compile("vector bits: (\\d+) of (\\d+)").matcher(out);
            assertTrue(m.find(), out);
            int preferred = Integer.parseInt(m.group(2));
            assertEquals(preferred == 0 ? 0 : Math.min(bits, preferred), Integer.parseInt(m.group(1)), out);
        }
    }

    /** Child JVM: runs the three ops on small ragged shapes; exits 1 on the first mismatch. */
    public static void main(String[] args) throws IOException {
        System.out.println("vector bits: " + (CpuPath.simd() ? GemmSimd.L * 32 : 0) + " of " + CpuPath.vectorBits());
        try {
            for (GemmScaledTest.Op op : GemmScaledTest.Op.values()) {
                for (int m : new int[] {1, 3, 40}) {
                    long seed = new SplittableRandom().nextLong();
                    try (GemmScaledTest.Inputs in = GemmScaledTest.inputs(op, m, 70, 384, seed, m == 3, m == 40, m == 1)) {
                        GemmScaledTest.check(in, op, DType.F32, GemmScaledTest.run(in, op, DType.F32, true), op + " m=" + m);
                    }
                }
            }
            for (int m : new int[] {1, 40}) {
                long seed = new SplittableRandom().nextLong();
                try (GemmLinearTest.Inputs in = GemmLinearTest.inputs(m, 70, 100, DType.BF16, m == 1 ? DType.F32 : DType.BF16, seed)) {
                    GemmLinearTest.check(in, DType.BF16, GemmLinearTest.run(in, DType.BF16, true), "linear m=" + m);
                }
            }
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            System.exit(1);
        }
        System.out.println("ok");
        System.exit(0);
    }
}

package io.github.ds4j.cli;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GemmCommandTest {
    private static final Pattern REL = Pattern.compile("relative error vs float64 reference: ([0-9.eE+-]+) \\(bound ([0-9.eE+-]+)");

    private static double relativeError(Cli r) {
        Matcher m = REL.matcher(r.out());
        assertTrue(m.find(), r.toString());
        return Double.parseDouble(m.group(1));
    }

    @Test
    void everyFormatRunsChecksAndReportsTimeThroughputAndError() {
        for (String format : List.of("fp8", "fp4", "bf16")) {
            for (String out : List.of("bf16", "f32")) {
                Cli r = Cli.run("gemm", "--format", format, "--m", "3", "--n", "130", "--k", "256", "--device", "cpu",
                        "--iterations", "2", "--out-dtype", out);
                assertEquals(0, r.code(), r.toString());
                assertTrue(r.out().contains("time per call: "), r.toString());
                assertTrue(r.out().matches("(?s).*throughput: [0-9.]+ [GT]FLOP/s.*"), r.toString());
                assertTrue(r.out().contains("checked all 3x130 outputs"), r.toString());
                double rel = relativeError(r);
                // Bounds of the output rounding: bf16 keeps 8 bits, f32 sums of exact products keep ~24
                // (FP4 x FP8 products over small K are often summed exactly: the error may be 0).
                assertTrue(rel >= 0 && rel < (out.equals("bf16") ? 1e-2 : 1e-5), format + "/" + out + ": " + rel);
                assertTrue(r.lastLine().startsWith("ok: gemm " + format + " 3x130x256 on cpu: "), r.toString());
            }
        }
    }

    @Test
    void largeProblemsAreCheckedOnASampleAndSaySo() {
        Cli r = Cli.run("gemm", "--format", "fp8", "--m", "40", "--n", "300", "--k", "12288", "--device", "cpu", "--iterations", "1");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("checked 32 of 40 rows x 256 of 300 columns"), r.toString());
    }

    @Test
    void theSameSeedGivesTheSameInputsAndError() {
        // Without --iterations the timed calls fill about a second: more than one for so small a GEMM.
        Cli a = Cli.run("gemm", "--format", "fp4", "--m", "2", "--n", "64", "--k", "128", "--device", "cpu", "--seed", "42");
        Cli b = Cli.run("gemm", "--format", "fp4", "--m", "2", "--n", "64", "--k", "128", "--device", "cpu", "--seed", "42",
                "--iterations", "1");
        assertTrue(a.out().contains("seed: 42"), a.toString());
        Matcher calls = Pattern.compile("mean of (\\d+) after").matcher(a.out());
        assertTrue(calls.find() && Integer.parseInt(calls.group(1)) > 1, a.toString());
        assertTrue(b.out().contains("mean of 1 after"), b.toString());
        assertEquals(relativeError(a), relativeError(b));
    }

    @Test
    void spreadPicksDistinctRowsIncludingFirstAndLast() {
        assertArrayEquals(new int[] {0, 1, 2}, GemmCommand.spread(3, 32));
        assertArrayEquals(new int[] {0, 33, 66, 99}, GemmCommand.spread(100, 4));
        assertArrayEquals(new int[] {0}, GemmCommand.spread(7, 1));
    }

    @Test
    void badArgumentsAndAbsentDevicesExitWithTwo() {
        Map<List<String>, String> cases = new LinkedHashMap<>();
        cases.put(List.of("--format", "fp8", "--k", "100"), "--k: 100 must be a multiple of 128");
        cases.put(List.of("--format", "int8"), "--format: expected fp8, fp4 or bf16");
        cases.put(List.of("--m", "0"), "--m: must be positive");
        cases.put(List.of("--out-dtype", "f16"), "--out-dtype: expected bf16 or f32");
        cases.put(List.of("--iterations", "-1"), "--iterations: must be positive");
        cases.put(List.of("--device", "cuda:63"), "cuda");
        cases.put(List.of("--device", "ascend"), "ascend:0 is not available");
        for (Map.Entry<List<String>, String> c : cases.entrySet()) {
            List<String> all = new ArrayList<>(List.of("gemm", "--m", "2", "--n", "8", "--k", "128"));
            all.addAll(c.getKey());
            Cli r = Cli.run(all.toArray(String[]::new));
            assertEquals(2, r.code(), r.toString());
            assertTrue(r.lastLine().startsWith("error: ") && r.lastLine().contains(c.getValue()), c.getKey() + ": " + r.lastLine());
        }
    }
}

package io.github.ds4j.bench.cpu;

import io.github.ds4j.internal.cpu.CpuPath;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * Runs the CPU benchmarks ({@link MachineBenchmark}, {@link GemmBenchmark}) and prints one table:
 * each GEMM's time, GFLOP/s and weight GB/s, as ratios of the FMA peak and the read bandwidth
 * measured in the same run (all from the best iteration; the mean time is shown too). JMH
 * command-line options pass through (e.g. {@code -p shape=...}).
 */
public final class CpuReport {
    private CpuReport() {
    }

    public static void main(String[] args) throws Exception {
        var options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(MachineBenchmark.class.getName())
                .include(GemmBenchmark.class.getName())
                .shouldFailOnError(true)
                .build();
        Collection<RunResult> results = new Runner(options).run();

        double bandwidth = Double.NaN;
        double peak = Double.NaN;
        List<RunResult> gemms = new ArrayList<>();
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            double seconds = best(r) / 1e3;
            if (name.endsWith("readBandwidth")) {
                bandwidth = MachineBenchmark.BUFFER_BYTES / seconds / 1e9;
            } else if (name.endsWith("fmaPeak")) {
                peak = MachineBenchmark.fmaFlops() / seconds / 1e9;
            } else {
                gemms.add(r);
            }
        }
        System.out.println();
        System.out.println("CPU: " + Runtime.getRuntime().availableProcessors() + " cores, " + CpuPath.describe());
        System.out.printf(Locale.ROOT, "read bandwidth (1 GiB, all cores): %.1f GB/s; f32 FMA peak (all cores): %.1f GFLOP/s%n%n",
                bandwidth, peak);
        System.out.printf(Locale.ROOT, "%-5s %-14s %10s %10s %10s %12s %12s %12s%n",
                "op", "MxNxK", "ms/op", "(mean)", "GFLOP/s", "weight GB/s", "/bandwidth", "/FMA peak");
        for (RunResult r : gemms) {
            String format = r.getParams().getParam("format");
            String shape = r.getParams().getParam("shape");
            String[] d = shape.split("x");
            long m = Long.parseLong(d[0]);
            long n = Long.parseLong(d[1]);
            long k = Long.parseLong(d[2]);
            double seconds = best(r) / 1e3;
            double gflops = 2.0 * m * n * k / seconds / 1e9;
            double gbs = GemmInputs.weightBytes(GemmInputs.Format.valueOf(format), n, k) / seconds / 1e9;
            System.out.printf(Locale.ROOT, "%-5s %-14s %10.3f %10.3f %10.1f %12.1f %12.2f %12.2f%n",
                    format, shape, seconds * 1e3, r.getPrimaryResult().getScore(), gflops, gbs, gbs / bandwidth, gflops / peak);
        }
    }

    /**
     * The fastest measurement iteration in ms/op. On a machine shared with other work the best
     * iteration is the closest to what the hardware does; the yardsticks are taken the same way.
     */
    private static double best(RunResult r) {
        double best = Double.POSITIVE_INFINITY;
        for (BenchmarkResult b : r.getBenchmarkResults()) {
            for (IterationResult i : b.getIterationResults()) {
                best = Math.min(best, i.getPrimaryResult().getScore());
            }
        }
        return best;
    }
}

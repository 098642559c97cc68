package io.github.ds4j.bench.cpu;

import io.github.ds4j.internal.cpu.CpuPath;
import io.github.ds4j.v4.V4Config;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs {@link MachineBenchmark#readBandwidth} and {@link DecodeLayerBenchmark} and prints, per
 * layer kind, the decode step's time, the weight bytes it reads, their rate and its ratio to the
 * read bandwidth of the same run, and the same per part (attention, MoE, mHC). Like
 * {@link CpuReport}, every figure comes from the fastest measurement iteration (the mean time is
 * shown too). JMH command-line options pass through (e.g. {@code -p kind=CSA}).
 */
public final class DecodeReport {
    private DecodeReport() {
    }

    public static void main(String[] args) throws Exception {
        var options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(MachineBenchmark.class.getName() + ".readBandwidth")
                .include(DecodeLayerBenchmark.class.getName())
                .shouldFailOnError(true)
                .build();
        Collection<RunResult> results = new Runner(options).run();

        double bandwidth = Double.NaN;
        List<RunResult> layers = new ArrayList<>();
        for (RunResult r : results) {
            if (r.getParams().getBenchmark().endsWith("readBandwidth")) {
                bandwidth = MachineBenchmark.BUFFER_BYTES / (best(r).getPrimaryResult().getScore() / 1e3) / 1e9;
            } else {
                layers.add(r);
            }
        }
        V4Config config = V4Config.flash();
        System.out.println();
        System.out.println("CPU: " + Runtime.getRuntime().availableProcessors() + " cores, " + CpuPath.describe());
        System.out.printf(Locale.ROOT, "read bandwidth (1 GiB, all cores): %.1f GB/s%n", bandwidth);
        System.out.printf(Locale.ROOT, "one decode step of a Flash block (D %d, %d experts top-%d) at context %d, bf16 KV cache%n%n",
                config.hiddenSize(), config.routedExperts(), config.expertsPerToken(), DecodeLayer.CONTEXT);
        System.out.printf(Locale.ROOT, "%-7s %-9s %9s %9s %11s %9s %11s %9s%n",
                "layer", "part", "ms/step", "(mean)", "weight MiB", "GB/s", "/bandwidth", "KV KiB");
        for (RunResult r : layers) {
            DecodeLayer.Kind kind = DecodeLayer.Kind.valueOf(r.getParams().getParam("kind"));
            DecodeLayer.Traffic t = DecodeLayer.Traffic.of(config, kind.layer, DecodeLayer.CONTEXT);
            IterationResult it = best(r);
            double ms = it.getPrimaryResult().getScore();
            Map<String, Result> parts = it.getSecondaryResults();
            double steps = parts.get("steps").getScore();
            row(kind.name(), "block", ms, r.getPrimaryResult().getScore(), t.weights(), bandwidth, t.kv());
            row("", "attention", parts.get("attentionNanos").getScore() / steps / 1e6, Double.NaN, t.attention(), bandwidth, t.kv());
            row("", "MoE", parts.get("moeNanos").getScore() / steps / 1e6, Double.NaN, t.moe(), bandwidth, 0);
            row("", "mHC", parts.get("mixingNanos").getScore() / steps / 1e6, Double.NaN, t.mixing(), bandwidth, 0);
        }
    }

    private static void row(String layer, String part, double ms, double mean, long bytes, double bandwidth, long kv) {
        double gbs = bytes / (ms / 1e3) / 1e9;
        System.out.printf(Locale.ROOT, "%-7s %-9s %9.2f %9s %11.1f %9.1f %11.2f %9s%n", layer, part, ms,
                Double.isNaN(mean) ? "" : String.format(Locale.ROOT, "%.2f", mean), bytes / 1048576.0, gbs, gbs / bandwidth,
                kv == 0 ? "" : String.format(Locale.ROOT, "%.0f", kv / 1024.0));
    }

    /** The fastest measurement iteration: on a shared machine the one least disturbed by other work. */
    private static IterationResult best(RunResult r) {
        IterationResult best = null;
        for (BenchmarkResult b : r.getBenchmarkResults()) {
            for (IterationResult i : b.getIterationResults()) {
                if (best == null || i.getPrimaryResult().getScore() < best.getPrimaryResult().getScore()) {
                    best = i;
                }
            }
        }
        return best;
    }
}

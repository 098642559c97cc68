package io.github.ds4j.bench.cpu;

import io.github.ds4j.Tensor;
import io.github.ds4j.v4.Block;
import io.github.ds4j.v4.V4Config;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Locale;

/**
 * A quick look at one decode step without JMH, for profiling (attach JFR with
 * {@code -Djfr=file.jfr}, which records the steps only): the fastest and median step and each
 * part's time, and the process CPU time per step (less sensitive than wall time to other work on
 * a shared machine).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp benchmarks/target/benchmarks.jar \
 *     io.github.ds4j.bench.cpu.DecodeProfile CSA|HCA|WINDOW|TINY0..TINY3 [steps]
 * </pre>
 * TINYn is layer n of {@link V4Config#tiny()} at context 64, the model of {@code ds4j demo}.
 */
public final class DecodeProfile {
    private DecodeProfile() {
    }

    public static void main(String[] args) throws Exception {
        String which = args.length > 0 ? args[0] : "CSA";
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        long t0 = System.nanoTime();
        DecodeLayer d = which.startsWith("TINY")
                ? new DecodeLayer(which, V4Config.tiny(), Integer.parseInt(which.substring(4)), 64, 7)
                : new DecodeLayer(DecodeLayer.Kind.valueOf(which), 7);
        try (d) {
            System.out.printf(Locale.ROOT, "load %.0f ms%n", (System.nanoTime() - t0) / 1e6);
            System.out.printf(Locale.ROOT, "fill %.0f ms%n", d.fill(7));
            long t1 = System.nanoTime();
            d.check();
            System.out.printf(Locale.ROOT, "check %.0f ms%n", (System.nanoTime() - t1) / 1e6);
            for (int i = 0; i < Math.max(5, steps / 5); i++) {
                d.step(); // warm-up
            }
            Block.Timings tm = d.block.timings();
            jdk.jfr.Recording rec = null;
            if (System.getProperty("jfr") != null) {
                rec = new jdk.jfr.Recording(jdk.jfr.Configuration.getConfiguration("profile"));
                rec.enable("jdk.ExecutionSample").withPeriod(java.time.Duration.ofMillis(1));
                rec.start();
            }
            var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            double[][] t = new double[4][steps];
            long cpu0 = os.getProcessCpuTime();
            for (int i = 0; i < steps; i++) {
                d.restore();
                tm.reset();
                long s = System.nanoTime();
                try (Tensor y = d.decode()) {
                    t[0][i] = (System.nanoTime() - s) / 1e6;
                }
                t[1][i] = tm.attentionNanos() / 1e6;
                t[2][i] = tm.moeNanos() / 1e6;
                t[3][i] = tm.mixingNanos() / 1e6;
            }
            long cpu = os.getProcessCpuTime() - cpu0;
            if (rec != null) {
                rec.stop();
                rec.dump(java.nio.file.Path.of(System.getProperty("jfr")));
            }
            String[] names = {"step", "attention", "MoE", "mHC"};
            for (int p = 0; p < 4; p++) {
                double[] v = t[p].clone();
                Arrays.sort(v);
                System.out.printf(Locale.ROOT, "%-10s min %8.3f ms  median %8.3f ms%n", names[p], v[0], v[v.length / 2]);
            }
            System.out.printf(Locale.ROOT, "process CPU time per step %.3f ms%n", cpu / 1e6 / steps);
            d.checkTraffic();
            DecodeLayer.Traffic tr = DecodeLayer.Traffic.of(d.config, d.layer, d.context);
            System.out.printf(Locale.ROOT, "weights: attn %.1f MiB, moe %.1f MiB, mix %.1f MiB; kv %.1f KiB%n",
                    tr.attention() / 1048576.0, tr.moe() / 1048576.0, tr.mixing() / 1048576.0, tr.kv() / 1024.0);
        }
    }
}

package io.github.ds4j.bench.cpu;

import io.github.ds4j.Tensor;
import io.github.ds4j.v4.Block;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * One decode step of a Flash-sized V4 block on the CPU at context 4096 ({@link DecodeLayer}): a
 * CSA, an HCA and a window-only layer. Setup fills the KV cache and checks a decode step against
 * a 2-token prefill of the same positions; every invocation starts from the same cache snapshot
 * (restored outside the timed part), and the output of the last one must equal the checked step.
 * The time of each part (attention, MoE, mHC) is reported through {@link Parts}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 10, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx6g"})
public class DecodeLayerBenchmark {
    /** Seed of the weights, the context and the decoded token. */
    static final long SEED = 7;

    @Param({"CSA", "HCA", "WINDOW"})
    public String kind;

    private DecodeLayer layer;
    private Tensor last;

    /**
     * Per-iteration sums of each part's time and of the steps run (JMH reports them as secondary
     * results; divided by {@code steps} they are the mean time per step).
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Parts {
        public long attentionNanos;
        public long moeNanos;
        public long mixingNanos;
        public long steps;

        @Setup(Level.Iteration)
        public void clear() {
            attentionNanos = 0;
            moeNanos = 0;
            mixingNanos = 0;
            steps = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        layer = new DecodeLayer(DecodeLayer.Kind.valueOf(kind), SEED);
        double ms = layer.fill(SEED);
        System.out.printf("%nfilled the KV cache of layer %d (%s) to %d positions in %.1f s%n", layer.layer, kind,
                DecodeLayer.CONTEXT - 2, ms / 1e3);
        layer.check();
        layer.checkTraffic();
    }

    @Setup(Level.Invocation)
    public void restore() {
        layer.restore();
        layer.block.timings().reset();
    }

    @Benchmark
    public void decode(Parts parts) {
        if (last != null) {
            last.close();
        }
        last = layer.decode();
        Block.Timings t = layer.block.timings();
        parts.attentionNanos += t.attentionNanos();
        parts.moeNanos += t.moeNanos();
        parts.mixingNanos += t.mixingNanos();
        parts.steps++;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        try {
            layer.verify(last.toFloatArray());
        } finally {
            last.close();
            layer.close();
        }
    }
}

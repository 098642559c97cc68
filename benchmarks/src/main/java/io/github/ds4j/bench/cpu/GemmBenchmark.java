package io.github.ds4j.bench.cpu;

import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.Backend;
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
 * The CPU backend's GEMMs through the {@link Backend} SPI: FP8 x FP8 and FP8 x MXFP4 (and BF16
 * linear for comparison), as GEMV (M = 1) and as GEMM with M = 128. The output is checked
 * against a float64 reference after the first call and after the last.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 10, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GemmBenchmark {
    @Param({"FP8", "FP4", "BF16"})
    public String format;

    /** M x N x K. 1x16384x4096 has weights larger than the L3 cache (FP8: 64 MiB). */
    @Param({"1x4096x4096", "128x4096x4096", "1x16384x4096"})
    public String shape;

    private final Backend backend = CpuBackend.shared();
    private GemmInputs in;

    @Setup(Level.Trial)
    public void setUp() {
        String[] d = shape.split("x");
        in = new GemmInputs(GemmInputs.Format.valueOf(format), Integer.parseInt(d[0]), Integer.parseInt(d[1]),
                Integer.parseInt(d[2]), 42);
        in.run(backend);
        in.verify();
    }

    @Benchmark
    public void gemm() {
        in.run(backend);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        in.verify();
        in.close();
    }
}

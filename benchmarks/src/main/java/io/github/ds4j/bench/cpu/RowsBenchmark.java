package io.github.ds4j.bench.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
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

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * RMSNorm and FP8 activation quantization (1x128, UE8M0) on the CPU at V4 shapes: BF16 rows of
 * the hidden size (Flash 4096, Pro 7168), one token (decode) and 128 tokens (a prefill block).
 * {@code path} picks the fast paths or the scalar reference; setup checks the fast results
 * against the reference (quantization bit for bit, RMSNorm within one BF16 step) and fails the
 * run otherwise. Divide the bytes each op moves (rmsNorm: 4 per element, quantize: 3 + 1/128)
 * by the time for the achieved bandwidth.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class RowsBenchmark {
    @Param({"1", "128"})
    public int tokens;

    @Param({"4096", "7168"})
    public int hidden;

    @Param({"fast", "scalar"})
    public String path;

    private Backend backend;
    private Tensor x;
    private Tensor weight;
    private Tensor y;
    private Tensor q;
    private Tensor scales;

    @Setup(Level.Trial)
    public void setup() {
        backend = "scalar".equals(path) ? CpuBackend.scalarReference() : CpuBackend.shared();
        Random rnd = new Random(42);
        float[] xs = new float[tokens * hidden];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) (rnd.nextGaussian() * Math.scalb(1.0, rnd.nextInt(8) - 4)) + 1e-3f;
        }
        float[] ws = new float[hidden];
        for (int i = 0; i < ws.length; i++) {
            ws[i] = 0.5f + rnd.nextFloat();
        }
        x = Tensor.fromFloats(xs, DType.BF16, Shape.of(tokens, hidden));
        weight = Tensor.fromFloats(ws, DType.BF16, Shape.of(hidden));
        y = Tensor.allocate(DType.BF16, Shape.of(tokens, hidden));
        q = Tensor.allocate(DType.F8_E4M3, Shape.of(tokens, hidden));
        scales = Tensor.allocate(DType.F8_E8M0, Shape.of(tokens, hidden / 128));
        verify();
    }

    /** The chosen path's outputs against the scalar reference's. */
    private void verify() {
        CpuBackend reference = CpuBackend.scalarReference();
        try (Tensor yRef = Tensor.allocate(DType.BF16, y.shape());
             Tensor qRef = Tensor.allocate(DType.F8_E4M3, q.shape());
             Tensor sRef = Tensor.allocate(DType.F8_E8M0, scales.shape())) {
            reference.rmsNorm(x, weight, 1e-6f, yRef);
            reference.quantizeActivations(x, qRef, sRef, 128);
            rmsNorm();
            quantizeActivations();
            if (!Arrays.equals(q.toByteArray(), qRef.toByteArray()) || !Arrays.equals(scales.toByteArray(), sRef.toByteArray())) {
                throw new IllegalStateException("quantizeActivations on the " + path + " path differs from the scalar reference");
            }
            byte[] a = y.toByteArray();
            byte[] b = yRef.toByteArray();
            for (int i = 0; i < a.length; i += 2) {
                int va = (a[i] & 0xFF) | (a[i + 1] << 8);
                int vb = (b[i] & 0xFF) | (b[i + 1] << 8);
                if (Math.abs(va - vb) > 1) {
                    throw new IllegalStateException("rmsNorm on the " + path + " path differs from the scalar reference at element " + i / 2);
                }
            }
        }
    }

    @Benchmark
    public Tensor rmsNorm() {
        backend.rmsNorm(x, weight, 1e-6f, y);
        return y;
    }

    @Benchmark
    public Tensor quantizeActivations() {
        backend.quantizeActivations(x, q, scales, 128);
        return q;
    }

    @TearDown(Level.Trial)
    public void close() {
        x.close();
        weight.close();
        y.close();
        q.close();
        scales.close();
    }
}

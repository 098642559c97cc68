package io.github.ds4j.bench.cuda;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.cuda.CudaProvider;
import io.github.ds4j.cuda.internal.CudaBackend;
import io.github.ds4j.cuda.internal.CudaDriver;
import io.github.ds4j.cuda.internal.CudaLauncher;
import io.github.ds4j.cuda.internal.UtilKernels;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.Probe;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Host cost of one kernel launch through ds4j's bindings: {@code noopKernel} is the launcher
 * alone (argument marshalling, context, cuLaunchKernel) on the empty kernel; {@code swigluOp} is a
 * whole backend op on a tiny tensor (tensor addresses, argument list, launch); {@code rawDriver}
 * is cuLaunchKernel of the empty kernel through its handle and nothing else, the floor the
 * other two are compared with. Each invocation
 * queues {@value #BATCH} launches and then waits for the stream once, so the score is the host
 * time per launch plus 1/{@value #BATCH} of a synchronization; the GPU runs empty kernels faster
 * than the host can queue them. Without a GPU it prints the reason and measures nothing.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class LaunchOverheadBenchmark {
    static final int BATCH = 256;

    private CudaBackend gpu;
    private CudaLauncher launcher;
    private Tensor x;
    private Tensor y;
    private long noop;

    @Setup
    public void open() {
        Probe p = new CudaProvider().probe();
        if (!p.isAvailable()) {
            System.out.println("LaunchOverheadBenchmark: no CUDA device, nothing measured: " + p.reason());
            return;
        }
        gpu = CudaBackend.open(0);
        launcher = gpu.launcher();
        float[] v = {-3f, -0.5f, 0.25f, 1f, 2.5f, 7f, 12f, -11f};
        try (Tensor h = Tensor.fromFloats(v, DType.F32, Shape.of(1, v.length))) {
            x = Tensor.of(gpu.allocate(32), DType.F32, Shape.of(1, v.length), true);
            x.copyFrom(h);
            y = Tensor.of(gpu.allocate(32), DType.F32, Shape.of(1, v.length), true);
            // verify once that the op the benchmark launches computes what the CPU does
            gpu.swiglu(x, x, 10f, y);
            try (Tensor ref = Tensor.allocate(DType.F32, Shape.of(1, v.length))) {
                CpuBackend.scalarReference().swiglu(h, h, 10f, ref);
                float[] want = ref.toFloatArray();
                float[] got = y.toFloatArray();
                for (int i = 0; i < want.length; i++) {
                    if (Math.abs(want[i] - got[i]) > 1e-6f * Math.max(1f, Math.abs(want[i]))) {
                        throw new IllegalStateException("swiglu on the GPU gives " + got[i] + ", the CPU " + want[i]);
                    }
                }
            }
        }
        UtilKernels.noop(launcher);
        gpu.synchronize();
        noop = launcher.functionHandle(UtilKernels.FAMILY, "ds4j_util_noop");
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void rawDriver() {
        if (gpu == null) {
            return;
        }
        gpu.context().makeCurrent();
        long stream = gpu.stream().handle();
        for (int i = 0; i < BATCH; i++) {
            CudaDriver.check(CudaDriver.launchKernel(noop, 1, 1, 1, 32, 1, 1, 0, stream, MemorySegment.NULL), "cuLaunchKernel");
        }
        gpu.synchronize();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void noopKernel() {
        if (gpu == null) {
            return;
        }
        for (int i = 0; i < BATCH; i++) {
            UtilKernels.noop(launcher);
        }
        gpu.synchronize();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void swigluOp() {
        if (gpu == null) {
            return;
        }
        for (int i = 0; i < BATCH; i++) {
            gpu.swiglu(x, x, 10f, y);
        }
        gpu.synchronize();
    }

    @TearDown
    public void close() {
        if (gpu != null) {
            x.close();
            y.close();
            gpu.close();
            gpu = null;
        }
    }
}

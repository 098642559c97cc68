package io.github.ds4j.internal.cpu;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Device;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Storage;
import io.github.ds4j.Tensor;
import io.github.ds4j.spi.Backend;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * The CPU backend: host memory from shared arenas, and every op as a fast path (SIMD, all cores)
 * or, with {@code -Dds4j.cpu.path=scalar}, the scalar reference. It is the numerical reference
 * the accelerator backends are tested against.
 */
public final class CpuBackend implements Backend {
    /** Host memory of every CPU backend instance. */
    private static final HostPool POOL = new HostPool();
    private static final CpuBackend SHARED = new CpuBackend(!"scalar".equals(System.getProperty("ds4j.cpu.path")));

    private final boolean fast;
    private final CpuAttentionKernels attention;
    private final CpuMoeKernels moe;
    private final CpuHyperConnectionKernels hyperConnections;

    private CpuBackend(boolean fast) {
        this.fast = fast;
        this.attention = new CpuAttentionKernels(fast);
        this.moe = new CpuMoeKernels(this);
        this.hyperConnections = new CpuHyperConnectionKernels(fast);
    }

    /** The process-wide CPU backend (it holds no resources). */
    public static CpuBackend shared() {
        return SHARED;
    }

    /** A CPU backend that always runs the scalar reference, for tests and cross-checks. */
    public static CpuBackend scalarReference() {
        return new CpuBackend(false);
    }

    /** True when this backend runs the fast paths. */
    public boolean isFast() {
        return fast;
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public String description() {
        return "CPU, " + (fast ? CpuPath.describe() : "scalar reference");
    }

    /** A new host tensor that owns its memory (zero-filled). */
    public Tensor allocateTensor(DType dtype, Shape shape) {
        return Tensor.of(allocate(Math.max(1, dtype.byteSize(shape.numel()))), dtype, shape, true);
    }

    /** Zeroed host memory, 64-byte aligned; blocks are recycled ({@link HostPool}). */
    @Override
    public Storage allocate(long bytes) {
        return POOL.allocate(bytes, this);
    }

    @Override
    public void copyFromHost(MemorySegment src, Tensor dst) {
        MemorySegment.copy(src, 0, dst.hostSegment(), 0, dst.dtype().byteSize(dst.numel()));
    }

    @Override
    public void copyToHost(Tensor src, MemorySegment dst) {
        MemorySegment.copy(src.hostSegment(), 0, dst, 0, src.dtype().byteSize(src.numel()));
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        dst.copyFrom(src);
    }

    @Override
    public void synchronize() {
    }

    @Override
    public void close() {
    }

    @Override
    public void convert(Tensor x, Tensor y) {
        run(() -> Rows.convert(x, y, CpuPath.simd()), () -> ScalarOps.convert(x, y));
    }

    @Override
    public void quantizeActivations(Tensor x, Tensor q, Tensor scales, int block) {
        run(() -> Quant.quantizeActivations(x, q, scales, block, CpuPath.simd()),
                () -> ScalarOps.quantizeActivations(x, q, scales, block));
    }

    @Override
    public void fp8Simulate(Tensor x, Tensor y, int block) {
        run(() -> Quant.fp8Simulate(x, y, block, CpuPath.simd()), () -> ScalarOps.fp8Simulate(x, y, block));
    }

    @Override
    public void fp4Simulate(Tensor x, Tensor y, int block) {
        run(() -> Quant.fp4Simulate(x, y, block, CpuPath.simd()), () -> ScalarOps.fp4Simulate(x, y, block));
    }

    @Override
    public void fp8Gemm(BlockScaled a, BlockScaled w, Tensor y) {
        if (fast) {
            Gemm.fp8(a, w, y);
        } else {
            ScalarOps.fp8Gemm(a, w, y);
        }
    }

    @Override
    public void fp4Gemm(BlockScaled a, BlockScaled w, Tensor y) {
        if (fast) {
            Gemm.fp4(a, w, y);
        } else {
            ScalarOps.fp4Gemm(a, w, y);
        }
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor y) {
        if (fast) {
            Gemm.linear(x, w, y);
        } else {
            ScalarOps.linear(x, w, y);
        }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        run(() -> Rows.rmsNorm(x, weight, eps, y, CpuPath.simd()), () -> ScalarOps.rmsNorm(x, weight, eps, y));
    }

    @Override
    public void rope(Tensor x, Tensor y, RopeSpec rope, long startPos, boolean inverse) {
        run(() -> Rows.rope(x, y, rope, startPos, inverse, CpuPath.simd()), () -> ScalarOps.rope(x, y, rope, startPos, inverse));
    }

    @Override
    public void hadamard(Tensor x, Tensor y) {
        run(() -> Rows.hadamard(x, y, CpuPath.simd()), () -> ScalarOps.hadamard(x, y));
    }

    @Override
    public void swiglu(Tensor gate, Tensor up, float limit, Tensor y) {
        run(() -> Rows.swiglu(gate, up, limit, y, CpuPath.simd()), () -> ScalarOps.swiglu(gate, up, limit, y));
    }

    @Override
    public void softmax(Tensor x, Tensor y) {
        run(() -> Rows.softmax(x, y, CpuPath.simd()), () -> ScalarOps.softmax(x, y));
    }

    @Override
    public void topK(Tensor x, int k, Tensor values, Tensor indices) {
        run(() -> Rows.topK(x, k, values, indices, CpuPath.simd()), () -> ScalarOps.topK(x, k, values, indices));
    }

    /** Runs the fast path, or on a {@link #scalarReference()} backend the scalar reference. */
    private void run(Runnable fastPath, Runnable reference) {
        (fast ? fastPath : reference).run();
    }

    @Override
    public Optional<io.github.ds4j.spi.AttentionKernels> attentionKernels() {
        return Optional.of(attention);
    }

    @Override
    public Optional<io.github.ds4j.spi.MoeKernels> moeKernels() {
        return Optional.of(moe);
    }

    @Override
    public Optional<io.github.ds4j.spi.HyperConnectionKernels> hyperConnectionKernels() {
        return Optional.of(hyperConnections);
    }
}

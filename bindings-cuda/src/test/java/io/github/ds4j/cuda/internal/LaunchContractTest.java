package io.github.ds4j.cuda.internal;

import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Storage;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kernel launch the Java launchers make, checked against the C signature in
 * kernels/cuda/<family>.cu (argument count and kinds, launch bounds) and CUDA's limits. Runs
 * without a GPU: the launches are recorded, not run, over host tensors or address-only tensors.
 */
class LaunchContractTest {
    static final List<String> FAMILIES = List.of("convert", "quant", "rmsnorm", "softmax", "swiglu", "rope",
            "hadamard", "topk", "linear", "util");

    private static Map<String, KernelSignatures.Signature> signatures() {
        Map<String, KernelSignatures.Signature> all = new HashMap<>();
        for (String f : FAMILIES) {
            Map<String, KernelSignatures.Signature> s = KernelSignatures.of(f);
            assertTrue(!s.isEmpty(), f + ".cu declares no ds4j_ entry point");
            all.putAll(s);
        }
        return all;
    }

    /** A tensor that only carries an address and a shape (never dereferenced): any size, no memory. */
    private static Tensor virtual(DType dtype, long... dims) {
        Storage s = Storage.borrowed(MemorySegment.ofAddress(1L << 40).reinterpret(Long.MAX_VALUE / 2), CpuBackend.shared());
        return Tensor.of(s, dtype, Shape.of(dims), false);
    }

    private static Tensor host(DType dtype, long... dims) {
        return Tensor.allocate(dtype, Shape.of(dims));
    }

    /** Calls every launcher over a spread of shapes, dtypes and strided views. */
    private static void launchEveryOp(KernelLauncher k) {
        for (DType in : new DType[] {DType.F32, DType.BF16}) {
            for (DType out : new DType[] {DType.F32, DType.BF16, DType.F16}) {
                Tensor x = host(in, 3, 40).slice(1, 4, 36);
                Tensor y = host(out, 3, 32);
                ConvertKernels.convert(k, x, y);
                if (out != DType.F16) {
                    QuantKernels.fp8Simulate(k, x, y, 16);
                    QuantKernels.fp4Simulate(k, x, y, 32);
                    RmsNormKernels.rmsNorm(k, x, null, 1e-6f, y);
                    RmsNormKernels.rmsNorm(k, x, host(DType.BF16, 32), 1e-6f, y);
                    SoftmaxKernels.softmax(k, x, y);
                    SwigluKernels.swiglu(k, x, x, 10f, y);
                    RopeKernels.rope(k, x, y, RopeSpec.plain(32, 10000), 0x1000, 7, in == DType.BF16);
                    HadamardKernels.hadamard(k, x, y, 0);
                    LinearKernels.linear(k, x, host(in, 5, 32), host(out, 3, 5));
                }
            }
        }
        QuantKernels.quantizeActivations(k, host(DType.F32, 4, 256), host(DType.F8_E4M3, 4, 256), host(DType.F8_E8M0, 4, 2), 128);
        QuantKernels.quantizeActivations(k, host(DType.BF16, 4, 256), host(DType.F8_E4M3, 4, 256), host(DType.F32, 4, 4), 64);
        HadamardKernels.hadamard(k, virtual(DType.F32, 3, 1 << 17), virtual(DType.F32, 3, 1 << 17), 0x2000);
        TopKKernels.topK(k, host(DType.F32, 7, 300), 6, host(DType.F32, 7, 6), host(DType.I32, 7, 6), 0);
        TopKKernels.topK(k, virtual(DType.BF16, 9, 20000), 5000, virtual(DType.F32, 9, 5000), virtual(DType.I32, 9, 5000), 0x3000);
        UtilKernels.noop(k);
    }

    @Test
    void everyLaunchMatchesTheCSignatureOfItsKernel() {
        Map<String, KernelSignatures.Signature> sigs = signatures();
        RecordingLauncher k = new RecordingLauncher();
        launchEveryOp(k);
        Set<String> launched = new HashSet<>();
        for (RecordingLauncher.Launch l : k.launches) {
            KernelSignatures.Signature s = sigs.get(l.kernel());
            assertNotNull(s, l.kernel() + " is not an entry point of any kernels/cuda/*.cu");
            assertEquals(s.family(), l.family(), l.kernel() + ": launched with the wrong family");
            assertEquals(s.params(), l.args().stream().map(KernelSignatures::kindOf).toList(),
                    l.kernel() + ": Java arguments do not match the C parameters");
            int threads = l.block().x() * l.block().y() * l.block().z();
            assertTrue(threads <= s.launchBounds(), l.kernel() + ": " + threads + " threads over __launch_bounds__ " + s.launchBounds());
            assertEquals(0, threads % 32, l.kernel() + ": blocks must be whole warps");
            launched.add(l.kernel());
        }
        Set<String> declared = new HashSet<>(sigs.keySet());
        declared.removeAll(launched);
        assertTrue(declared.isEmpty(), "entry points no launcher calls: " + declared);
    }

    /** Kernels whose thread-to-tile map needs exactly their __launch_bounds__ threads. */
    private static final Set<String> EXACT_BLOCK = Set.of("ds4j_linear_fma", "ds4j_linear_bf16_mma");

    @Test
    void tileKernelsGetExactlyTheBlockTheirThreadMapAssumes() {
        Map<String, KernelSignatures.Signature> sigs = signatures();
        RecordingLauncher k = new RecordingLauncher();
        launchEveryOp(k);
        Set<String> seen = new HashSet<>();
        for (RecordingLauncher.Launch l : k.launches) {
            if (EXACT_BLOCK.contains(l.kernel())) {
                assertEquals(sigs.get(l.kernel()).launchBounds(), l.block().x() * l.block().y() * l.block().z(), l.kernel());
                seen.add(l.kernel());
            }
        }
        assertEquals(EXACT_BLOCK, seen);
    }

    @Test
    void javaLaunchConstantsMirrorTheKernelSources() {
        // block sizes, tiles and the top-k candidate limit are compiled into the kernels: a Java
        // copy that drifts launches wrong grids or sizes scratch for the wrong candidate count
        Object[][] mirrored = {
            {"quant", "QUANT_THREADS", QuantKernels.QUANT_THREADS},
            {"convert", "ROW_THREADS", ConvertKernels.ROW_THREADS},
            {"rmsnorm", "ROW_THREADS", RmsNormKernels.ROW_THREADS},
            {"softmax", "ROW_THREADS", SoftmaxKernels.ROW_THREADS},
            {"swiglu", "ROW_THREADS", SwigluKernels.ROW_THREADS},
            {"rope", "ROW_THREADS", RopeKernels.ROW_THREADS},
            {"hadamard", "ROW_MAX_THREADS", HadamardKernels.ROW_MAX_THREADS},
            {"hadamard", "FLAT_THREADS", HadamardKernels.FLAT_THREADS},
            {"topk", "TOPK_THREADS", TopKKernels.TOPK_THREADS},
            {"topk", "SMEM_CANDIDATES", TopKKernels.SMEM_CANDIDATES},
            {"linear", "FMA_BM", LinearKernels.FMA_BM},
            {"linear", "FMA_BN", LinearKernels.FMA_BN},
            {"linear", "FMA_THREADS", LinearKernels.FMA_THREADS},
            {"linear", "MMA_BM", LinearKernels.MMA_BM},
            {"linear", "MMA_BN", LinearKernels.MMA_BN},
            {"linear", "MMA_THREADS", LinearKernels.MMA_THREADS},
        };
        for (Object[] m : mirrored) {
            Integer c = KernelSignatures.constants((String) m[0]).get((String) m[1]);
            assertNotNull(c, m[0] + ".cu has no constexpr int " + m[1]);
            assertEquals(c, (Integer) m[2], m[0] + ".cu " + m[1] + " vs the Java launcher's copy");
        }
    }

    @Test
    void gridsStayWithinCudaLimitsForHugeShapes() {
        RecordingLauncher k = new RecordingLauncher();
        long rows = 1L << 26;
        Tensor x = virtual(DType.BF16, rows, 4096);
        Tensor y = virtual(DType.BF16, rows, 4096);
        ConvertKernels.convert(k, x, y);
        QuantKernels.fp4Simulate(k, x, y, 32);
        SoftmaxKernels.softmax(k, x, y);
        HadamardKernels.hadamard(k, x, y, 0);
        TopKKernels.topK(k, x, 1024, virtual(DType.F32, rows, 1024), virtual(DType.I32, rows, 1024), 0);
        LinearKernels.linear(k, x, virtual(DType.BF16, 1 << 20, 4096), virtual(DType.F32, rows, 1 << 20));
        LinearKernels.linear(k, virtual(DType.F32, rows, 64), virtual(DType.F32, 1 << 20, 64), virtual(DType.F32, rows, 1 << 20));
        for (RecordingLauncher.Launch l : k.launches) {
            assertTrue(l.grid().x() >= 1 && l.grid().y() <= 65535, l.kernel() + " grid " + l.grid());
        }
    }

    @Test
    void rowArgumentsCarryAddressDtypeCodeAndRowStride() {
        Tensor parent = host(DType.BF16, 5, 40);
        Tensor view = parent.slice(1, 8, 40);
        Rows r = Rows.real(view);
        assertEquals(parent.storage().segment().address() + 16, r.address());
        assertEquals(DTypeCodes.BF16, r.dtype());
        assertEquals(40, r.stride());
        assertEquals(5, r.rows());
        assertEquals(32, r.cols());
        RecordingLauncher k = new RecordingLauncher();
        ConvertKernels.convert(k, view, host(DType.F32, 5, 32));
        List<KernelArgs.Arg> a = k.launches.get(0).args();
        assertEquals(new KernelArgs.Ptr(r.address()), a.get(0));
        assertEquals(new KernelArgs.I32(DTypeCodes.BF16), a.get(1));
        assertEquals(new KernelArgs.I64(40), a.get(2));
        assertEquals(new KernelArgs.I32(DTypeCodes.F32), a.get(4));
        assertEquals(new KernelArgs.I64(32), a.get(5));
        assertEquals(new KernelArgs.I64(5), a.get(6));
        assertEquals(new KernelArgs.I32(32), a.get(7));
    }

    @Test
    void badArgumentsAreRejectedBeforeAnyLaunch() {
        RecordingLauncher k = new RecordingLauncher();
        Tensor x = host(DType.F32, 4, 96);
        Tensor y = host(DType.F32, 4, 96);
        assertThrows(IllegalArgumentException.class, () -> HadamardKernels.hadamard(k, x, y, 0));
        assertThrows(IllegalArgumentException.class, () -> TopKKernels.topK(k, x, 0, host(DType.F32, 4, 1), host(DType.I32, 4, 1), 0));
        assertThrows(IllegalArgumentException.class, () -> TopKKernels.topK(k, x, 97, host(DType.F32, 4, 97), host(DType.I32, 4, 97), 0));
        assertThrows(IllegalArgumentException.class, () -> TopKKernels.topK(k, virtual(DType.F32, 2, 9000), 5000,
                virtual(DType.F32, 2, 5000), virtual(DType.I32, 2, 5000), 0));
        assertThrows(IllegalArgumentException.class, () -> TopKKernels.topK(k, x, 6, host(DType.BF16, 4, 6), host(DType.I32, 4, 6), 0));
        assertThrows(IllegalArgumentException.class, () -> TopKKernels.topK(k, x, 6, host(DType.F32, 4, 6), host(DType.I32, 4, 5), 0));
        assertThrows(IllegalArgumentException.class, () -> TopKKernels.topK(k, x, 6, host(DType.F32, 3, 6), host(DType.I32, 3, 6), 0));
        assertThrows(IllegalArgumentException.class, () -> HadamardKernels.hadamard(k, host(DType.F32, 4, 64), host(DType.F32, 4, 32), 0));
        assertThrows(IllegalArgumentException.class, () -> LinearKernels.linear(k, x, host(DType.F32, 8, 95), host(DType.F32, 4, 8)));
        assertThrows(IllegalArgumentException.class, () -> QuantKernels.fp8Simulate(k, x, y, 0));
        assertThrows(IllegalArgumentException.class, () -> QuantKernels.quantizeActivations(k, x, host(DType.F8_E4M3, 4, 96),
                host(DType.BF16, 4, 1), 96));
        // outputs and second operands smaller than x: the kernels size everything by x
        Tensor narrow = host(DType.F32, 4, 64);
        Tensor fewRows = host(DType.F32, 3, 96);
        assertThrows(IllegalArgumentException.class, () -> ConvertKernels.convert(k, x, narrow));
        assertThrows(IllegalArgumentException.class, () -> SoftmaxKernels.softmax(k, x, fewRows));
        assertThrows(IllegalArgumentException.class, () -> SwigluKernels.swiglu(k, x, narrow, 10f, y));
        assertThrows(IllegalArgumentException.class, () -> SwigluKernels.swiglu(k, x, x, 10f, fewRows));
        assertThrows(IllegalArgumentException.class, () -> RmsNormKernels.rmsNorm(k, x, null, 1e-6f, narrow));
        assertThrows(IllegalArgumentException.class, () -> RmsNormKernels.rmsNorm(k, x, host(DType.F32, 95), 1e-6f, y));
        // a column of a matrix: 96 elements, stride 2 (the kernel reads weight[c])
        assertThrows(IllegalArgumentException.class, () -> RmsNormKernels.rmsNorm(k, x, host(DType.F32, 96, 2).select(1, 0),
                1e-6f, y));
        assertThrows(IllegalArgumentException.class, () -> QuantKernels.fp4Simulate(k, x, narrow, 32));
        assertThrows(IllegalArgumentException.class, () -> QuantKernels.quantizeActivations(k, x, host(DType.BF16, 4, 96),
                host(DType.F32, 4, 3), 32));
        assertThrows(IllegalArgumentException.class, () -> QuantKernels.quantizeActivations(k, x, host(DType.F8_E4M3, 4, 96),
                host(DType.F32, 4, 2), 32));
        assertThrows(IllegalArgumentException.class, () -> QuantKernels.quantizeActivations(k, x, host(DType.F8_E4M3, 4, 64),
                host(DType.F32, 4, 3), 32));
        assertThrows(IllegalArgumentException.class, () -> LinearKernels.linear(k, x, host(DType.F32, 8, 96), host(DType.F32, 4, 7)));
        assertThrows(IllegalArgumentException.class, () -> RopeKernels.rope(k, host(DType.F32, 2, 3, 6), host(DType.F32, 2, 3, 6),
                RopeSpec.plain(4, 10000), 1, 0, false)); // 3 pairs over a table of 2
        assertThrows(IllegalArgumentException.class, () -> RopeKernels.rope(k, host(DType.F32, 2, 3, 4), host(DType.F32, 2, 2, 4),
                RopeSpec.plain(4, 10000), 1, 0, false));
        assertThrows(IllegalArgumentException.class, () -> RopeKernels.rope(k, host(DType.F32, 2, 4), host(DType.F32, 2, 4),
                RopeSpec.plain(4, 10000), 1, -1, false));
        assertThrows(IllegalArgumentException.class, () -> ConvertKernels.convert(k, host(DType.I32, 2, 2), host(DType.F32, 2, 2)));
        assertThrows(IllegalArgumentException.class, () -> HadamardKernels.hadamard(k, virtual(DType.F32, 2, 1 << 17),
                virtual(DType.F32, 2, 1 << 17), 0));
        assertTrue(k.launches.isEmpty(), "launched despite bad arguments: " + k.launches);
    }

    @Test
    void topKAndHadamardChecksComeBeforeTheScratchIsSized() {
        // CudaBackend sizes and allocates scratch from k and d: a bad k must fail as an argument
        // error first, not as an allocation of k * blocks * 8 bytes
        Tensor x = virtual(DType.F32, 2, 9000);
        assertThrows(IllegalArgumentException.class, () -> TopKKernels.check(x, 1 << 30, virtual(DType.F32, 2, 1 << 30),
                virtual(DType.I32, 2, 1 << 30)));
        assertThrows(IllegalArgumentException.class, () -> HadamardKernels.check(virtual(DType.F32, 2, 9000), x));
        TopKKernels.check(x, 5000, virtual(DType.F32, 2, 5000), virtual(DType.I32, 2, 5000));
        HadamardKernels.check(virtual(DType.F32, 2, 8192), virtual(DType.BF16, 2, 8192));
    }

    @Test
    void launchChecksRejectGeometryCudaWouldRefuse() {
        KernelArgs none = new KernelArgs();
        assertThrows(IllegalArgumentException.class, () -> LaunchChecks.check("f", "k", Dim3.of(1), Dim3.of(1025), 0, none, 49152));
        assertThrows(IllegalArgumentException.class, () -> LaunchChecks.check("f", "k", Dim3.of(1), Dim3.of(8, 8, 65), 0, none, 49152));
        assertThrows(IllegalArgumentException.class, () -> LaunchChecks.check("f", "k", Dim3.of(1, 65536), Dim3.of(32), 0, none, 49152));
        assertThrows(IllegalArgumentException.class, () -> LaunchChecks.check("f", "k", Dim3.of(1), Dim3.of(32), 49153, none, 49152));
        assertThrows(IllegalArgumentException.class, () -> LaunchChecks.check("f", "k", Dim3.of(1), Dim3.of(32), -1, none, 49152));
        assertThrows(IllegalArgumentException.class, () -> LaunchChecks.check("", "k", Dim3.of(1), Dim3.of(32), 0, none, 49152));
        assertThrows(IllegalArgumentException.class, () -> LaunchChecks.check("f", null, Dim3.of(1), Dim3.of(32), 0, none, 49152));
        KernelArgs many = new KernelArgs();
        for (int i = 0; i <= LaunchChecks.MAX_ARGS; i++) {
            many.i32(i);
        }
        assertThrows(IllegalArgumentException.class, () -> LaunchChecks.check("f", "k", Dim3.of(1), Dim3.of(32), 0, many, 49152));
        LaunchChecks.check("f", "k", Dim3.of(Integer.MAX_VALUE, 65535, 65535), Dim3.of(32, 32), 49152, none, 49152);
    }

    @Test
    void nativeResourcesRejectBadSizesBeforeTheDriver() {
        // no context is needed: the size check comes first
        assertThrows(IllegalArgumentException.class, () -> DeviceMemory.allocate(null, 0));
        assertThrows(IllegalArgumentException.class, () -> PinnedBuffer.allocate(null, -5));
    }

    @Test
    void ropeLaunchGetsTheFrequencyTableAndPositions() {
        RecordingLauncher k = new RecordingLauncher();
        Tensor x = host(DType.F32, 6, 4, 64);
        RopeKernels.rope(k, x, x, RopeSpec.plain(64, 10000), 0xABC0, 123, true);
        List<KernelArgs.Arg> a = k.launches.get(0).args();
        assertEquals(new KernelArgs.I64(24), a.get(6)); // rows
        assertEquals(new KernelArgs.I32(32), a.get(7)); // pairs
        assertEquals(new KernelArgs.I64(4), a.get(8));  // rows per position
        assertEquals(new KernelArgs.I64(123), a.get(9));
        assertEquals(new KernelArgs.Ptr(0xABC0), a.get(10));
        assertEquals(new KernelArgs.I32(1), a.get(11));
        assertEquals(RopeSpec.plain(64, 10000).frequencies().length, 32);
    }

    @Test
    void ropeOfOneVectorHasOneRowPerPositionLikeTheCpu() {
        // x [R]: the CPU reference treats it as one row at startPos; rows / dim(0) would be 1 / R = 0
        RecordingLauncher k = new RecordingLauncher();
        Tensor x = host(DType.F32, 64);
        RopeKernels.rope(k, x, x, RopeSpec.plain(64, 10000), 0xABC0, 5, false);
        List<KernelArgs.Arg> a = k.launches.get(0).args();
        assertEquals(new KernelArgs.I64(1), a.get(6)); // rows
        assertEquals(new KernelArgs.I64(1), a.get(8)); // rows per position
    }
}

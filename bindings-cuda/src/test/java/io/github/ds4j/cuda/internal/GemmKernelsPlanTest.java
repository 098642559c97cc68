package io.github.ds4j.cuda.internal;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GEMM launch plans, checked without a GPU: a recording launcher stands in for the device, and
 * host tensors provide addresses. What runs on the device is checked by CudaGemmTest.
 */
class GemmKernelsPlanTest {
    /** A device that records launches instead of running them. */
    private record FakeDevice(int computeCapability, boolean sm80Mode, int multiprocessors, int maxSharedPerBlock,
                              List<String> launched) implements KernelLauncher {
        FakeDevice(int cc, boolean sm80) {
            this(cc, sm80, 132, 232448, new ArrayList<>());
        }

        @Override
        public void launch(String family, String kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args) {
            launched.add(family + "/" + kernel);
        }
    }

    private static final FakeDevice H100 = new FakeDevice(90, false);

    private final List<Tensor> owned = new ArrayList<>();

    @AfterEach
    void closeTensors() {
        System.clearProperty(GemmVariant.PROPERTY);
        owned.forEach(Tensor::close);
    }

    private Tensor host(DType dtype, long... dims) {
        Tensor t = Tensor.allocate(dtype, Shape.of(dims));
        owned.add(t);
        return t;
    }

    private BlockScaled activations(int m, int k, DType scaleType) {
        return BlockScaled.fp8Activations(host(DType.F8_E4M3, m, k), host(scaleType, m, k / 128), 128);
    }

    private BlockScaled weights(int n, int k, boolean fp4, DType scaleType) {
        return fp4 ? BlockScaled.mxfp4Weight(host(DType.FP4_E2M1, n, k), host(scaleType, n, k / 32))
                : BlockScaled.fp8Weight(host(DType.F8_E4M3, n, k), host(scaleType, (n + 127) / 128, k / 128));
    }

    private GemmOperands operands(int m, int n, int k, boolean fp4) {
        return GemmOperands.of(activations(m, k, DType.F8_E8M0), weights(n, k, fp4, DType.F8_E8M0), host(DType.BF16, m, n), fp4);
    }

    private static GemmLaunch only(List<GemmLaunch> plan) {
        assertEquals(1, plan.size(), "launches");
        return plan.get(0);
    }

    @Test
    void hopperRunsSkinnyKernelUpToSixtyFourRowsAndWgmmaAbove() {
        for (boolean fp4 : new boolean[] {false, true}) {
            String fam = fp4 ? "fp4_gemm" : "fp8_gemm";
            GemmLaunch one = only(GemmKernels.plan(H100, operands(1, 4096, 7168, fp4)));
            assertEquals("ds4j_" + fam + "_skinny_m8_c8", one.kernel());
            assertEquals(Dim3.of(64, 8), one.grid());
            assertEquals(Dim3.of(128), one.block());
            assertEquals(0, one.sharedBytes());

            assertEquals("ds4j_" + fam + "_skinny_m16_c8", only(GemmKernels.plan(H100, operands(9, 4096, 4096, fp4))).kernel());
            assertEquals("ds4j_" + fam + "_skinny_m64_c8", only(GemmKernels.plan(H100, operands(64, 4096, 4096, fp4))).kernel());

            GemmLaunch big = only(GemmKernels.plan(H100, operands(65, 300, 256, fp4)));
            assertEquals("ds4j_" + fam + "_wgmma", big.kernel());
            assertEquals(Dim3.of(1 * 3), big.grid(), "ceil(65/128) * ceil(300/128) tiles");
            assertEquals(Dim3.of(384), big.block());
            assertEquals(fp4 ? 226384 : 197728, big.sharedBytes());
            assertEquals(fam, big.family());
        }
    }

    @Test
    void otherGpusAndTheSm80PtxUseTheMma80Kernel() {
        for (FakeDevice d : List.of(new FakeDevice(90, true), new FakeDevice(80, false), new FakeDevice(89, false),
                new FakeDevice(100, false))) {
            for (int m : new int[] {1, 300}) {
                GemmLaunch l = only(GemmKernels.plan(d, operands(m, 257, 384, false)));
                assertEquals("ds4j_fp8_gemm_mma80", l.kernel(), "sm_" + d.computeCapability() + " sm80Mode " + d.sm80Mode());
                assertEquals(Dim3.of(3, (m + 127) / 128), l.grid());
                assertEquals(Dim3.of(256), l.block());
                assertEquals(73728, l.sharedBytes());
            }
        }
        FakeDevice turing = new FakeDevice(75, false);
        assertEquals("ds4j_fp4_gemm_simple", only(GemmKernels.plan(turing, operands(3, 40, 128, true))).kernel());
    }

    @Test
    void argumentsFollowTheKernelSignatureWithViewOffsetsAndRowStride() {
        int m = 5;
        int n = 40;
        int k = 256;
        Tensor aAll = host(DType.F8_E4M3, m + 2, k);
        Tensor aValues = aAll.slice(0, 2, 2 + m);  // rows 2.. of a larger tensor: still contiguous
        Tensor aScales = host(DType.F32, m, k / 128);
        BlockScaled a = BlockScaled.fp8Activations(aValues, aScales, 128);
        BlockScaled w = weights(n, k, true, DType.F32);
        Tensor yWide = host(DType.BF16, m, n + 24);
        Tensor y = yWide.slice(1, 8, 8 + n);  // a column slice: row stride n + 24

        GemmLaunch l = only(GemmKernels.plan(H100, GemmOperands.of(a, w, y, true)));
        List<KernelArgs.Arg> args = l.args().list();
        assertEquals(10, args.size());
        long aBase = aAll.storage().segment().address();
        assertEquals(new KernelArgs.Ptr(aBase + 2L * k), args.get(0));
        assertEquals(new KernelArgs.Ptr(aScales.storage().segment().address()), args.get(1));
        assertEquals(new KernelArgs.Ptr(w.values().storage().segment().address()), args.get(2));
        assertEquals(new KernelArgs.Ptr(w.scales().storage().segment().address()), args.get(3));
        assertEquals(new KernelArgs.Ptr(yWide.storage().segment().address() + 8 * 2), args.get(4));
        assertEquals(new KernelArgs.I32(m), args.get(5));
        assertEquals(new KernelArgs.I32(n), args.get(6));
        assertEquals(new KernelArgs.I32(k), args.get(7));
        assertEquals(new KernelArgs.I64(n + 24), args.get(8));
        assertEquals(new KernelArgs.I32(GemmOperands.FLAG_A_SCALE_F32 | GemmOperands.FLAG_W_SCALE_F32 | GemmOperands.FLAG_OUT_BF16),
                args.get(9));

        GemmOperands f32 = GemmOperands.of(activations(m, k, DType.F8_E8M0), weights(n, k, false, DType.F8_E8M0),
                host(DType.F32, m, n), false);
        assertEquals(0, f32.flags());
    }

    @Test
    void forcedVariantRunsOrFailsNamingTheReason() {
        System.setProperty(GemmVariant.PROPERTY, "simple");
        GemmLaunch s = only(GemmKernels.plan(H100, operands(300, 257, 384, false)));
        assertEquals("ds4j_fp8_gemm_simple", s.kernel());
        assertEquals(Dim3.of(17, 19), s.grid());
        assertEquals(Dim3.of(16, 16), s.block());

        System.setProperty(GemmVariant.PROPERTY, "mma80");
        assertEquals("ds4j_fp4_gemm_mma80", only(GemmKernels.plan(H100, operands(7, 129, 128, true))).kernel());

        System.setProperty(GemmVariant.PROPERTY, "wgmma");
        assertEquals("ds4j_fp4_gemm_wgmma", only(GemmKernels.plan(H100, operands(7, 129, 128, true))).kernel());
        IllegalStateException ampere = assertThrows(IllegalStateException.class,
                () -> GemmKernels.plan(new FakeDevice(80, false), operands(7, 129, 128, true)));
        assertTrue(ampere.getMessage().startsWith("ds4j.cuda.gemm=wgmma: needs the sm_90a code"), ampere.getMessage());
        assertTrue(ampere.getMessage().contains("sm_80"), ampere.getMessage());

        System.setProperty(GemmVariant.PROPERTY, "skinny");
        IllegalStateException tall = assertThrows(IllegalStateException.class, () -> GemmKernels.plan(H100, operands(65, 129, 128, false)));
        assertEquals("ds4j.cuda.gemm=skinny: handles M <= 64, got M = 65", tall.getMessage());
        IllegalStateException ptx = assertThrows(IllegalStateException.class,
                () -> GemmKernels.plan(new FakeDevice(90, true), operands(1, 129, 128, false)));
        assertTrue(ptx.getMessage().contains("running the compute_80 PTX"), ptx.getMessage());

        System.setProperty(GemmVariant.PROPERTY, "fastest");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> GemmKernels.plan(H100, operands(1, 8, 128, false)));
        assertEquals("ds4j.cuda.gemm: expected auto, simple, mma80, skinny or wgmma, got \"fastest\"", bad.getMessage());
    }

    @Test
    void misalignedOperandsUseTheSimpleKernelOrFailWhenAFastOneIsForced() {
        int m = 3;
        int k = 128;
        Tensor flat = host(DType.F8_E4M3, 1 + m * k);
        Tensor aValues = flat.slice(0, 1, 1 + m * k).reshape(m, k);  // starts one byte in
        BlockScaled a = BlockScaled.fp8Activations(aValues, host(DType.F8_E8M0, m, 1), 128);
        GemmOperands o = GemmOperands.of(a, weights(64, k, false, DType.F8_E8M0), host(DType.F32, m, 64), false);
        assertEquals(1, o.a() % 16);
        assertEquals("ds4j_fp8_gemm_simple", only(GemmKernels.plan(H100, o)).kernel());
        assertEquals("ds4j_fp8_gemm_simple", only(GemmKernels.plan(new FakeDevice(80, false), o)).kernel());
        System.setProperty(GemmVariant.PROPERTY, "mma80");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> GemmKernels.plan(H100, o));
        assertEquals("ds4j.cuda.gemm=mma80: needs a and w 16-byte aligned", e.getMessage());
    }

    @Test
    void skinnyClusterSplitsKUntilTwoCtasPerMultiprocessor() {
        assertEquals(8, GemmKernels.skinnyCluster(4096, 7168, 132));   // 64 row CTAs
        assertEquals(2, GemmKernels.skinnyCluster(16384, 7168, 132));  // 256 -> 512
        assertEquals(1, GemmKernels.skinnyCluster(32768, 4096, 132));  // 512 already
        assertEquals(2, GemmKernels.skinnyCluster(4096, 256, 132));    // only 2 K blocks to split
        assertEquals(1, GemmKernels.skinnyCluster(100, 128, 132));
        assertEquals(8, GemmKernels.skinnyRows(1));
        assertEquals(8, GemmKernels.skinnyRows(8));
        assertEquals(32, GemmKernels.skinnyRows(17));
        assertEquals(64, GemmKernels.skinnyRows(64));
    }

    @Test
    void rowsPastTheGridLimitAreLaunchedInChunks() {
        int m = GemmKernels.MAX_GRID_Y * 16 + 5;
        int k = 256;
        GemmOperands o = new GemmOperands(1 << 20, 2 << 20, 3 << 20, 4 << 20, 5L << 40, m, 33, k, 40,
                GemmOperands.FLAG_A_SCALE_F32 | GemmOperands.FLAG_OUT_BF16, false);
        System.setProperty(GemmVariant.PROPERTY, "simple");
        List<GemmLaunch> plan = GemmKernels.plan(H100, o);
        assertEquals(2, plan.size());
        assertEquals(Dim3.of(3, GemmKernels.MAX_GRID_Y), plan.get(0).grid());
        assertEquals(Dim3.of(3, 1), plan.get(1).grid());
        List<KernelArgs.Arg> second = plan.get(1).args().list();
        long first = GemmKernels.MAX_GRID_Y * 16L;
        assertEquals(new KernelArgs.Ptr((1 << 20) + first * k), second.get(0));
        assertEquals(new KernelArgs.Ptr((2 << 20) + first * (k / 128) * 4), second.get(1));
        assertEquals(new KernelArgs.Ptr(5L << 40), plan.get(0).args().list().get(4));
        assertEquals(new KernelArgs.Ptr((5L << 40) + first * 40 * 2), second.get(4));
        assertEquals(new KernelArgs.I32(5), second.get(5));
    }

    @Test
    void emptyOutputLaunchesNothingAndEmptyKUsesTheSimpleKernel() {
        GemmOperands noRows = new GemmOperands(0, 0, 0, 0, 0, 0, 8, 128, 8, 0, false);
        assertTrue(GemmKernels.plan(H100, noRows).isEmpty());
        GemmOperands noK = new GemmOperands(0, 0, 0, 0, 0, 4, 8, 0, 8, 0, true);
        assertEquals("ds4j_fp4_gemm_simple", only(GemmKernels.plan(H100, noK)).kernel());
    }

    @Test
    void badOperandsAreRejectedNamingTheArgument() {
        BlockScaled a = activations(4, 256, DType.F8_E8M0);
        IllegalArgumentException k = assertThrows(IllegalArgumentException.class,
                () -> GemmOperands.of(a, weights(8, 384, false, DType.F8_E8M0), host(DType.F32, 4, 8), false));
        assertEquals("w: expected K = 256 columns to match a, got [8, 384]", k.getMessage());
        IllegalArgumentException y = assertThrows(IllegalArgumentException.class,
                () -> GemmOperands.of(a, weights(8, 256, false, DType.F8_E8M0), host(DType.F32, 4, 9), false));
        assertEquals("y: expected shape [4, 8], got [4, 9]", y.getMessage());
        IllegalArgumentException fmt = assertThrows(IllegalArgumentException.class,
                () -> GemmOperands.of(a, weights(8, 256, false, DType.F8_E8M0), host(DType.F32, 4, 8), true));
        assertTrue(fmt.getMessage().startsWith("w: expected contiguous FP4_E2M1 [N, K]"), fmt.getMessage());
        IllegalArgumentException out = assertThrows(IllegalArgumentException.class,
                () -> GemmOperands.of(a, weights(8, 256, false, DType.F8_E8M0), host(DType.F16, 4, 8), false));
        assertEquals("y: expected F32 or BF16, got F16", out.getMessage());
    }

    @Test
    void dimensionsWhoseTileIndicesWouldOverflowAreRejectedBeforeAnyLaunch() {
        // Empty tensors (M = 0, K = 0) carry a huge N without memory; a tile past N must still fit in an int.
        int n = GemmOperands.MAX_DIM + 1;
        BlockScaled a = BlockScaled.fp8Activations(host(DType.F8_E4M3, 0, 0), host(DType.F8_E8M0, 0, 0), 128);
        BlockScaled w = BlockScaled.fp8Weight(host(DType.F8_E4M3, n, 0), host(DType.F8_E8M0, (n + 127L) / 128, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GemmOperands.of(a, w, host(DType.F32, 0, n), false));
        assertTrue(e.getMessage().contains("N = " + n) && e.getMessage().contains(String.valueOf(GemmOperands.MAX_DIM)), e.getMessage());
        int ok = GemmOperands.MAX_DIM;
        BlockScaled w2 = BlockScaled.fp8Weight(host(DType.F8_E4M3, ok, 0), host(DType.F8_E8M0, (ok + 127L) / 128, 0));
        assertEquals(ok, GemmOperands.of(a, w2, host(DType.F32, 0, ok), false).n());
    }

    @Test
    void everyPlannedEntryPointExistsInTheCompiledKernelsWithItsBlockSize() throws IOException {
        for (String family : new String[] {"fp8_gemm", "fp4_gemm"}) {
            String ptx;
            try (InputStream in = GemmKernels.class.getResourceAsStream("/io/github/ds4j/cuda/kernels/" + family + ".sm80.ptx")) {
                Assumptions.assumeTrue(in != null, () -> {
                    String why = "skipped: " + family + ".sm80.ptx is not on the class path (kernels not compiled: no nvcc or -Dds4j.skipKernels)";
                    System.out.println(why);
                    return why;
                });
                ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            }
            Set<String> expected = new TreeSet<>();
            expected.add("ds4j_" + family + "_simple");
            expected.add("ds4j_" + family + "_mma80");
            expected.add("ds4j_" + family + "_wgmma");
            for (int rows = 8; rows <= 64; rows *= 2) {
                for (int c = 1; c <= 8; c *= 2) {
                    expected.add("ds4j_" + family + "_skinny_m" + rows + "_c" + c);
                }
            }
            Pattern entry = Pattern.compile("\\.entry (ds4j_\\w+)\\(([^)]*)\\)\\s*(\\.maxntid (\\d+), (\\d+), (\\d+))?");
            Matcher mt = entry.matcher(ptx);
            Set<String> found = new TreeSet<>();
            while (mt.find()) {
                String name = mt.group(1);
                found.add(name);
                String[] params = mt.group(2).split(",");
                assertEquals(10, params.length, name + " parameters");
                assertTrue(params[8].contains(".u64") && params[9].contains(".u32"), name + " y_stride and flags types");
                int threads = Integer.parseInt(mt.group(4));
                int want = name.endsWith("_simple") || name.endsWith("_mma80") ? 256
                        : name.endsWith("_wgmma") ? GemmKernels.WGMMA_THREADS : GemmKernels.SKINNY_THREADS;
                assertEquals(want, threads, name + " block size");
            }
            assertEquals(expected, found);
        }
    }
}

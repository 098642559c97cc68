package io.github.ds4j.cuda.internal;

import io.github.ds4j.BackendUnavailableException;
import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.RandomWeights;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every GEMM kernel on the GPU against the CPU reference, on fresh random inputs with outputs
 * poisoned (NaN) first: ragged M and N, M in {1, 7, 64, 65, 300}, UE8M0 and arbitrary F32 scales,
 * F32 and BF16 outputs, row-strided outputs whose padding must stay untouched. Each kernel is forced
 * in turn with -Dds4j.cuda.gemm; the sm_90-only ones run where the device runs its sm_90a code.
 * Started with -Dds4j.cuda.sm80=true the backend loads the compute_80 PTX and the same cases run
 * through it. Without a CUDA device every test skips and says why.
 */
class CudaGemmTest {
    private static Compute gpu;
    private static Compute cpu;
    private static String skipReason = "";

    @BeforeAll
    static void open() {
        cpu = Compute.open("cpu");
        try {
            gpu = Compute.open("cuda");
        } catch (BackendUnavailableException e) {
            skipReason = "no CUDA device: " + e.getMessage();
            System.out.println("[CudaGemmTest] skipped: " + skipReason);
        }
    }

    @AfterAll
    static void close() {
        System.clearProperty(GemmVariant.PROPERTY);
        if (gpu != null) {
            gpu.close();
        }
        cpu.close();
    }

    private static KernelLauncher launcher() {
        Assumptions.assumeTrue(gpu != null, skipReason);
        if (!(gpu.backend() instanceof KernelLauncher k)) {
            throw new AssertionError("the CUDA backend " + gpu.backend().getClass().getName() + " does not implement KernelLauncher");
        }
        return k;
    }

    /** The variants this device can run: null is auto. */
    private static List<GemmVariant> variants(KernelLauncher k, int m) {
        List<GemmVariant> out = new ArrayList<>(Arrays.asList(null, GemmVariant.SIMPLE));
        if (k.computeCapability() >= 80) {
            out.add(GemmVariant.MMA80);
        }
        if (GemmKernels.runsSm90a(k)) {
            if (m <= GemmKernels.SKINNY_MAX_M) {
                out.add(GemmVariant.SKINNY);
            }
            out.add(GemmVariant.WGMMA);
        }
        return out;
    }

    /** Norm-wise relative error bound of a kernel's F32 result against the reference. */
    private static double kernelTolerance(GemmVariant v) {
        if (v == GemmVariant.SIMPLE) {
            return 1e-6;  // the reference's own operation order
        }
        if (v == GemmVariant.MMA80) {
            return 2e-5;  // exact bf16 products, f32 tensor-core sums in another order
        }
        // FP8 tensor cores (auto may be one): their sums inside a block keep fewer bits than f32
        // (about 14); promoted every 32 or 128 columns that stays near 1e-3, and a wrong index is O(1).
        return 4e-3;
    }

    private static double outputTolerance(DType out) {
        return out == DType.BF16 ? 4e-3 : 0;  // bf16 keeps 8 significant bits
    }

    private record Case(int m, int n, int k, boolean fp4, DType aScale, DType wScale, DType out, int pad) {
        @Override
        public String toString() {
            return (fp4 ? "fp4" : "fp8") + " M=" + m + " N=" + n + " K=" + k + " aScale=" + aScale + " wScale=" + wScale
                    + " y=" + out + (pad > 0 ? " (row stride " + (n + pad) + ")" : "");
        }
    }

    private static List<Case> cases(boolean fp4) {
        int[][] shapes = {
            {1, 256, 256}, {7, 200, 384}, {64, 129, 512}, {65, 300, 256}, {300, 257, 384},
            {1, 4096, 1024},   // decode: 64 row CTAs, clusters of 8 split K
            {8, 16384, 256},   // clusters of 2
            {33, 1000, 1024},  // 64-row skinny entry with a ragged last CTA
        };
        DType[] outs = {DType.F32, DType.BF16};
        List<Case> out = new ArrayList<>();
        for (int i = 0; i < shapes.length; i++) {
            DType as = i % 2 == 0 ? DType.F8_E8M0 : DType.F32;
            DType ws = (i / 2) % 2 == 0 ? DType.F8_E8M0 : DType.F32;
            out.add(new Case(shapes[i][0], shapes[i][1], shapes[i][2], fp4, as, ws, outs[(i / 3) % 2], i % 2 == 1 ? 5 : 0));
        }
        return out;
    }

    /** Host inputs of one case: activations quantized by the CPU, random weights, arbitrary F32 scales where asked. */
    private static BlockScaled[] inputs(Case c, long seed) {
        RandomWeights rw = new RandomWeights(seed);
        SplittableRandom rng = new SplittableRandom(seed ^ 0x5DEECE66DL);
        float[] x = rw.gaussian((long) c.m * c.k, 1.0);
        for (int r = 0; r < c.m; r++) {
            float rowScale = (float) Math.scalb(1.0, (r % 9) - 4);  // rows across 2^-4..2^4
            for (int j = 0; j < c.k; j++) {
                x[r * c.k + j] *= rowScale;
            }
        }
        BlockScaled a;
        try (Tensor xh = Tensor.fromFloats(x, DType.F32, Shape.of(c.m, c.k))) {
            a = cpu.quantizeActivations(xh, 128, c.aScale);
        }
        if (c.aScale == DType.F32) {
            a = withArbitraryScales(a, rng);
        }
        Tensor[] w = c.fp4 ? rw.mxfp4(c.n, c.k, 1.0 / Math.sqrt(c.k)) : rw.fp8(c.n, c.k, 1.0 / Math.sqrt(c.k));
        // FP4: the packed I8 bytes seen as FP4_E2M1 [N, K]; this tensor takes over the storage.
        Tensor values = c.fp4 ? Tensor.of(w[0].storage(), DType.FP4_E2M1, Shape.of(c.n, c.k), true) : w[0];
        BlockScaled wb = new BlockScaled(values, w[1], c.fp4 ? 1 : 128, c.fp4 ? 32 : 128);
        if (c.wScale == DType.F32) {
            wb = withArbitraryScales(wb, rng);
        }
        return new BlockScaled[] {a, wb};
    }

    /** The same values with F32 scales multiplied by factors in [0.6, 1.7): no longer powers of two. */
    private static BlockScaled withArbitraryScales(BlockScaled b, SplittableRandom rng) {
        float[] s = b.scales().toFloatArray();
        for (int i = 0; i < s.length; i++) {
            s[i] *= (float) rng.nextDouble(0.6, 1.7);
        }
        Tensor scales = Tensor.fromFloats(s, DType.F32, b.scales().shape());
        b.scales().close();
        return new BlockScaled(b.values(), scales, b.blockRows(), b.blockCols());
    }

    /** Runs the case on the GPU with a poisoned (optionally row-strided) output; returns [M, N + pad] as floats. */
    private static float[] runOnGpu(BlockScaled aHost, BlockScaled wHost, Case c) {
        float[] poison = new float[c.m * (c.n + c.pad)];
        Arrays.fill(poison, Float.NaN);
        try (BlockScaled a = gpu.upload(aHost);
             BlockScaled w = gpu.upload(wHost);
             Tensor yWide = gpu.fromFloats(poison, c.out, Shape.of(c.m, c.n + c.pad))) {
            Tensor y = c.pad > 0 ? yWide.slice(1, 0, c.n) : yWide;
            gpu.gemmInto(a, w, y);
            return yWide.toFloatArray();
        }
    }

    private static float[] reference(BlockScaled a, BlockScaled w) {
        try (Tensor y = cpu.gemm(a, w, DType.F32)) {
            return y.toFloatArray();
        }
    }

    /** Checks y (with row stride n + pad) against ref [m, n]: every element written, padding untouched, error bounded. */
    private static void check(String what, float[] y, float[] ref, Case c, double tol) {
        double num = 0;
        double den = 0;
        for (float r : ref) {
            den += (double) r * r;
        }
        double rms = Math.sqrt(den / ref.length);
        int stride = c.n + c.pad;
        for (int i = 0; i < c.m; i++) {
            for (int j = 0; j < stride; j++) {
                float v = y[i * stride + j];
                if (j >= c.n) {
                    if (!Float.isNaN(v)) {
                        fail(what + ": padding y[" + i + ", " + j + "] was overwritten with " + v);
                    }
                    continue;
                }
                double d = v - ref[i * c.n + j];
                if (!(Math.abs(d) <= 16 * tol * rms + 1e-30)) {
                    fail(what + ": y[" + i + ", " + j + "] = " + v + ", reference " + ref[i * c.n + j] + " (rms " + rms + ", bound "
                            + 16 * tol * rms + ")");
                }
                num += d * d;
            }
        }
        double rel = Math.sqrt(num / den);
        assertTrue(rel <= tol, what + ": relative error " + rel + " > " + tol);
    }

    private static void runCases(boolean fp4) {
        KernelLauncher k = launcher();
        long seed = System.nanoTime();
        System.out.println("[CudaGemmTest] " + (fp4 ? "fp4" : "fp8") + " seed " + seed + " on sm_" + k.computeCapability()
                + (k.sm80Mode() ? " (compute_80 PTX)" : ""));
        List<Case> all = cases(fp4);
        for (int ci = 0; ci < all.size(); ci++) {
            Case c = all.get(ci);
            BlockScaled[] in = inputs(c, seed + ci);
            try (BlockScaled a = in[0]; BlockScaled w = in[1]) {
                float[] ref = reference(a, w);
                for (GemmVariant v : variants(k, c.m)) {
                    try {
                        if (v == null) {
                            System.clearProperty(GemmVariant.PROPERTY);
                        } else {
                            System.setProperty(GemmVariant.PROPERTY, v.id());
                        }
                        String what = c + " kernel " + (v == null ? "auto" : v.id()) + " seed " + (seed + ci);
                        check(what, runOnGpu(a, w, c), ref, c, kernelTolerance(v) + outputTolerance(c.out));
                    } finally {
                        System.clearProperty(GemmVariant.PROPERTY);
                    }
                }
            }
        }
    }

    @Test
    void fp8GemmKernelsMatchCpuReferenceOnRaggedShapes() {
        runCases(false);
    }

    @Test
    void fp4GemmKernelsMatchCpuReferenceOnRaggedShapes() {
        runCases(true);
    }

    @Test
    void fastKernelsAgreeWithTheSimpleKernelOnSeveralTileGroups() {
        KernelLauncher k = launcher();
        long seed = System.nanoTime();
        System.out.println("[CudaGemmTest] cross-check seed " + seed);
        for (boolean fp4 : new boolean[] {false, true}) {
            // 9 row tiles: one full raster group of 8 and a partial one; ragged N.
            Case c = new Case(1100, 640 + 72, 1024, fp4, DType.F8_E8M0, DType.F8_E8M0, DType.F32, 0);
            BlockScaled[] in = inputs(c, seed);
            try (BlockScaled a = in[0]; BlockScaled w = in[1]) {
                System.setProperty(GemmVariant.PROPERTY, "simple");
                float[] simple = runOnGpu(a, w, c);
                for (GemmVariant v : variants(k, c.m)) {
                    if (v == null || v == GemmVariant.SIMPLE) {
                        continue;
                    }
                    System.setProperty(GemmVariant.PROPERTY, v.id());
                    check(c + " " + v.id() + " vs simple, seed " + seed, runOnGpu(a, w, c), simple, c, kernelTolerance(v));
                }
            } finally {
                System.clearProperty(GemmVariant.PROPERTY);
            }
        }
    }

    @Test
    void autoKernelChoiceFollowsTheDevice() {
        KernelLauncher k = launcher();
        Case c = new Case(2, 130, 256, false, DType.F8_E8M0, DType.F8_E8M0, DType.F32, 0);
        BlockScaled[] in = inputs(c, 7);
        try (BlockScaled a = in[0]; BlockScaled w = in[1]; Tensor y = Tensor.allocate(DType.F32, Shape.of(2, 130))) {
            GemmVariant auto = GemmKernels.choose(k, GemmOperands.of(a, w, y, false));
            GemmVariant want = GemmKernels.runsSm90a(k) ? GemmVariant.SKINNY
                    : k.computeCapability() >= 80 ? GemmVariant.MMA80 : GemmVariant.SIMPLE;
            assertEquals(want, auto, "auto kernel on sm_" + k.computeCapability() + (k.sm80Mode() ? " in sm80 mode" : ""));
        }
    }
}

package io.github.ds4j.bench.cuda;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.cuda.internal.GemmKernels;
import io.github.ds4j.cuda.internal.GemmLaunch;
import io.github.ds4j.cuda.internal.GemmOperands;
import io.github.ds4j.cuda.internal.KernelLauncher;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Times the CUDA block-scaled GEMMs at DeepSeek-V4 shapes and prints one table: prefill
 * (M = 4096, N in {4096, 7168, 16384, 32768}, K in {4096, 7168}) in TFLOP/s, decode (M in
 * {1, 8, 64}, same N and K) in TB/s of weights streamed, for FP8 and MXFP4 weights, beside the
 * device-to-device copy bandwidth measured first. Every shape's output is checked against the CPU
 * reference (first and last row, first and last 256 columns, poisoned before the run) before it
 * is timed.
 *
 * <p>Timing: batches of launches closed by {@link Compute#synchronize()} and a host clock, the
 * median batch reported; decode shapes rotate among enough weight copies to overflow L2.
 * TODO(cuda backend): switch to device events once the CUDA backend exposes them; a batch of
 * 20 launches keeps the host clock's launch and sync overhead to a few percent even at ~10 us.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *      io.github.ds4j.bench.cuda.CudaGemmBench [--quick] [--fp8|--fp4] [--decode|--prefill]
 * </pre>
 * {@code -Dds4j.cuda.gemm=...} times a forced kernel instead of the automatic choice.
 */
public final class CudaGemmBench {
    private static final long L2_OVERFLOW_BYTES = 200L << 20;  // > 4x the 50 MB L2 of an H100
    private static final int BATCH = 20;
    private static final int BATCHES = 7;

    private final Compute gpu;
    private final Compute cpu;
    private final SplittableRandom rng = new SplittableRandom(20261123L);

    private CudaGemmBench(Compute gpu, Compute cpu) {
        this.gpu = gpu;
        this.cpu = cpu;
    }

    public static void main(String[] args) {
        List<String> opts = Arrays.asList(args);
        boolean quick = opts.contains("--quick");
        boolean fp8 = !opts.contains("--fp4");
        boolean fp4 = !opts.contains("--fp8");
        boolean prefill = !opts.contains("--decode");
        boolean decode = !opts.contains("--prefill");
        int[] ns = quick ? new int[] {4096, 16384} : new int[] {4096, 7168, 16384, 32768};
        int[] ks = quick ? new int[] {7168} : new int[] {4096, 7168};
        try (Compute gpu = Compute.open("cuda"); Compute cpu = Compute.open("cpu")) {
            CudaGemmBench b = new CudaGemmBench(gpu, cpu);
            System.out.println("# " + gpu.description());
            double copyTbs = b.copyBandwidth();
            System.out.printf(Locale.ROOT, "# device-to-device copy: %.2f TB/s (read + write)%n", copyTbs);
            List<String> rows = new ArrayList<>();
            for (boolean isFp4 : new boolean[] {false, true}) {
                if ((isFp4 && !fp4) || (!isFp4 && !fp8)) {
                    continue;
                }
                for (int n : ns) {
                    for (int k : ks) {
                        if (prefill) {
                            rows.add(b.run(isFp4, 4096, n, k, copyTbs));
                        }
                        if (decode) {
                            for (int m : new int[] {1, 8, 64}) {
                                rows.add(b.run(isFp4, m, n, k, copyTbs));
                            }
                        }
                    }
                }
            }
            System.out.println();
            System.out.println("| op | shape (M x N x K) | kernel | max rel err | time (us) | TFLOP/s | TB/s | % of copy BW |");
            System.out.println("|---|---|---|---|---|---|---|---|");
            rows.forEach(System.out::println);
        }
    }

    /** Median time of a large device-to-device copy; bytes read plus bytes written per second, in TB/s. */
    private double copyBandwidth() {
        long bytes = 1L << 30;
        try (Tensor src = gpu.allocate(DType.U8, Shape.of(bytes)); Tensor dst = gpu.allocate(DType.U8, Shape.of(bytes))) {
            double s = medianSeconds(() -> gpu.backend().copy(src, dst), 3);
            return 2.0 * bytes / s / 1e12;
        }
    }

    private String run(boolean fp4, int m, int n, int k, double copyTbs) {
        String op = fp4 ? "fp4_gemm" : "fp8_gemm";
        long wBytes = fp4 ? (long) n * k / 2 : (long) n * k;
        long wScaleBytes = fp4 ? (long) n * (k / 32) : (long) ((n + 127) / 128) * (k / 128);
        int copies = m <= 64 ? (int) Math.max(1, Math.min(16, (L2_OVERFLOW_BYTES + wBytes - 1) / wBytes)) : 1;
        List<BlockScaled> ws = new ArrayList<>();
        try (BlockScaled aHost = randomActivations(m, k);
             BlockScaled wHost = randomWeights(fp4, n, k);
             BlockScaled a = gpu.upload(aHost);
             Tensor y = gpu.allocate(DType.BF16, Shape.of(m, n))) {
            ws.add(gpu.upload(wHost));
            for (int i = 1; i < copies; i++) {
                ws.add(gpu.upload(wHost));
            }
            String kernel = kernelName(a, ws.get(0), y, fp4);
            poisonCheckedRows(y, m, n);
            gpu.gemmInto(a, ws.get(0), y);
            double err = check(aHost, wHost, y, m, n, fp4);
            int[] next = {0};
            double s = medianSeconds(() -> {
                gpu.gemmInto(a, ws.get(next[0]), y);
                next[0] = (next[0] + 1) % ws.size();
            }, BATCH);
            double flops = 2.0 * m * n * k;
            double bytes = wBytes + wScaleBytes + (long) m * k + (long) m * (k / 128) + 2L * m * n;
            double tbs = bytes / s / 1e12;
            return String.format(Locale.ROOT, "| %s | %d x %d x %d | %s | %.1e | %.1f | %.1f | %.2f | %.0f%% |", op, m, n, k, kernel, err,
                    s * 1e6, flops / s / 1e12, tbs, 100 * tbs / copyTbs);
        } finally {
            ws.forEach(BlockScaled::close);
        }
    }

    private String kernelName(BlockScaled a, BlockScaled w, Tensor y, boolean fp4) {
        if (!(gpu.backend() instanceof KernelLauncher k)) {
            return "?";
        }
        List<GemmLaunch> plan = GemmKernels.plan(k, GemmOperands.of(a, w, y, fp4));
        return plan.isEmpty() ? "-" : plan.get(0).kernel().replace("ds4j_", "");
    }

    /** Rows and column ranges checked: the first and last row, the first and last 256 columns. */
    private static int[] checkedRows(int m) {
        return m == 1 ? new int[] {0} : new int[] {0, m - 1};
    }

    /** Poisons the checked rows of y (NaN) so that unwritten outputs cannot pass. */
    private static void poisonCheckedRows(Tensor y, int m, int n) {
        float[] nan = new float[n];
        Arrays.fill(nan, Float.NaN);
        for (int r : checkedRows(m)) {
            y.slice(0, r, r + 1).copyFrom(nan);
        }
    }

    /**
     * Largest norm-wise relative error against the CPU reference over the checked rows and the first
     * and last 256 columns (the CPU reference of a whole V4 weight would take minutes).
     */
    private double check(BlockScaled aHost, BlockScaled wHost, Tensor y, int m, int n, boolean fp4) {
        double worst = 0;
        for (int r : checkedRows(m)) {
            float[] got = y.slice(0, r, r + 1).toFloatArray();
            for (int c0 : new int[] {0, n - 256}) {
                int s0 = fp4 ? c0 : c0 / 128;
                int s1 = fp4 ? c0 + 256 : (c0 + 256 + 127) / 128;
                try (BlockScaled aRow = new BlockScaled(aHost.values().slice(0, r, r + 1), aHost.scales().slice(0, r, r + 1), 1, 128);
                     BlockScaled wCols = new BlockScaled(wHost.values().slice(0, c0, c0 + 256), wHost.scales().slice(0, s0, s1),
                             wHost.blockRows(), wHost.blockCols());
                     Tensor ref = cpu.gemm(aRow, wCols, DType.F32)) {
                    float[] want = ref.toFloatArray();
                    double num = 0;
                    double den = 0;
                    for (int j = 0; j < want.length; j++) {
                        double d = got[c0 + j] - want[j];
                        num += d * d;
                        den += (double) want[j] * want[j];
                    }
                    double rel = Math.sqrt(num / den);
                    if (!(rel < 1e-2)) {
                        throw new IllegalStateException("y row " + r + ", columns " + c0 + "..: relative error " + rel
                                + " against the CPU reference");
                    }
                    worst = Math.max(worst, rel);
                }
            }
        }
        return worst;
    }

    /** Random E4M3 codes (no NaN) with UE8M0 scales near 1, [m, k]. */
    private BlockScaled randomActivations(int m, int k) {
        byte[] codes = randomE4m3((long) m * k);
        byte[] scales = new byte[m * (k / 128)];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = (byte) (120 + rng.nextInt(8));
        }
        return BlockScaled.fp8Activations(Tensor.fromBytes(codes, DType.F8_E4M3, Shape.of(m, k)),
                Tensor.fromBytes(scales, DType.F8_E8M0, Shape.of(m, k / 128)), 128);
    }

    /** Random FP8 (128x128 scales) or MXFP4 (1x32 scales) weights [n, k] with UE8M0 scales. */
    private BlockScaled randomWeights(boolean fp4, int n, int k) {
        if (fp4) {
            byte[] packed = new byte[Math.toIntExact((long) n * k / 2)];
            rng.nextBytes(packed);  // every byte is a valid pair of E2M1 codes
            byte[] scales = new byte[Math.toIntExact((long) n * (k / 32))];
            for (int i = 0; i < scales.length; i++) {
                scales[i] = (byte) (118 + rng.nextInt(8));
            }
            return BlockScaled.mxfp4Weight(Tensor.fromBytes(packed, DType.FP4_E2M1, Shape.of(n, k)),
                    Tensor.fromBytes(scales, DType.F8_E8M0, Shape.of(n, k / 32)));
        }
        byte[] scales = new byte[((n + 127) / 128) * (k / 128)];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = (byte) (116 + rng.nextInt(8));
        }
        return BlockScaled.fp8Weight(Tensor.fromBytes(randomE4m3((long) n * k), DType.F8_E4M3, Shape.of(n, k)),
                Tensor.fromBytes(scales, DType.F8_E8M0, Shape.of((n + 127) / 128, k / 128)));
    }

    private byte[] randomE4m3(long count) {
        byte[] b = new byte[Math.toIntExact(count)];
        rng.nextBytes(b);
        for (int i = 0; i < b.length; i++) {
            if ((b[i] & 0x7F) == 0x7F) {
                b[i] ^= 0x01;  // 0x7F / 0xFF are NaN: use the neighbouring finite code
            }
        }
        return b;
    }

    /** Median seconds per call over BATCHES batches of {@code batch} calls, after a warm-up batch. */
    private double medianSeconds(Runnable call, int batch) {
        for (int i = 0; i < batch; i++) {
            call.run();
        }
        gpu.synchronize();
        double[] t = new double[BATCHES];
        for (int b = 0; b < BATCHES; b++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < batch; i++) {
                call.run();
            }
            gpu.synchronize();
            t[b] = (System.nanoTime() - t0) / 1e9 / batch;
        }
        Arrays.sort(t);
        return t[BATCHES / 2];
    }
}

package io.github.ds4j.cli;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.RandomWeights;
import io.github.ds4j.internal.cpu.CpuBackend;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code ds4j gemm}: one GEMM on random inputs (never zeros), timed, and checked against a float64
 * evaluation of the spec's block-scaled semantics on the same quantized operands (spec §2), with
 * the activations quantized by the CPU's scalar reference.
 */
@Command(name = "gemm", mixinStandardHelpOptions = true,
        description = {"Time y [M, N] = x [M, K] @ w^T on random inputs and check y against a float64 reference.",
                "fp8: E4M3 weight with 128x128 UE8M0 scales; fp4: MXFP4 weight with 1x32 UE8M0 scales; both take x "
                        + "quantized to FP8 with 1x128 scales (once, outside the timing). bf16: BF16 x and w."})
public final class GemmCommand implements Callable<Integer> {
    /** Above this many multiply-adds the float64 check samples rows and columns instead of doing all. */
    static final long FULL_CHECK_LIMIT = 1L << 27;
    static final int CHECK_ROWS = 32;
    static final int CHECK_COLS = 256;
    /** Without --iterations, timed calls continue until this much time has passed. */
    static final long AUTO_TIME_NS = 1_000_000_000L;
    static final int MAX_AUTO_CALLS = 100_000;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--format", defaultValue = "fp8", paramLabel = "fp8|fp4|bf16", description = "Weight format (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--m", paramLabel = "M", defaultValue = "128", description = "Rows of x and y (default: ${DEFAULT-VALUE}).")
    int m;

    @Option(names = "--n", paramLabel = "N", defaultValue = "4096", description = "Rows of w, columns of y (default: ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--k", paramLabel = "K", defaultValue = "4096", description = "The reduced dimension (default: ${DEFAULT-VALUE}); a multiple of 128 for fp8 and fp4.")
    int k;

    @Mixin
    DeviceOption device;

    @Option(names = "--iterations", paramLabel = "COUNT",
            description = "Timed calls (default: as many as fit in about one second, at least one).")
    Integer iterations;

    @Option(names = "--warmup", paramLabel = "W", defaultValue = "1", description = "Untimed calls first, the checked one included (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--out-dtype", defaultValue = "bf16", paramLabel = "bf16|f32", description = "Dtype of y (default: ${DEFAULT-VALUE}).")
    String outDtype;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the random inputs (default: a fresh one, printed).")
    Long seed;

    @Option(names = "--full-check", description = "Check every output against float64 even when that is slow.")
    boolean fullCheck;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        String fmt = format.trim().toLowerCase(Locale.ROOT);
        if (!List.of("fp8", "fp4", "bf16").contains(fmt)) {
            throw new IllegalArgumentException("--format: expected fp8, fp4 or bf16, got \"" + format + "\"");
        }
        positive("--m", m);
        positive("--n", n);
        positive("--k", k);
        if (iterations != null) {
            positive("--iterations", iterations);
        }
        positive("--warmup", warmup);
        if (!fmt.equals("bf16") && k % 128 != 0) {
            throw new IllegalArgumentException("--k: " + k + " must be a multiple of 128 for " + fmt
                    + ": activations are quantized in 1x128 blocks");
        }
        if ((long) n * k > Integer.MAX_VALUE - 8 || (long) m * k > Integer.MAX_VALUE - 8 || (long) m * n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("--m/--n/--k: " + m + "x" + n + "x" + k + " is too large for the host-side inputs");
        }
        DType outType = FlagValues.outDtype(outDtype);
        long s = seed != null ? seed : System.nanoTime();
        List<AutoCloseable> open = new ArrayList<>();
        try (Compute c = device.open()) {
            out.println("gemm " + fmt + ": y [" + m + ", " + n + "] " + outType + " = x [" + m + ", " + k + "] @ w^T, w [" + n + ", " + k + "] "
                    + switch (fmt) {
                        case "fp8" -> "F8_E4M3 with 128x128 UE8M0 scales";
                        case "fp4" -> "MXFP4 with 1x32 UE8M0 scales";
                        default -> "BF16";
                    });
            out.println("device: " + c.device() + " (" + c.description() + ")");
            out.println("seed: " + s);
            out.flush();
            RandomWeights rnd = new RandomWeights(s);
            Tensor xHost = keep(open, rnd.real(DType.BF16, Shape.of(m, k), 1.0));
            Problem p = fmt.equals("bf16") ? bf16(c, rnd, xHost, open) : blockScaled(c, rnd, fmt, xHost, open);

            float[] poison = new float[m * n];
            Arrays.fill(poison, Float.NaN);
            Tensor y = keep(open, c.fromFloats(poison, outType, Shape.of(m, n)));
            p.call.accept(y);
            c.synchronize();
            float[] got = y.toFloatArray();
            for (int i = 1; i < warmup; i++) {
                p.call.accept(y);
            }
            c.synchronize();
            // Batches that double in size, each ended by one synchronize, until about a second has passed.
            int calls = 0;
            int batch = iterations != null ? iterations : 1;
            long t0 = System.nanoTime();
            long elapsed;
            while (true) {
                for (int i = 0; i < batch; i++) {
                    p.call.accept(y);
                }
                calls += batch;
                c.synchronize();
                elapsed = System.nanoTime() - t0;
                if (iterations != null || elapsed >= AUTO_TIME_NS || calls >= MAX_AUTO_CALLS) {
                    break;
                }
                batch = Math.min(batch * 2, MAX_AUTO_CALLS - calls);
            }
            double seconds = elapsed / 1e9 / calls;
            double flops = 2.0 * m * n * k / seconds;

            boolean full = fullCheck || (long) m * n * k <= FULL_CHECK_LIMIT;
            int[] rows = full ? spread(m, m) : spread(m, CHECK_ROWS);
            int[] cols = full ? spread(n, n) : spread(n, CHECK_COLS);
            double[] err = check(p.reference, got, rows, cols);
            double bound = outType == DType.BF16 ? 1e-2 : 1e-4;

            out.println(String.format(Locale.ROOT, "time per call: %s (mean of %d after %d warm-up%s%s)", time(seconds), calls, warmup,
                    warmup == 1 ? "" : "s", fmt.equals("bf16") ? "" : "; activation quantization not timed"));
            out.println("throughput: " + rate(flops));
            String checked = full ? "all " + m + "x" + n + " outputs"
                    : rows.length + " of " + m + " rows x " + cols.length + " of " + n + " columns (a full float64 check would be slow; --full-check does it)";
            out.println(String.format(Locale.ROOT, "relative error vs float64 reference: %.2e (bound %.0e for %s output), max abs error %.2e; checked %s",
                    err[0], bound, outType, err[1], checked));
            String summary = String.format(Locale.ROOT, "gemm %s %dx%dx%d on %s: %s/call, %s, rel err %.2e", fmt, m, n, k, c.device(),
                    time(seconds), rate(flops), err[0]);
            if (!(err[0] <= bound)) {
                out.flush();
                spec.commandLine().getErr().println("error: " + summary + " exceeds the bound " + bound);
                return Ds4jCommand.FAILED;
            }
            out.println("ok: " + summary);
            return 0;
        } finally {
            for (int i = open.size() - 1; i >= 0; i--) {
                try {
                    open.get(i).close();
                } catch (Exception ignored) {
                    // Closing host and device tensors does not fail in practice; the result matters more.
                }
            }
        }
    }

    /** The timed call and the float64 reference of one output element. */
    private record Problem(java.util.function.Consumer<Tensor> call, Reference reference) {
    }

    private interface Reference {
        double at(int row, int col);
    }

    private Problem blockScaled(Compute c, RandomWeights rnd, String fmt, Tensor xHost, List<AutoCloseable> open) {
        boolean fp8 = fmt.equals("fp8");
        Tensor[] w = fp8 ? rnd.fp8(n, k, 1 / Math.sqrt(k)) : rnd.mxfp4(n, k, 1 / Math.sqrt(k));
        keep(open, w[0]);
        keep(open, w[1]);
        BlockScaled wHost = fp8 ? BlockScaled.fp8Weight(w[0], w[1])
                : BlockScaled.mxfp4Weight(w[0].viewAs(DType.FP4_E2M1, Shape.of(n, k)), w[1]);
        BlockScaled wDev = keep(open, c.upload(wHost));
        Tensor xDev = keep(open, c.upload(xHost));
        BlockScaled a = keep(open, c.quantizeActivations(xDev, 128, DType.F8_E8M0));

        // The reference operands: activations quantized by the scalar CPU reference, weights decoded per row.
        BlockScaled aRef = keep(open, Compute.of(CpuBackend.scalarReference()).quantizeActivations(xHost, 128, DType.F8_E8M0));
        float[] qa = aRef.values().toFloatArray();
        float[] sa = aRef.scales().toFloatArray();
        float[] sw = wHost.scales().toFloatArray();
        int kBlocks = k / 128;
        int block = fp8 ? 128 : 32;
        Reference ref = byWeightRow(wHost.values(), (row, col, wRow) -> {
            double acc = 0;
            for (int kb = 0; kb < k / block; kb++) {
                double part = 0;
                for (int j = kb * block; j < kb * block + block; j++) {
                    part += (double) qa[row * k + j] * wRow[j];
                }
                double wScale = fp8 ? sw[(col / 128) * kBlocks + kb] : sw[col * (k / 32) + kb];
                acc += part * sa[row * kBlocks + (kb * block) / 128] * wScale;
            }
            return acc;
        });
        return new Problem(y -> c.gemmInto(a, wDev, y), ref);
    }

    private Problem bf16(Compute c, RandomWeights rnd, Tensor xHost, List<AutoCloseable> open) {
        Tensor wHost = keep(open, rnd.real(DType.BF16, Shape.of(n, k), 1 / Math.sqrt(k)));
        Tensor xDev = keep(open, c.upload(xHost));
        Tensor wDev = keep(open, c.upload(wHost));
        float[] x = xHost.toFloatArray();
        Reference ref = byWeightRow(wHost, (row, col, wRow) -> {
            double acc = 0;
            for (int j = 0; j < k; j++) {
                acc += (double) x[row * k + j] * wRow[j];
            }
            return acc;
        });
        return new Problem(y -> c.linearInto(xDev, wDev, y), ref);
    }

    /** One output element from x's row and w's decoded row {@code col}. */
    private interface RowProduct {
        double at(int row, int col, float[] wRow);
    }

    /** A reference that decodes w's row {@code col} once for all the rows checked in that column. */
    private static Reference byWeightRow(Tensor w, RowProduct product) {
        return new Reference() {
            private int cachedCol = -1;
            private float[] wRow;

            @Override
            public double at(int row, int col) {
                if (col != cachedCol) {
                    wRow = w.select(0, col).toFloatArray();
                    cachedCol = col;
                }
                return product.at(row, col, wRow);
            }
        };
    }

    /** {relative Frobenius error, max abs error} of {@code got} over the chosen rows and columns. */
    private double[] check(Reference ref, float[] got, int[] rows, int[] cols) {
        double err = 0;
        double norm = 0;
        double maxAbs = 0;
        for (int col : cols) {
            for (int row : rows) {
                double r = ref.at(row, col);
                double d = got[row * n + col] - r;
                err += d * d;
                norm += r * r;
                maxAbs = Math.max(maxAbs, Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.abs(d));
            }
        }
        return new double[] {Math.sqrt(err / norm), maxAbs};
    }

    /** {@code count} indices spread evenly over [0, total), first and last included. */
    static int[] spread(int total, int count) {
        int c = Math.min(total, count);
        int[] out = new int[c];
        for (int i = 0; i < c; i++) {
            out[i] = c == 1 ? 0 : (int) ((long) i * (total - 1) / (c - 1));
        }
        return out;
    }

    private static String time(double s) {
        return s >= 1 ? String.format(Locale.ROOT, "%.3f s", s)
                : s >= 1e-3 ? String.format(Locale.ROOT, "%.3f ms", s * 1e3) : String.format(Locale.ROOT, "%.2f us", s * 1e6);
    }

    private static String rate(double flops) {
        return flops >= 1e12 ? String.format(Locale.ROOT, "%.2f TFLOP/s", flops / 1e12) : String.format(Locale.ROOT, "%.2f GFLOP/s", flops / 1e9);
    }

    private static void positive(String flag, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(flag + ": must be positive, got " + v);
        }
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> open, T t) {
        open.add(t);
        return t;
    }
}

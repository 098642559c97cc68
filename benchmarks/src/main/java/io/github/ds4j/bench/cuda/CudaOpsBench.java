package io.github.ds4j.bench.cuda;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.TopK;
import io.github.ds4j.cuda.CudaProvider;
import io.github.ds4j.cuda.internal.CudaBackend;
import io.github.ds4j.cuda.internal.CudaEvent;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.Probe;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Times every CUDA op at DeepSeek-V4 shapes with device events (warm-up, then the median of many
 * runs), checks each result against the CPU reference (on a sample of rows where the full
 * problem would take the CPU too long), and prints one table: op, shape, max error, time, achieved
 * TB/s or TFLOP/s. Run by ci/gpu-test.sh; {@code --out FILE} also writes the table there.
 *
 * <p>Error is max|gpu - cpu| / max|cpu| over the checked elements (0 = bit for bit). Bytes count
 * each input read once and each output written once; inputs much smaller than the L2 cache may be
 * served from it, as noted in the table.
 */
public final class CudaOpsBench {
    private static final int WARMUP = 5;
    private static final int RUNS = 30;
    /** Rows the CPU reference recomputes for the per-row ops. */
    private static final int CHECK_ROWS = 32;

    private final CudaBackend gpu;
    private final Compute compute;
    private final CpuBackend cpu = CpuBackend.scalarReference();
    private final SplittableRandom rng = new SplittableRandom(20260101L);
    private final List<String> rows = new ArrayList<>();
    private final List<AutoCloseable> open = new ArrayList<>();
    private final double l2Bytes;

    private CudaOpsBench(CudaBackend gpu) {
        this.gpu = gpu;
        this.compute = Compute.of(gpu);
        this.l2Bytes = gpu.properties().l2Bytes();
    }

    public static void main(String[] args) throws Exception {
        Path out = null;
        boolean quick = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--quick" -> quick = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + " (use --out FILE, --quick)");
            }
        }
        Probe p = new CudaProvider().probe();
        if (!p.isAvailable()) {
            System.out.println("CudaOpsBench: no CUDA device, nothing measured: " + p.reason());
            return;
        }
        try (CudaBackend gpu = CudaBackend.open(0)) {
            CudaOpsBench b = new CudaOpsBench(gpu);
            b.runAll(quick);
            String table = b.table();
            System.out.println(table);
            if (out != null) {
                Files.writeString(out, table);
            }
        }
    }

    private void runAll(boolean quick) {
        int m = quick ? 1024 : 4096;
        bandwidthCeiling(quick ? 1L << 28 : 1L << 31);
        convert(m, 7168);
        actQuant(m, 7168);
        fp8SimKv(m);
        fp4SimIndexer(m);
        rmsNorm("rmsnorm", m, 7168, true);
        rmsNorm("rmsnorm/head", (long) m * 128, 512, false);
        rope(m);
        hadamard((long) m * 64, 128);
        swiglu((long) m * 6, 3072);
        softmax((long) m * 8, 1024);
        topK("topk/route", m, 384, 6);
        topK("topk/index", quick ? 256 : 1024, 16384, 1024);
        linear(m, 1024, 7168, DType.BF16, DType.BF16, DType.BF16);
        linear(m, 384, 7168, DType.BF16, DType.BF16, DType.F32);
        linear(m, 512, 1024, DType.F32, DType.F32, DType.F32);
        for (int[] s : quick ? new int[][] {{1024, 4096, 4096}} : new int[][] {
                {4096, 4096, 4096}, {4096, 4096, 7168}, {4096, 16384, 7168}, {4096, 32768, 4096}}) {
            fp8Gemm(s[0], s[1], s[2]);
        }
        for (int mm : new int[] {1, 16, 64}) {
            fp4Gemm(mm, 3072, 7168, quick ? 4 : 16);
            fp4Gemm(mm, 7168, 3072, quick ? 4 : 16);
        }
    }

    // ---- cases ----

    private void bandwidthCeiling(long bytes) {
        Tensor a = device(DType.U8, 1, bytes);
        Tensor b = device(DType.U8, 1, bytes);
        gpu.fill(a.storage(), 0x5A);
        float ms = time(() -> gpu.copy(a, b));
        row("memcpy d2d", bytes / (1 << 20) + " MiB", 0, ms, 2.0 * bytes, 0, "the bandwidth ceiling");
        closeAll();
    }

    private void convert(long r, int c) {
        Tensor x = random(DType.F32, r, c, 1);
        Tensor y = device(DType.BF16, r, c);
        Runnable op = () -> gpu.convert(x, y);
        op.run();
        double err = checkRows(x, y, (hx, hy) -> cpu.convert(hx, hy), DType.BF16);
        row("convert f32>bf16", r + "x" + c, err, time(op), r * c * 6.0, 0, null);
        closeAll();
    }

    private void actQuant(long r, int c) {
        Tensor x = random(DType.BF16, r, c, 1);
        Tensor q = device(DType.F8_E4M3, r, c);
        Tensor s = device(DType.F8_E8M0, r, c / 128);
        Runnable op = () -> gpu.quantizeActivations(x, q, s, 128);
        op.run();
        try (Tensor hx = sampleRows(x); Tensor hq = sampleRows(q); Tensor hs = sampleRows(s)) {
            Tensor rq = host(DType.F8_E4M3, hx.dim(0), c);
            Tensor rs = host(DType.F8_E8M0, hx.dim(0), c / 128);
            cpu.quantizeActivations(hx, rq, rs, 128);
            double err = Arrays.equals(rq.toByteArray(), hq.toByteArray()) && Arrays.equals(rs.toByteArray(), hs.toByteArray())
                    ? 0 : Double.NaN;
            row("act-quant 1x128", r + "x" + c + " bf16", err, time(op), r * c * 3.0 + r * c / 128.0, 0,
                    err == 0 ? null : "CODES DIFFER FROM THE CPU");
        }
        closeAll();
    }

    private void fp8SimKv(long r) {
        Tensor kv = random(DType.BF16, r, 512, 1);
        Tensor nope = kv.slice(1, 0, 448);
        Tensor y = device(DType.BF16, r, 448);
        Runnable op = () -> gpu.fp8Simulate(nope, y, 64);
        op.run();
        double err = checkRows(nope, y, (hx, hy) -> cpu.fp8Simulate(hx, hy, 64), DType.BF16);
        row("fp8-sim kv 1x64", r + "x448/512 bf16", err, time(op), r * 448 * 4.0, 0, null);
        closeAll();
    }

    private void fp4SimIndexer(long r) {
        long rr = r * 64;
        Tensor x = random(DType.BF16, rr, 128, 1);
        Tensor y = device(DType.BF16, rr, 128);
        Runnable op = () -> gpu.fp4Simulate(x, y, 32);
        op.run();
        double err = checkRows(x, y, (hx, hy) -> cpu.fp4Simulate(hx, hy, 32), DType.BF16);
        row("fp4-sim idx 1x32", rr + "x128 bf16", err, time(op), rr * 128 * 4.0, 0, null);
        closeAll();
    }

    private void rmsNorm(String name, long r, int c, boolean weight) {
        Tensor x = random(DType.BF16, r, c, 1);
        Tensor w = weight ? random(DType.BF16, 1, c, 1).reshape(c) : null;
        Tensor y = device(DType.BF16, r, c);
        Runnable op = () -> gpu.rmsNorm(x, w, 1e-6f, y);
        op.run();
        Tensor hw = w == null ? null : track(w.toHost());
        double err = checkRows(x, y, (hx, hy) -> cpu.rmsNorm(hx, hw, 1e-6f, hy), DType.BF16);
        row(name, r + "x" + c + " bf16", err, time(op), r * c * 4.0, 0, null);
        closeAll();
    }

    private void rope(long s) {
        int heads = 128;
        Tensor q = random(DType.BF16, s * heads, 512, 1);
        Tensor view = q.reshape(s, heads, 512).slice(2, 448, 512);
        RopeSpec spec = new RopeSpec(64, 160000, new RopeSpec.Yarn(16, 65536, 32, 1));
        Tensor y = device(DType.BF16, s, heads, 64);
        Runnable op = () -> gpu.rope(view, y, spec, 1000, false);
        op.run();
        double err;
        try (Tensor hq = q.slice(0, 0, (long) CHECK_ROWS * heads).toHost(); Tensor hy = y.slice(0, 0, CHECK_ROWS).toHost()) {
            Tensor ref = host(DType.BF16, CHECK_ROWS, heads, 64);
            cpu.rope(hq.reshape(CHECK_ROWS, heads, 512).slice(2, 448, 512), ref, spec, 1000, false);
            err = maxError(ref.toFloatArray(), hy.toFloatArray());
        }
        row("rope q yarn", s + "x" + heads + "x64/512 bf16", err, time(op), s * heads * 64 * 4.0, 0, null);
        closeAll();
    }

    private void hadamard(long r, int d) {
        Tensor x = random(DType.BF16, r, d, 1);
        Tensor y = device(DType.BF16, r, d);
        Runnable op = () -> gpu.hadamard(x, y);
        op.run();
        double err = checkRows(x, y, cpu::hadamard, DType.BF16);
        row("hadamard", r + "x" + d + " bf16", err, time(op), r * d * 4.0, 0, null);
        closeAll();
    }

    private void swiglu(long r, int c) {
        Tensor g = random(DType.BF16, r, c, 6);
        Tensor u = random(DType.BF16, r, c, 6);
        Tensor y = device(DType.BF16, r, c);
        Runnable op = () -> gpu.swiglu(g, u, 10f, y);
        op.run();
        double err;
        try (Tensor hg = sampleRows(g); Tensor hu = sampleRows(u); Tensor hy = sampleRows(y)) {
            Tensor ref = host(DType.BF16, hg.dim(0), c);
            cpu.swiglu(hg, hu, 10f, ref);
            err = maxError(ref.toFloatArray(), hy.toFloatArray());
        }
        row("swiglu limit 10", r + "x" + c + " bf16", err, time(op), r * c * 6.0, 0, null);
        closeAll();
    }

    private void softmax(long r, int c) {
        Tensor x = random(DType.F32, r, c, 8);
        Tensor y = device(DType.F32, r, c);
        Runnable op = () -> gpu.softmax(x, y);
        op.run();
        double err = checkRows(x, y, cpu::softmax, DType.F32);
        row("softmax", r + "x" + c + " f32", err, time(op), r * c * 8.0, 0, null);
        closeAll();
    }

    private void topK(String name, long r, int c, int k) {
        Tensor x = random(DType.F32, r, c, 1);
        Tensor v = device(DType.F32, r, k);
        Tensor ix = device(DType.I32, r, k);
        Runnable op = () -> gpu.topK(x, k, v, ix);
        op.run();
        double err;
        try (Tensor hx = sampleRows(x); Tensor hv = sampleRows(v); Tensor hi = sampleRows(ix)) {
            Tensor rv = host(DType.F32, hx.dim(0), k);
            Tensor ri = host(DType.I32, hx.dim(0), k);
            cpu.topK(hx, k, rv, ri);
            err = Arrays.equals(ri.toByteArray(), hi.toByteArray()) ? maxError(rv.toFloatArray(), hv.toFloatArray()) : Double.NaN;
        }
        double bytes = r * c * 4.0 + r * k * 8.0;
        row(name, r + "x" + c + " k" + k + " f32", err, time(op), bytes, 0,
                Double.isNaN(err) ? "INDICES DIFFER FROM THE CPU" : bytes < 2 * l2Bytes ? "fits in L2" : null);
        closeAll();
    }

    private void linear(long mm, int n, int k, DType xt, DType wt, DType yt) {
        Tensor x = random(xt, mm, k, 1);
        Tensor w = random(wt, n, k, 1);
        Tensor y = device(yt, mm, n);
        Runnable op = () -> gpu.linear(x, w, y);
        op.run();
        double err;
        try (Tensor hx = sampleRows(x); Tensor hw = w.toHost(); Tensor hy = sampleRows(y)) {
            Tensor ref = host(yt, hx.dim(0), n);
            cpu.linear(hx, hw, ref);
            err = maxError(ref.toFloatArray(), hy.toFloatArray());
        }
        double flops = 2.0 * mm * n * k;
        row("linear " + name(xt) + "x" + name(wt) + ">" + name(yt), mm + "x" + n + "x" + k, err, time(op),
                xt.byteSize(mm * k) + wt.byteSize((long) n * k) + yt.byteSize(mm * n), flops,
                xt == DType.BF16 && wt == DType.BF16 ? "mma.sync bf16" : "f32 FMA tiling");
        closeAll();
    }

    private void fp8Gemm(int mm, int n, int k) {
        String shape = mm + "x" + n + "x" + k;
        try {
            Tensor x = random(DType.BF16, mm, k, 1);
            BlockScaled a = track(compute.quantizeActivations(x, 128, DType.F8_E8M0));
            BlockScaled w = fp8Weight(n, k);
            Tensor y = device(DType.BF16, mm, n);
            Runnable op = () -> compute.gemmInto(a, w, y);
            op.run();
            double err = checkGemm(a, w, y, n);
            double bytes = (double) mm * k + (double) n * k + 2.0 * mm * n;
            row("fp8 gemm", shape, err, time(op), bytes, 2.0 * mm * n * k, null);
        } catch (RuntimeException e) {
            row("fp8 gemm", shape, Double.NaN, Float.NaN, 0, 0, "not run: " + e.getMessage());
        }
        closeAll();
    }

    /** FP4-weight GEMM for decode: {@code experts} weights used in turn so that L2 cannot hold them. */
    private void fp4Gemm(int mm, int n, int k, int experts) {
        String shape = mm + "x" + n + "x" + k;
        try {
            Tensor x = random(DType.BF16, mm, k, 1);
            BlockScaled a = track(compute.quantizeActivations(x, 128, DType.F8_E8M0));
            BlockScaled[] ws = new BlockScaled[experts];
            for (int e = 0; e < experts; e++) {
                ws[e] = fp4Weight(n, k);
            }
            Tensor y = device(DType.BF16, mm, n);
            int[] next = {0};
            Runnable op = () -> compute.gemmInto(a, ws[next[0]++ % experts], y);
            compute.gemmInto(a, ws[0], y);
            double err = checkGemm(a, ws[0], y, n);
            double bytes = (double) n * k / 2 + (double) n * k / 32 + (double) mm * k + 2.0 * mm * n;
            row("fp4 gemm", shape + " (" + experts + " weights)", err, time(op), bytes, 2.0 * mm * n * k, null);
        } catch (RuntimeException e) {
            row("fp4 gemm", shape, Double.NaN, Float.NaN, 0, 0, "not run: " + e.getMessage());
        }
        closeAll();
    }

    /** CPU reference on a few rows of a and one 128-row block of w; returns the max error. */
    private double checkGemm(BlockScaled a, BlockScaled w, Tensor y, int n) {
        int rowsChecked = (int) Math.min(8, a.rows());
        int n0 = (n / 2) / 128 * 128;
        int nb = Math.min(128, n - n0);
        boolean fp8 = w.values().dtype() == DType.F8_E4M3;
        try (Tensor av = a.values().slice(0, 0, rowsChecked).toHost();
             Tensor as = a.scales().slice(0, 0, rowsChecked).toHost();
             Tensor wv = w.values().slice(0, n0, n0 + nb).toHost();
             Tensor ws = (fp8 ? w.scales().slice(0, n0 / 128, n0 / 128 + 1) : w.scales().slice(0, n0, n0 + nb)).toHost();
             Tensor yv = y.slice(0, 0, rowsChecked).toHost()) {
            Tensor ref = host(DType.F32, rowsChecked, nb);
            BlockScaled ha = new BlockScaled(av, as, 1, 128);
            BlockScaled hw = new BlockScaled(wv, ws, w.blockRows(), w.blockCols());
            if (fp8) {
                cpu.fp8Gemm(ha, hw, ref);
            } else {
                cpu.fp4Gemm(ha, hw, ref);
            }
            float[] got = yv.slice(1, n0, n0 + nb).toFloatArray();
            return maxError(ref.toFloatArray(), got);
        }
    }

    private BlockScaled fp8Weight(int n, int k) {
        byte[] codes = randomCodes((long) n * k, 0x7F);
        byte[] scales = randomScales((long) ((n + 127) / 128) * ((k + 127) / 128));
        Tensor v = upload(Tensor.fromBytes(codes, DType.F8_E4M3, Shape.of(n, k)));
        Tensor s = upload(Tensor.fromBytes(scales, DType.F8_E8M0, Shape.of((n + 127) / 128, (k + 127) / 128)));
        return BlockScaled.fp8Weight(v, s);
    }

    private BlockScaled fp4Weight(int n, int k) {
        byte[] codes = randomCodes((long) n * k / 2, -1);
        byte[] scales = randomScales((long) n * k / 32);
        Tensor v = upload(Tensor.fromBytes(codes, DType.FP4_E2M1, Shape.of(n, k)));
        Tensor s = upload(Tensor.fromBytes(scales, DType.F8_E8M0, Shape.of(n, k / 32)));
        return BlockScaled.mxfp4Weight(v, s);
    }

    /** Random codes; with nanCode >= 0, E4M3 codes avoiding the NaN pattern 0x7F/0xFF. */
    private byte[] randomCodes(long n, int nanCode) {
        byte[] b = new byte[Math.toIntExact(n)];
        for (int i = 0; i < b.length; i++) {
            int v = rng.nextInt(256);
            if (nanCode >= 0 && (v & 0x7F) == nanCode) {
                v ^= 1;
            }
            b[i] = (byte) v;
        }
        return b;
    }

    private byte[] randomScales(long n) {
        byte[] b = new byte[Math.toIntExact(n)];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (127 - 12 + rng.nextInt(5)); // 2^-12 .. 2^-8
        }
        return b;
    }

    // ---- helpers ----

    private interface RowOp {
        void apply(Tensor x, Tensor y);
    }

    /** Runs the CPU op on the first CHECK_ROWS rows of x (a device view) and compares with y's. */
    private double checkRows(Tensor x, Tensor y, RowOp op, DType outType) {
        try (Tensor hx = sampleRows(x); Tensor hy = sampleRows(y)) {
            Tensor ref = host(outType, hy.shape().rows(), hy.dim(-1));
            op.apply(hx.reshape(hx.shape().rows(), hx.dim(-1)), ref);
            return maxError(ref.toFloatArray(), hy.toFloatArray());
        }
    }

    /** The first CHECK_ROWS rows of a 2-D device tensor (a view or not) as a host tensor. */
    private Tensor sampleRows(Tensor t) {
        long r = Math.min(CHECK_ROWS, t.dim(0));
        Tensor rows = t.slice(0, 0, r);
        if (rows.isContiguous()) {
            return rows.toHost();
        }
        Tensor dense = device(t.dtype(), r, t.dim(-1));
        gpu.copy(rows, dense);
        return dense.toHost();
    }

    private static double maxError(float[] want, float[] got) {
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(want[i]) != Float.isNaN(got[i])) {
                return Double.NaN;
            }
            if (!Float.isNaN(want[i])) {
                maxDiff = Math.max(maxDiff, Math.abs((double) got[i] - want[i]));
                maxRef = Math.max(maxRef, Math.abs(want[i]));
            }
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }

    /** Median device milliseconds of one call, after warm-up. */
    private float time(Runnable op) {
        float[] ms = new float[RUNS];
        try (CudaEvent start = CudaEvent.create(gpu.context()); CudaEvent end = CudaEvent.create(gpu.context())) {
            for (int i = 0; i < WARMUP; i++) {
                op.run();
            }
            for (int i = 0; i < RUNS; i++) {
                start.record(gpu.stream());
                op.run();
                end.record(gpu.stream());
                ms[i] = CudaEvent.elapsedMillis(start, end);
            }
        }
        Arrays.sort(ms);
        return ms[RUNS / 2];
    }

    private Tensor random(DType dtype, long r, long c, double std) {
        float[] v = new float[Math.toIntExact(r * c)];
        for (int i = 0; i < v.length; i++) {
            // sum of two uniforms: cheap, bell-shaped, never zero in practice
            v[i] = (float) ((rng.nextDouble() + rng.nextDouble() - 1.0) * 2.45 * std);
        }
        try (Tensor h = Tensor.fromFloats(v, dtype, Shape.of(r, c))) {
            return upload(h);
        }
    }

    private Tensor upload(Tensor host) {
        return track(compute.upload(host));
    }

    private Tensor device(DType dtype, long... dims) {
        Tensor t = track(compute.allocate(dtype, Shape.of(dims)));
        gpu.fill(t.storage(), 0xFF);
        return t;
    }

    private Tensor host(DType dtype, long... dims) {
        return track(Tensor.allocate(dtype, Shape.of(dims)));
    }

    private <T extends AutoCloseable> T track(T t) {
        open.add(t);
        return t;
    }

    private void closeAll() {
        gpu.synchronize();
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        open.clear();
    }

    private static String name(DType t) {
        return t.name().toLowerCase(Locale.ROOT);
    }

    private void row(String op, String shape, double err, float ms, double bytes, double flops, String note) {
        String rate;
        if (Float.isNaN(ms)) {
            rate = "-";
        } else if (flops > 0) {
            rate = String.format(Locale.ROOT, "%.1f TFLOP/s", flops / (ms * 1e-3) / 1e12);
        } else {
            rate = String.format(Locale.ROOT, "%.2f TB/s", bytes / (ms * 1e-3) / 1e12);
        }
        String e = Double.isNaN(err) ? "FAIL" : err == 0 ? "0 (exact)" : String.format(Locale.ROOT, "%.1e", err);
        if (Float.isNaN(ms) && note != null && note.startsWith("not run")) {
            e = "-";
        }
        rows.add(String.format(Locale.ROOT, "| %-22s | %-30s | %-9s | %10s | %-14s | %s |", op, shape, e,
                Float.isNaN(ms) ? "-" : String.format(Locale.ROOT, "%.1f us", ms * 1e3), rate, note == null ? "" : note));
        System.out.println(rows.get(rows.size() - 1));
    }

    private String table() {
        StringBuilder sb = new StringBuilder();
        sb.append("CUDA ops on ").append(gpu.description()).append('\n');
        sb.append("median of ").append(RUNS).append(" runs after ").append(WARMUP)
                .append(" warm-up, device events; error = max|gpu-cpu|/max|cpu| on checked rows\n\n");
        sb.append(String.format(Locale.ROOT, "| %-22s | %-30s | %-9s | %10s | %-14s | %s |%n", "op", "shape", "max err", "time",
                "achieved", "note"));
        sb.append("|").append("-".repeat(24)).append("|").append("-".repeat(32)).append("|").append("-".repeat(11))
                .append("|").append("-".repeat(12)).append("|").append("-".repeat(16)).append("|------|\n");
        for (String r : rows) {
            sb.append(r).append('\n');
        }
        return sb.toString();
    }
}

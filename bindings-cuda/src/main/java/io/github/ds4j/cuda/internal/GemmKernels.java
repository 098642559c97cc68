package io.github.ds4j.cuda.internal;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Launchers of the block-scaled GEMM kernels (kernels/cuda/fp8_gemm.cu and fp4_gemm.cu). The CUDA
 * backend calls these with validated operands (see {@link io.github.ds4j.spi.Backend#fp8Gemm}).
 *
 * <p>Kernel choice ({@link GemmVariant}; {@code -Dds4j.cuda.gemm} forces one): on a compute
 * capability 9.0 GPU running its sm_90a code, {@code skinny} for M &lt;= 64 and {@code wgmma}
 * otherwise; {@code mma80} on every other GPU of compute capability 8.0 or newer and whenever the
 * launcher runs the compute_80 PTX ({@link KernelLauncher#sm80Mode()}), since the sm_90-only
 * entry points are stubs there; {@code simple} when K = 0 or when a or w is not 16-byte aligned.
 * The constants below mirror the launch contract written next to each kernel.
 */
public final class GemmKernels {
    private static final System.Logger LOG = System.getLogger("io.github.ds4j.cuda");
    private static final AtomicBoolean WARNED_ALIGNMENT = new AtomicBoolean();

    static final String FP8_FAMILY = "fp8_gemm";
    static final String FP4_FAMILY = "fp4_gemm";

    /** gemm_simple.cuh: 16x16 outputs per block of 16x16 threads. */
    static final int SIMPLE_TILE = 16;
    /** gemm_mma80.cuh: 128x128 tiles, 8 warps, double-buffered bf16 tiles of 128 x (64 + 8). */
    static final int MMA80_TILE = 128;
    static final int MMA80_THREADS = 256;
    static final int MMA80_SMEM = 2 * (128 + 128) * (64 + 8) * 2;
    /** gemm_skinny.cuh: 64 weight rows per CTA of 4 warps, up to 8 CTAs of a cluster split K. */
    static final int SKINNY_ROWS = 64;
    static final int SKINNY_THREADS = 128;
    static final int SKINNY_MAX_M = 64;
    static final int SKINNY_MAX_CLUSTER = 8;
    /** wgmma kernels: 128x128 tiles, producer + 2 consumer warpgroups. */
    static final int WGMMA_TILE = 128;
    static final int WGMMA_THREADS = 384;
    /** fp8_gemm.cu: 1 KiB alignment slack + 6 stages of two 16 KiB tiles + 12 mbarriers. */
    static final int WGMMA_FP8_SMEM = 1024 + 6 * (2 * 128 * 128) + 2 * 6 * 8;
    /** fp4_gemm.cu: slack + 5 stages of A, expanded B, packed W, raw and f32 scales + 10 mbarriers. */
    static final int WGMMA_FP4_SMEM = 1024 + 5 * (2 * 128 * 128 + 128 * 64 + 128 * 16 + 4 * 128 * 4) + 2 * 5 * 8;
    /** The grid's y dimension limit; the 2-D-grid kernels take larger M in row chunks. */
    static final int MAX_GRID_Y = 65535;

    private GemmKernels() {
    }

    /** y [M, N] = a (E4M3 [M, K], 1x128 scales) times w^T (E4M3 [N, K], 128x128 scales). */
    public static void fp8Gemm(KernelLauncher k, BlockScaled a, BlockScaled w, Tensor y) {
        for (GemmLaunch l : plan(k, GemmOperands.of(a, w, y, false))) {
            l.run(k);
        }
    }

    /** y [M, N] = a (E4M3 [M, K], 1x128 scales) times w^T (FP4 [N, K], 1x32 scales). */
    public static void fp4Gemm(KernelLauncher k, BlockScaled a, BlockScaled w, Tensor y) {
        for (GemmLaunch l : plan(k, GemmOperands.of(a, w, y, true))) {
            l.run(k);
        }
    }

    /** The launches that compute one GEMM (several only when M needs row chunks). */
    public static List<GemmLaunch> plan(KernelLauncher k, GemmOperands o) {
        if (o.m() == 0 || o.n() == 0) {
            return List.of();
        }
        GemmVariant v = choose(k, o);
        String family = o.fp4() ? FP4_FAMILY : FP8_FAMILY;
        String prefix = "ds4j_" + family + "_";
        return switch (v) {
            case SIMPLE -> chunked(o, SIMPLE_TILE, (p, rows) -> new GemmLaunch(family, prefix + "simple", v,
                    Dim3.of(ceilDiv(p.n(), SIMPLE_TILE), ceilDiv(rows, SIMPLE_TILE)), Dim3.of(SIMPLE_TILE, SIMPLE_TILE), 0, p.args()));
            case MMA80 -> chunked(o, MMA80_TILE, (p, rows) -> new GemmLaunch(family, prefix + "mma80", v,
                    Dim3.of(ceilDiv(p.n(), MMA80_TILE), ceilDiv(rows, MMA80_TILE)), Dim3.of(MMA80_THREADS), MMA80_SMEM, p.args()));
            case SKINNY -> {
                int cluster = skinnyCluster(o.n(), o.k(), k.multiprocessors());
                String name = prefix + "skinny_m" + skinnyRows(o.m()) + "_c" + cluster;
                yield List.of(new GemmLaunch(family, name, v, Dim3.of(ceilDiv(o.n(), SKINNY_ROWS), cluster),
                        Dim3.of(SKINNY_THREADS), 0, o.args()));
            }
            case WGMMA -> {
                long tiles = (long) ceilDiv(o.m(), WGMMA_TILE) * ceilDiv(o.n(), WGMMA_TILE);
                if (tiles > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("a, w: " + tiles + " output tiles exceed one grid");
                }
                yield List.of(new GemmLaunch(family, prefix + "wgmma", v, Dim3.of((int) tiles), Dim3.of(WGMMA_THREADS),
                        o.fp4() ? WGMMA_FP4_SMEM : WGMMA_FP8_SMEM, o.args()));
            }
        };
    }

    /** The kernel for these operands on this device: forced by the property, else the fastest that fits. */
    static GemmVariant choose(KernelLauncher k, GemmOperands o) {
        GemmVariant forced = GemmVariant.forced();
        if (o.k() == 0) {
            return GemmVariant.SIMPLE;  // nothing to sum: the fast kernels assume at least one K block
        }
        if (forced != null) {
            String why = unsupported(k, o, forced);
            if (why != null) {
                throw new IllegalStateException(GemmVariant.PROPERTY + "=" + forced.id() + ": " + why);
            }
            return forced;
        }
        if (runsSm90a(k)) {
            if (unsupported(k, o, GemmVariant.SKINNY) == null) {
                return GemmVariant.SKINNY;
            }
            if (unsupported(k, o, GemmVariant.WGMMA) == null) {
                return GemmVariant.WGMMA;
            }
        }
        if (unsupported(k, o, GemmVariant.MMA80) == null) {
            return GemmVariant.MMA80;
        }
        if (k.computeCapability() >= 80 && !aligned16(o) && WARNED_ALIGNMENT.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.INFO, "ds4j: GEMM operands not 16-byte aligned (a at 0x" + Long.toHexString(o.a())
                    + ", w at 0x" + Long.toHexString(o.w()) + "): using the simple kernel (reported once)");
        }
        return GemmVariant.SIMPLE;
    }

    /** Why {@code v} cannot run these operands on this device, or null when it can. */
    static String unsupported(KernelLauncher k, GemmOperands o, GemmVariant v) {
        int cc = k.computeCapability();
        String device = "this device is sm_" + cc + (k.sm80Mode() ? " running the compute_80 PTX" : "");
        switch (v) {
            case SIMPLE:
                return null;
            case MMA80:
                if (cc < 80) {
                    return "needs compute capability 8.0 or newer; " + device;
                }
                if (k.maxSharedPerBlock() < MMA80_SMEM) {
                    return "needs " + MMA80_SMEM + " bytes of shared memory per block, the device allows " + k.maxSharedPerBlock();
                }
                return aligned16(o) ? null : "needs a and w 16-byte aligned";
            case SKINNY:
                if (!runsSm90a(k)) {
                    return "needs the sm_90a code of a compute capability 9.0 GPU; " + device;
                }
                if (o.m() > SKINNY_MAX_M) {
                    return "handles M <= " + SKINNY_MAX_M + ", got M = " + o.m();
                }
                return aligned16(o) ? null : "needs a and w 16-byte aligned";
            case WGMMA:
                if (!runsSm90a(k)) {
                    return "needs the sm_90a code of a compute capability 9.0 GPU; " + device;
                }
                int smem = o.fp4() ? WGMMA_FP4_SMEM : WGMMA_FP8_SMEM;
                if (k.maxSharedPerBlock() < smem) {
                    return "needs " + smem + " bytes of shared memory per block, the device allows " + k.maxSharedPerBlock();
                }
                if (!aligned16(o)) {
                    return "needs a and w 16-byte aligned";
                }
                if (o.fp4()) {
                    // cp.async copies the weight scales: 16 bytes of F32 or 4 bytes of UE8M0 per row and stage.
                    int align = (o.flags() & GemmOperands.FLAG_W_SCALE_F32) != 0 ? 16 : 4;
                    if (o.wScale() % align != 0) {
                        return "needs the weight scales " + align + "-byte aligned";
                    }
                }
                return null;
            default:
                throw new AssertionError(v);
        }
    }

    /** The driver runs the sm_90a cubin only on compute capability 9.0, and not in sm80 mode. */
    static boolean runsSm90a(KernelLauncher k) {
        return k.computeCapability() == 90 && !k.sm80Mode();
    }

    private static boolean aligned16(GemmOperands o) {
        return o.a() % 16 == 0 && o.w() % 16 == 0;
    }

    /** Activation rows a skinny entry point covers: the smallest of 8, 16, 32, 64 holding M. */
    static int skinnyRows(int m) {
        int r = 8;
        while (r < m) {
            r *= 2;
        }
        return r;
    }

    /**
     * CTAs per cluster splitting K for the skinny kernel: doubled (up to 8) while the grid has fewer
     * than two CTAs per multiprocessor and every CTA keeps at least one 128-column K block.
     */
    static int skinnyCluster(int n, int k, int multiprocessors) {
        long ctas = ceilDiv(n, SKINNY_ROWS);
        int kBlocks = k / GemmOperands.SCALE_BLOCK;
        int c = 1;
        while (c < SKINNY_MAX_CLUSTER && ctas * c < 2L * multiprocessors && c * 2 <= kBlocks) {
            c *= 2;
        }
        return c;
    }

    private interface ChunkLaunch {
        GemmLaunch make(GemmOperands chunk, int rows);
    }

    /** One launch per chunk of output rows that fits the grid's y limit. */
    private static List<GemmLaunch> chunked(GemmOperands o, int tileRows, ChunkLaunch f) {
        int maxRows = MAX_GRID_Y * tileRows;
        List<GemmLaunch> out = new ArrayList<>();
        for (long first = 0; first < o.m(); first += maxRows) {
            int rows = (int) Math.min(maxRows, o.m() - first);
            out.add(f.make(o.rows((int) first, rows), rows));
        }
        return out;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}

package io.github.ds4j.cuda.internal;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.cuda.CudaProvider;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.Backend;
import io.github.ds4j.spi.Probe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Base of the tests that run kernels on a GPU: opens cuda:0 once per class, or skips every test
 * with the probe's reason when there is none. Gives random host inputs (seed printed; set
 * {@code -Dds4j.test.seed} to repeat one), device copies, outputs poisoned with 0xFF bytes (NaN in
 * every real dtype) inside a wider parent so that writes past a row show, and comparisons with the
 * CPU scalar reference.
 *
 * <p>{@code -Dds4j.test.harnessOnCpu=true} runs the same tests with a second CPU backend in the
 * GPU's place: a check of the test code itself (layouts, poisoning, comparisons) on a machine
 * without a GPU. It says nothing about the kernels.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class GpuTestBase {
    /** The device under test: cuda:0, or a CPU backend when checking the harness. */
    protected Backend gpu;
    private CudaBackend cuda;
    protected final CpuBackend cpu = CpuBackend.scalarReference();
    protected Random rng;
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeAll
    void openGpu() {
        if (Boolean.getBoolean("ds4j.test.harnessOnCpu")) {
            gpu = CpuBackend.scalarReference();
            System.out.println("[ds4j] " + getClass().getSimpleName() + ": checking the test harness on the CPU (no kernels run)");
            return;
        }
        Probe p = new CudaProvider().probe();
        if (!p.isAvailable()) {
            System.out.println("[ds4j] " + getClass().getSimpleName() + " skipped: " + p.reason());
            Assumptions.abort("no usable CUDA device: " + p.reason());
        }
        cuda = CudaBackend.open(0);
        gpu = cuda;
        System.out.println("[ds4j] " + getClass().getSimpleName() + " on " + gpu.description());
    }

    @BeforeEach
    void seed(TestInfo info) {
        long seed = Long.getLong("ds4j.test.seed", System.nanoTime());
        System.out.println("[ds4j] " + info.getDisplayName() + " seed " + seed);
        rng = new Random(seed);
    }

    @AfterEach
    void closeTensors() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        open.clear();
    }

    @AfterAll
    void closeGpu() {
        if (cuda != null) {
            int leaked = cuda.liveAllocations();
            cuda.close();
            assertEquals(0, leaked, "device allocations left open by the tests");
        }
    }

    /** Skips a test that checks CUDA-specific behaviour when the harness runs on the CPU. */
    protected void assumeKernels() {
        Assumptions.assumeTrue(cuda != null, "checks the CUDA kernels themselves");
    }

    protected <T extends AutoCloseable> T track(T t) {
        open.add(t);
        return t;
    }

    // ---- inputs ----

    /** Gaussian values times 2^e per row, e uniform in [-spread, spread]: rows of very different scales. */
    protected float[] gaussianRows(long rows, long cols, int spread) {
        float[] v = new float[Math.toIntExact(rows * cols)];
        for (int r = 0; r < rows; r++) {
            float scale = Math.scalb(1f, spread == 0 ? 0 : rng.nextInt(2 * spread + 1) - spread);
            for (int c = 0; c < cols; c++) {
                v[(int) (r * cols + c)] = (float) rng.nextGaussian() * scale;
            }
        }
        return v;
    }

    protected Tensor hostOf(float[] values, DType dtype, long... dims) {
        return track(Tensor.fromFloats(values, dtype, Shape.of(dims)));
    }

    /** A device copy of a contiguous host tensor. */
    protected Tensor upload(Tensor host) {
        Tensor t = track(Tensor.of(gpu.allocate(Math.max(1, host.dtype().byteSize(host.numel()))), host.dtype(),
                host.shape(), true));
        t.copyFrom(host);
        return t;
    }

    /** A device tensor whose every byte is 0xFF. */
    protected Tensor poisoned(DType dtype, long... dims) {
        Shape s = Shape.of(dims);
        Tensor t = track(Tensor.of(gpu.allocate(Math.max(1, dtype.byteSize(s.numel()))), dtype, s, true));
        if (cuda != null) {
            cuda.fill(t.storage(), 0xFF);
        } else {
            t.storage().segment().fill((byte) 0xFF);
        }
        return t;
    }

    /** The last {@code cols} columns of a 2-D tensor (a row-strided view when pad > 0). */
    protected static Tensor lastColumns(Tensor parent, long cols) {
        long all = parent.dim(-1);
        return parent.slice(-1, all - cols, all);
    }

    /** A poisoned output: the last cols columns of a device [rows, cols + pad]. */
    protected Out output(DType dtype, long rows, long cols, int pad) {
        Tensor parent = poisoned(dtype, rows, cols + pad);
        return new Out(parent, lastColumns(parent, cols), pad);
    }

    /** An output view and its parent, whose first pad columns must stay poisoned. */
    protected record Out(Tensor parent, Tensor view, int pad) {
        /** The view's values on the host, after checking nothing was written into the padding. */
        float[] values() {
            try (Tensor host = parent.toHost()) {
                checkPadding(host);
                return lastColumns(host, view.dim(-1)).toFloatArray();
            }
        }

        /** The view's raw bytes (FP8 and other byte dtypes), after the padding check. */
        byte[] bytes() {
            try (Tensor host = parent.toHost()) {
                checkPadding(host);
                byte[] all = host.toByteArray();
                int width = (int) parent.dim(-1);
                int cols = (int) view.dim(-1);
                int rows = (int) (parent.numel() / width);
                int size = parent.dtype().bits() / 8;
                byte[] out = new byte[rows * cols * size];
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(all, (r * width + pad) * size, out, r * cols * size, cols * size);
                }
                return out;
            }
        }

        private void checkPadding(Tensor host) {
            if (pad == 0) {
                return;
            }
            byte[] all = host.toByteArray();
            int width = (int) parent.dim(-1);
            int size = parent.dtype().bits() / 8;
            for (int r = 0; r < all.length / (width * size); r++) {
                for (int b = 0; b < pad * size; b++) {
                    if (all[r * width * size + b] != (byte) 0xFF) {
                        fail("a kernel wrote into the padding before row " + r + " (byte " + b + ")");
                    }
                }
            }
        }
    }

    // ---- comparisons ----

    /** Equal bit for bit (all NaNs count as one value). */
    protected static void assertSameFloats(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])) {
                fail(what + ": element " + i + " is " + got[i] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(got[i]))
                        + "), the CPU gives " + want[i] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(want[i])) + ")");
            }
        }
    }

    protected static void assertSameBytes(byte[] want, byte[] got, String what) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            if (want[i] != got[i]) {
                fail(what + ": byte " + i + " is 0x" + Integer.toHexString(got[i] & 0xFF) + ", the CPU gives 0x"
                        + Integer.toHexString(want[i] & 0xFF));
            }
        }
    }

    /**
     * ||got - want|| / ||want|| within {@code tolerance}; a NaN in got where want has a number (an
     * unwritten, poisoned element) fails, and so do NaNs in different places.
     */
    protected static double assertClose(float[] want, float[] got, double tolerance, String what) {
        assertEquals(want.length, got.length, what + ": length");
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(want[i]) || Float.isNaN(got[i])) {
                if (Float.isNaN(want[i]) != Float.isNaN(got[i])) {
                    fail(what + ": element " + i + " is " + got[i] + ", the CPU gives " + want[i]);
                }
                continue;
            }
            if (Float.isInfinite(want[i]) || Float.isInfinite(got[i])) {
                if (want[i] != got[i]) {
                    fail(what + ": element " + i + " is " + got[i] + ", the CPU gives " + want[i]);
                }
                continue;
            }
            double d = (double) got[i] - want[i];
            diff += d * d;
            norm += (double) want[i] * want[i];
        }
        double rel = norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
        if (!(rel <= tolerance)) {
            fail(what + ": relative error " + rel + " above " + tolerance);
        }
        return rel;
    }

    /** The CPU reference output [rows, cols] of a real dtype. */
    protected Tensor cpuOut(DType dtype, long... dims) {
        return track(Tensor.allocate(dtype, Shape.of(dims)));
    }
}

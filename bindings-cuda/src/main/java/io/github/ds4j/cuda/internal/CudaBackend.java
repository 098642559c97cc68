package io.github.ds4j.cuda.internal;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Device;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Storage;
import io.github.ds4j.Tensor;
import io.github.ds4j.spi.Backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One CUDA device: its retained primary context, one non-blocking stream, the kernel launcher,
 * and every {@link Backend} op as a kernel of kernels/cuda (the GEMMs through
 * {@link GemmKernels}). Work is queued on the stream; host copies and {@link #synchronize()}
 * wait for it.
 *
 * <p>Thread-safety: the backend may be used from several threads. Each driver call is made with
 * the context made current on the calling thread first; ops are serialized on this object (they
 * share the stream, the argument buffer and the scratch memory), and since they only queue work,
 * holding the lock is short.
 *
 * <p>Memory: {@link #allocate} returns storages that own a cuMemAlloc allocation. Freeing waits
 * for the stream first (a kernel may still use the memory). Closing the backend frees what is
 * still allocated, so that no pointer outlives its context.
 */
public final class CudaBackend implements Backend {
    private static final System.Logger LOG = System.getLogger("io.github.ds4j.cuda");
    /** RoPE frequency tables kept on the device (V4 uses two or three). */
    private static final int ROPE_TABLES = 16;

    private final Device device;
    private final DeviceProperties properties;
    private final int driverVersion;
    private final PrimaryContext context;
    private final CudaStream stream;
    private final CudaLauncher launcher;
    private final Set<DeviceMemory> live = ConcurrentHashMap.newKeySet();
    private final Map<RopeSpec, DeviceMemory> ropeTables = new LinkedHashMap<>();
    private DeviceMemory scratch;
    private volatile boolean closed;

    private CudaBackend(DeviceProperties properties, int driverVersion, PrimaryContext context, CudaStream stream,
                        CudaLauncher launcher) {
        this.device = Device.cuda(properties.ordinal());
        this.properties = properties;
        this.driverVersion = driverVersion;
        this.context = context;
        this.stream = stream;
        this.launcher = launcher;
    }

    /**
     * Opens device {@code ordinal}: initializes the driver if needed, retains the device's primary
     * context and creates the stream. {@code -Dds4j.cuda.sm80=true} loads the compute_80 PTX of
     * every family; {@code -Dds4j.cuda.syncLaunches=true} waits after every launch.
     */
    public static CudaBackend open(int ordinal) {
        CudaDriver.check(CudaProbe.initialize(), "cuInit");
        DeviceProperties p = DeviceProperties.read(ordinal);
        int version = CudaDriver.driverVersion();
        PrimaryContext ctx = PrimaryContext.retain(p.handle());
        CudaStream stream = null;
        try {
            stream = CudaStream.create(ctx);
            CudaLauncher launcher = new CudaLauncher(ctx, stream, p, Boolean.getBoolean("ds4j.cuda.sm80"),
                    Boolean.getBoolean("ds4j.cuda.syncLaunches"));
            return new CudaBackend(p, version, ctx, stream, launcher);
        } catch (RuntimeException e) {
            if (stream != null) {
                stream.close();
            }
            ctx.close();
            throw e;
        }
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public String description() {
        return String.format(Locale.ROOT, "%s (%s), %.1f GiB, %s, %d SMs, CUDA driver %s%s",
                properties.name(), device, properties.totalMemory() / (double) (1L << 30), properties.smName(),
                properties.multiprocessors(), versionString(driverVersion),
                launcher.sm80Mode() ? ", sm_80 PTX mode" : "");
    }

    /** "13.0" for 13000. */
    public static String versionString(int v) {
        return (v / 1000) + "." + (v % 1000) / 10;
    }

    public DeviceProperties properties() {
        return properties;
    }

    /** The launcher every op goes through (for the GEMM launchers and benchmarks). */
    public CudaLauncher launcher() {
        return launcher;
    }

    /** The context (for benchmarks that time with events). */
    public PrimaryContext context() {
        return context;
    }

    /** The stream all work of this backend runs on. */
    public CudaStream stream() {
        return stream;
    }

    // ---- memory ----

    @Override
    public synchronized Storage allocate(long bytes) {
        ensureOpen();
        DeviceMemory m = DeviceMemory.allocate(context, bytes);
        live.add(m);
        return Storage.owned(MemorySegment.ofAddress(m.address()).reinterpret(bytes), this, () -> release(m));
    }

    private synchronized void release(DeviceMemory m) {
        if (!live.remove(m)) {
            return; // freed when the backend closed
        }
        stream.synchronize(); // a queued kernel may still read or write it
        m.close();
    }

    /** Allocations of this backend not yet freed. */
    public int liveAllocations() {
        return live.size();
    }

    /** Sets every byte of the storage to {@code value} (stream-ordered); tests poison outputs so. */
    public synchronized void fill(Storage storage, int value) {
        ensureOpen();
        context.makeCurrent();
        CudaDriver.memsetD8Async(storage.segment().address(), (byte) value, storage.byteSize(), stream.handle());
    }

    @Override
    public synchronized void copyFromHost(MemorySegment src, Tensor dst) {
        ensureOpen();
        long bytes = dst.dtype().byteSize(dst.numel());
        if (bytes == 0) {
            return;
        }
        context.makeCurrent();
        if (src.isNative()) {
            CudaDriver.memcpyHtoDAsync(Rows.address(dst), src, bytes, stream.handle());
            stream.synchronize(); // the caller may reuse src once this returns
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment staging = arena.allocate(bytes, 64);
                MemorySegment.copy(src, 0, staging, 0, bytes);
                CudaDriver.memcpyHtoDAsync(Rows.address(dst), staging, bytes, stream.handle());
                stream.synchronize();
            }
        }
    }

    @Override
    public synchronized void copyToHost(Tensor src, MemorySegment dst) {
        ensureOpen();
        long bytes = src.dtype().byteSize(src.numel());
        if (bytes == 0) {
            return;
        }
        context.makeCurrent();
        if (dst.isNative()) {
            CudaDriver.memcpyDtoHAsync(dst, Rows.address(src), bytes, stream.handle());
            stream.synchronize();
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment staging = arena.allocate(bytes, 64);
                CudaDriver.memcpyDtoHAsync(staging, Rows.address(src), bytes, stream.handle());
                stream.synchronize();
                MemorySegment.copy(staging, 0, dst, 0, bytes);
            }
        }
    }

    @Override
    public synchronized void copy(Tensor src, Tensor dst) {
        ensureOpen();
        if (src.numel() == 0) {
            return;
        }
        context.makeCurrent();
        if (src.isContiguous() && dst.isContiguous()) {
            CudaDriver.memcpyDtoDAsync(Rows.address(dst), Rows.address(src), src.dtype().byteSize(src.numel()),
                    stream.handle());
            return;
        }
        // row layouts: one pitched copy of rows x (cols * element size) bytes
        int bits = src.dtype().bits();
        long cols = src.shape().last();
        long rows = src.shape().rows();
        long srcStride = src.rowStride();
        long dstStride = dst.rowStride();
        if (bits == 4 && ((srcStride | dstStride | cols) & 1) != 0) {
            throw new IllegalArgumentException("copy: strided FP4 rows must start on whole bytes, got row strides "
                    + srcStride + " and " + dstStride);
        }
        long width = bits == 4 ? cols / 2 : cols * (bits / 8);
        long srcPitch = bits == 4 ? srcStride / 2 : srcStride * (bits / 8);
        long dstPitch = bits == 4 ? dstStride / 2 : dstStride * (bits / 8);
        if (rows > 1 && (srcPitch < width || dstPitch < width)) {
            throw new IllegalArgumentException("copy: rows overlap (row strides " + srcStride + ", " + dstStride
                    + " for " + cols + " columns)");
        }
        CudaDriver.memcpy2DDeviceAsync(Rows.address(dst), rows > 1 ? dstPitch : width, Rows.address(src),
                rows > 1 ? srcPitch : width, width, rows, stream.handle());
    }

    @Override
    public void synchronize() {
        ensureOpen();
        stream.synchronize();
    }

    // ---- ops ----

    @Override
    public synchronized void convert(Tensor x, Tensor y) {
        ensureOpen();
        ConvertKernels.convert(launcher, x, y);
    }

    @Override
    public synchronized void quantizeActivations(Tensor x, Tensor q, Tensor scales, int block) {
        ensureOpen();
        QuantKernels.quantizeActivations(launcher, x, q, scales, block);
    }

    @Override
    public synchronized void fp8Simulate(Tensor x, Tensor y, int block) {
        ensureOpen();
        QuantKernels.fp8Simulate(launcher, x, y, block);
    }

    @Override
    public synchronized void fp4Simulate(Tensor x, Tensor y, int block) {
        ensureOpen();
        QuantKernels.fp4Simulate(launcher, x, y, block);
    }

    @Override
    public synchronized void fp8Gemm(BlockScaled a, BlockScaled w, Tensor y) {
        ensureOpen();
        GemmKernels.fp8Gemm(launcher, a, w, y);
    }

    @Override
    public synchronized void fp4Gemm(BlockScaled a, BlockScaled w, Tensor y) {
        ensureOpen();
        GemmKernels.fp4Gemm(launcher, a, w, y);
    }

    @Override
    public synchronized void linear(Tensor x, Tensor w, Tensor y) {
        ensureOpen();
        LinearKernels.linear(launcher, x, w, y);
    }

    @Override
    public synchronized void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        ensureOpen();
        RmsNormKernels.rmsNorm(launcher, x, weight, eps, y);
    }

    @Override
    public synchronized void rope(Tensor x, Tensor y, RopeSpec rope, long startPos, boolean inverse) {
        ensureOpen();
        RopeKernels.check(x, y, rope, startPos); // before the table upload
        RopeKernels.rope(launcher, x, y, rope, ropeTable(rope), startPos, inverse);
    }

    @Override
    public synchronized void hadamard(Tensor x, Tensor y) {
        ensureOpen();
        HadamardKernels.check(x, y); // before the scratch allocation
        HadamardKernels.hadamard(launcher, x, y, scratch(HadamardKernels.scratchBytes(launcher, x)));
    }

    @Override
    public synchronized void swiglu(Tensor gate, Tensor up, float limit, Tensor y) {
        ensureOpen();
        SwigluKernels.swiglu(launcher, gate, up, limit, y);
    }

    @Override
    public synchronized void softmax(Tensor x, Tensor y) {
        ensureOpen();
        SoftmaxKernels.softmax(launcher, x, y);
    }

    @Override
    public synchronized void topK(Tensor x, int k, Tensor values, Tensor indices) {
        ensureOpen();
        TopKKernels.check(x, k, values, indices); // before sizing and allocating the scratch (k * blocks)
        TopKKernels.topK(launcher, x, k, values, indices, scratch(TopKKernels.scratchBytes(launcher, x, k)));
    }

    /** The device copy of the spec's frequencies, uploaded once per RopeSpec. */
    private long ropeTable(RopeSpec spec) {
        DeviceMemory table = ropeTables.get(spec);
        if (table == null) {
            float[] f = spec.frequencies();
            table = DeviceMemory.allocate(context, f.length * 4L);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocateFrom(ValueLayout.JAVA_FLOAT, f);
                context.makeCurrent();
                CudaDriver.memcpyHtoDAsync(table.address(), host, f.length * 4L, stream.handle());
                stream.synchronize();
            } catch (RuntimeException e) {
                table.close();
                throw e;
            }
            if (ropeTables.size() >= ROPE_TABLES) {
                var oldest = ropeTables.entrySet().iterator().next();
                stream.synchronize();
                oldest.getValue().close();
                ropeTables.remove(oldest.getKey());
            }
            ropeTables.put(spec, table);
        }
        return table.address();
    }

    /** Device scratch of at least {@code bytes} (0: none), reused by stream-ordered ops. */
    private long scratch(long bytes) {
        if (bytes == 0) {
            return 0;
        }
        if (scratch == null || scratch.bytes() < bytes) {
            if (scratch != null) {
                stream.synchronize();
                scratch.close();
                scratch = null;
            }
            scratch = DeviceMemory.allocate(context, Math.max(bytes, 1L << 20));
        }
        return scratch.address();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the CUDA backend of " + device + " is closed");
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<AutoCloseable> order = new ArrayList<>();
        order.add(stream::synchronize);
        if (!live.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "ds4j: closing " + device + " with " + live.size()
                    + " tensor storage(s) still open; their device memory is freed now");
        }
        order.addAll(live);
        order.addAll(ropeTables.values());
        if (scratch != null) {
            order.add(scratch);
        }
        order.add(launcher);
        order.add(stream);
        order.add(context);
        RuntimeException first = null;
        for (AutoCloseable c : order) {
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        live.clear();
        ropeTables.clear();
        scratch = null;
        if (first != null) {
            throw first;
        }
    }
}

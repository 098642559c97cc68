package io.github.ds4j.cuda.internal;

import io.github.ds4j.cuda.CudaException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The {@link KernelLauncher} of one device and stream. A family's module is loaded on its first
 * launch (the fatbin, or with {@code -Dds4j.cuda.sm80=true} its compute_80 PTX, JIT-compiled by
 * the driver, so that a newer GPU runs the sm_80 code paths); functions are looked up once.
 *
 * <p>Thread-safe: {@link #launch} is synchronized (the argument buffer is shared) and makes the
 * context current on the calling thread. With {@code -Dds4j.cuda.syncLaunches=true} every launch
 * waits for its kernel, so that a fault is reported at the kernel that caused it.
 */
public final class CudaLauncher implements KernelLauncher, AutoCloseable {
    private static final int SLOT = 8;

    private final PrimaryContext context;
    private final CudaStream stream;
    private final DeviceProperties device;
    private final boolean sm80Mode;
    private final boolean syncEachLaunch;
    private final Map<String, CudaModule> modules = new HashMap<>();
    private final Map<String, Map<String, Function>> functions = new HashMap<>();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment values;
    private final MemorySegment pointers;
    private boolean closed;

    private static final class Function {
        final long handle;
        int dynamicSharedLimit = LaunchChecks.DEFAULT_SHARED_LIMIT;

        Function(long handle) {
            this.handle = handle;
        }
    }

    public CudaLauncher(PrimaryContext context, CudaStream stream, DeviceProperties device, boolean sm80Mode,
                        boolean syncEachLaunch) {
        this.context = context;
        this.stream = stream;
        this.device = device;
        this.sm80Mode = sm80Mode;
        this.syncEachLaunch = syncEachLaunch;
        // one 8-byte slot per argument; the pointer array points at the slots once and for all
        this.values = arena.allocate((long) SLOT * LaunchChecks.MAX_ARGS, 16);
        this.pointers = arena.allocate(ADDRESS, LaunchChecks.MAX_ARGS);
        for (int i = 0; i < LaunchChecks.MAX_ARGS; i++) {
            pointers.setAtIndex(ADDRESS, i, values.asSlice((long) i * SLOT, SLOT));
        }
    }

    @Override
    public synchronized void launch(String family, String kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args) {
        LaunchChecks.check(family, kernel, grid, block, sharedBytes, args, maxSharedPerBlock());
        if (closed) {
            throw new IllegalStateException("the CUDA backend of cuda:" + device.ordinal() + " is closed");
        }
        context.makeCurrent();
        Function f = function(family, kernel);
        if (sharedBytes > f.dynamicSharedLimit) {
            CudaDriver.funcSetAttribute(f.handle, CudaDriver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, sharedBytes);
            f.dynamicSharedLimit = sharedBytes;
        }
        List<KernelArgs.Arg> list = args.list();
        for (int i = 0; i < list.size(); i++) {
            long at = (long) i * SLOT;
            switch (list.get(i)) {
                case KernelArgs.Ptr p -> values.set(JAVA_LONG, at, p.address());
                case KernelArgs.I32 v -> values.set(JAVA_INT, at, v.value());
                case KernelArgs.I64 v -> values.set(JAVA_LONG, at, v.value());
                case KernelArgs.F32 v -> values.set(JAVA_FLOAT, at, v.value());
            }
        }
        int rc = CudaDriver.launchKernel(f.handle, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                sharedBytes, stream.handle(), pointers);
        if (rc != CudaDriver.CUDA_SUCCESS) {
            throw CudaDriver.error(rc, CudaDriver.launchKernelName() + "(" + kernel + ")");
        }
        if (syncEachLaunch) {
            try {
                stream.synchronize();
            } catch (CudaException e) {
                e.addSuppressed(new IllegalStateException("raised while waiting for kernel " + kernel
                        + " (grid " + grid + ", block " + block + ", " + sharedBytes + " bytes shared)"));
                throw e;
            }
        }
    }

    private Function function(String family, String kernel) {
        Map<String, Function> ofFamily = functions.computeIfAbsent(family, f -> new HashMap<>());
        Function f = ofFamily.get(kernel);
        if (f == null) {
            CudaModule module = modules.get(family);
            if (module == null) {
                module = CudaModule.load(context, KernelImages.read(family, sm80Mode));
                modules.put(family, module);
            }
            f = new Function(module.function(kernel));
            ofFamily.put(kernel, f);
        }
        return f;
    }

    /** The CUfunction of an entry point, loading its family if needed (benchmarks of the raw driver call). */
    public synchronized long functionHandle(String family, String kernel) {
        context.makeCurrent();
        return function(family, kernel).handle;
    }

    /** Resident blocks per SM of a kernel at this block size and dynamic shared memory. */
    public synchronized int occupancy(String family, String kernel, int blockThreads, int sharedBytes) {
        context.makeCurrent();
        return CudaDriver.occupancyMaxActiveBlocks(function(family, kernel).handle, blockThreads, sharedBytes);
    }

    @Override
    public int computeCapability() {
        return device.computeCapability();
    }

    @Override
    public int multiprocessors() {
        return device.multiprocessors();
    }

    @Override
    public int maxSharedPerBlock() {
        return Math.max(device.maxSharedPerBlockOptin(), LaunchChecks.DEFAULT_SHARED_LIMIT);
    }

    @Override
    public boolean sm80Mode() {
        return sm80Mode;
    }

    /** The stream every launch goes to. */
    public CudaStream stream() {
        return stream;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        for (CudaModule m : modules.values()) {
            try {
                m.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        modules.clear();
        functions.clear();
        arena.close();
        if (first != null) {
            throw first;
        }
    }
}

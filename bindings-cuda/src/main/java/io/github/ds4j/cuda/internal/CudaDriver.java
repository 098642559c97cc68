package io.github.ds4j.cuda.internal;

import io.github.ds4j.BackendUnavailableException;
import io.github.ds4j.cuda.CudaException;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Hand-written FFM bindings to the CUDA driver API ({@code libcuda.so.1}). The library is looked
 * up when this class is first used; each function is bound once to a {@code static final}
 * handle, preferring the versioned symbol ({@code cuMemAlloc_v2}) where the header maps the
 * plain name to one. A symbol or library that is missing binds to a handle that throws
 * {@link BackendUnavailableException}, so nothing fails before a call needs it.
 *
 * <p>Opaque driver handles (contexts, streams, events, modules, functions) and device pointers
 * travel as {@code long}; out-parameters as native segments. The methods return the value or throw
 * {@link CudaException} naming the symbol; only {@link #init()} reports its status, for the probe.
 * Nothing here makes a context current: the resource classes do that before each call.
 *
 * <p>Calls that may block (synchronization, copies, allocation, module loading, launches) are
 * bound without {@link Linker.Option#critical}; only a few short, non-blocking queries use it.
 */
public final class CudaDriver {
    /** The driver library's soname. */
    public static final String DEFAULT_LIBRARY = "libcuda.so.1";
    /** The library these bindings use: {@code -Dds4j.cuda.library}, by default libcuda.so.1. */
    public static final String LIBRARY = System.getProperty("ds4j.cuda.library", DEFAULT_LIBRARY);

    // enum values from cuda.h
    public static final int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
    public static final int CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13;
    public static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public static final int CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36;
    public static final int CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37;
    public static final int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    public static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    public static final int CU_STREAM_NON_BLOCKING = 0x1;
    public static final int CU_EVENT_DEFAULT = 0x0;
    public static final int CU_EVENT_DISABLE_TIMING = 0x2;
    public static final int CU_MEMORYTYPE_DEVICE = 0x2;
    static final int CU_JIT_ERROR_LOG_BUFFER = 5;
    static final int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
    /** CUDA_SUCCESS. */
    public static final int CUDA_SUCCESS = 0;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final AddressLayout P = ADDRESS;
    private static final ValueLayout.OfInt I = JAVA_INT;
    private static final ValueLayout.OfLong L = JAVA_LONG;
    private static final ValueLayout.OfByte B = JAVA_BYTE;

    // initialized before the handles below, which fall back to it
    private static final MethodHandle MISSING;

    static {
        try {
            MISSING = MethodHandles.lookup().findStatic(CudaDriver.class, "missing",
                    MethodType.methodType(int.class, String.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final Optional<SymbolLookup> LOOKUP;
    private static final String UNAVAILABLE;

    static {
        SymbolLookup lookup = null;
        String problem = null;
        try {
            lookup = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
        } catch (IllegalArgumentException e) {
            problem = notFound(LIBRARY);
        } catch (RuntimeException e) {
            problem = "cannot load the CUDA driver " + LIBRARY + ": " + e.getMessage();
        }
        LOOKUP = Optional.ofNullable(lookup);
        UNAVAILABLE = problem;
    }

    /** A bound driver function: the symbol that was found and its handle. */
    private record Fn(String name, MethodHandle handle) {
    }

    private static final Fn INIT = bind(fd(I), false, "cuInit");
    private static final Fn DRIVER_GET_VERSION = bind(fd(P), true, "cuDriverGetVersion");
    private static final Fn GET_ERROR_NAME = bind(fd(I, P), true, "cuGetErrorName");
    private static final Fn GET_ERROR_STRING = bind(fd(I, P), true, "cuGetErrorString");
    private static final Fn DEVICE_GET_COUNT = bind(fd(P), true, "cuDeviceGetCount");
    private static final Fn DEVICE_GET = bind(fd(P, I), true, "cuDeviceGet");
    private static final Fn DEVICE_GET_NAME = bind(fd(P, I, I), true, "cuDeviceGetName");
    private static final Fn DEVICE_TOTAL_MEM = bind(fd(P, I), true, "cuDeviceTotalMem_v2");
    private static final Fn DEVICE_GET_ATTRIBUTE = bind(fd(P, I, I), true, "cuDeviceGetAttribute");
    private static final Fn PRIMARY_CTX_RETAIN = bind(fd(P, I), false, "cuDevicePrimaryCtxRetain");
    private static final Fn PRIMARY_CTX_RELEASE = bind(fd(I), false, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
    private static final Fn CTX_SET_CURRENT = bind(fd(L), true, "cuCtxSetCurrent");
    private static final Fn CTX_SYNCHRONIZE = bind(fd(), false, "cuCtxSynchronize");
    private static final Fn MEM_GET_INFO = bind(fd(P, P), false, "cuMemGetInfo_v2");
    private static final Fn STREAM_CREATE = bind(fd(P, I), false, "cuStreamCreate");
    private static final Fn STREAM_DESTROY = bind(fd(L), false, "cuStreamDestroy_v2", "cuStreamDestroy");
    private static final Fn STREAM_SYNCHRONIZE = bind(fd(L), false, "cuStreamSynchronize");
    private static final Fn EVENT_CREATE = bind(fd(P, I), false, "cuEventCreate");
    private static final Fn EVENT_RECORD = bind(fd(L, L), false, "cuEventRecord");
    private static final Fn EVENT_SYNCHRONIZE = bind(fd(L), false, "cuEventSynchronize");
    private static final Fn EVENT_ELAPSED_TIME = bind(fd(P, L, L), false, "cuEventElapsedTime_v2", "cuEventElapsedTime");
    private static final Fn EVENT_DESTROY = bind(fd(L), false, "cuEventDestroy_v2", "cuEventDestroy");
    private static final Fn MEM_ALLOC = bind(fd(P, L), false, "cuMemAlloc_v2");
    private static final Fn MEM_FREE = bind(fd(L), false, "cuMemFree_v2");
    private static final Fn MEM_ALLOC_HOST = bind(fd(P, L), false, "cuMemAllocHost_v2");
    private static final Fn MEM_FREE_HOST = bind(fd(L), false, "cuMemFreeHost");
    private static final Fn MEMCPY_HTOD = bind(fd(L, P, L), false, "cuMemcpyHtoD_v2");
    private static final Fn MEMCPY_DTOH = bind(fd(P, L, L), false, "cuMemcpyDtoH_v2");
    private static final Fn MEMCPY_DTOD = bind(fd(L, L, L), false, "cuMemcpyDtoD_v2");
    private static final Fn MEMCPY_HTOD_ASYNC = bind(fd(L, P, L, L), false, "cuMemcpyHtoDAsync_v2");
    private static final Fn MEMCPY_DTOH_ASYNC = bind(fd(P, L, L, L), false, "cuMemcpyDtoHAsync_v2");
    private static final Fn MEMCPY_DTOD_ASYNC = bind(fd(L, L, L, L), false, "cuMemcpyDtoDAsync_v2");
    private static final Fn MEMCPY_2D_ASYNC = bind(fd(P, L), false, "cuMemcpy2DAsync_v2");
    private static final Fn MEMSET_D8 = bind(fd(L, B, L), false, "cuMemsetD8_v2");
    private static final Fn MEMSET_D8_ASYNC = bind(fd(L, B, L, L), false, "cuMemsetD8Async");
    private static final Fn MODULE_LOAD_DATA = bind(fd(P, P), false, "cuModuleLoadData");
    private static final Fn MODULE_LOAD_DATA_EX = bind(fd(P, P, I, P, P), false, "cuModuleLoadDataEx");
    private static final Fn MODULE_UNLOAD = bind(fd(L), false, "cuModuleUnload");
    private static final Fn MODULE_GET_FUNCTION = bind(fd(P, L, P), false, "cuModuleGetFunction");
    private static final Fn FUNC_SET_ATTRIBUTE = bind(fd(L, I, I), false, "cuFuncSetAttribute");
    private static final Fn FUNC_GET_ATTRIBUTE = bind(fd(P, I, L), false, "cuFuncGetAttribute");
    private static final Fn OCCUPANCY_MAX_BLOCKS = bind(fd(P, L, I, L), false, "cuOccupancyMaxActiveBlocksPerMultiprocessor");
    private static final Fn LAUNCH_KERNEL = bind(fd(L, I, I, I, I, I, I, I, L, P, P), false, "cuLaunchKernel");

    private CudaDriver() {
    }

    // ---- library ----

    /** Why the bound library is unusable ("no CUDA driver (libcuda.so.1 not found)"), if it is. */
    public static Optional<String> unavailableReason() {
        return Optional.ofNullable(UNAVAILABLE);
    }

    /**
     * Why the library {@code name} cannot be loaded, or empty if it can. For {@link #LIBRARY} this
     * is {@link #unavailableReason()}; another name is loaded and unloaded again.
     */
    public static Optional<String> libraryProblem(String name) {
        if (name.equals(LIBRARY)) {
            return unavailableReason();
        }
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(name, arena);
            return Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.of(notFound(name));
        } catch (RuntimeException e) {
            return Optional.of("cannot load the CUDA driver " + name + ": " + e.getMessage());
        }
    }

    /** The probe's reason when a driver library is absent. */
    public static String notFound(String name) {
        return "no CUDA driver (" + name + " not found)";
    }

    // ---- errors ----

    /** Throws {@link CudaException} for a status other than CUDA_SUCCESS. */
    public static void check(int status, String call) {
        if (status != CUDA_SUCCESS) {
            throw error(status, call);
        }
    }

    /** The exception for {@code status}, with the driver's name and description of it. */
    public static CudaException error(int status, String call) {
        String name = errorText(GET_ERROR_NAME, status);
        String description = errorText(GET_ERROR_STRING, status);
        return new CudaException(call, status, name == null ? "unrecognized CUresult" : name, description);
    }

    private static String errorText(Fn fn, int status) {
        if (UNAVAILABLE != null) {
            return null;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = (int) fn.handle.invokeExact(status, out);
            MemorySegment text = out.get(ADDRESS, 0);
            if (rc != CUDA_SUCCESS || text.equals(MemorySegment.NULL)) {
                return null;
            }
            return text.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    // ---- initialization and devices ----

    /** cuInit(0); returns the status (the probe turns a failure into a reason). */
    public static int init() {
        try {
            return (int) INIT.handle.invokeExact(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The driver's CUDA version, e.g. 13000 for 13.0. */
    public static int driverVersion() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check((int) DRIVER_GET_VERSION.handle.invokeExact(out), DRIVER_GET_VERSION.name);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int deviceCount() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check((int) DEVICE_GET_COUNT.handle.invokeExact(out), DEVICE_GET_COUNT.name);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The CUdevice handle of {@code ordinal}. */
    public static int device(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check((int) DEVICE_GET.handle.invokeExact(out, ordinal), DEVICE_GET.name);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static String deviceName(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            check((int) DEVICE_GET_NAME.handle.invokeExact(buf, 256, device), DEVICE_GET_NAME.name);
            return buf.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long deviceTotalMemory(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check((int) DEVICE_TOTAL_MEM.handle.invokeExact(out, device), DEVICE_TOTAL_MEM.name);
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int deviceAttribute(int device, int attribute) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check((int) DEVICE_GET_ATTRIBUTE.handle.invokeExact(out, attribute, device), DEVICE_GET_ATTRIBUTE.name);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- contexts ----

    /** Retains the device's primary context (creating it on first use); returns the CUcontext. */
    public static long primaryContextRetain(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check((int) PRIMARY_CTX_RETAIN.handle.invokeExact(out, device), PRIMARY_CTX_RETAIN.name);
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void primaryContextRelease(int device) {
        try {
            check((int) PRIMARY_CTX_RELEASE.handle.invokeExact(device), PRIMARY_CTX_RELEASE.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void contextSetCurrent(long context) {
        try {
            check((int) CTX_SET_CURRENT.handle.invokeExact(context), CTX_SET_CURRENT.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void contextSynchronize() {
        try {
            check((int) CTX_SYNCHRONIZE.handle.invokeExact(), CTX_SYNCHRONIZE.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {free, total} bytes of the current context's device. */
    public static long[] memoryInfo() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(JAVA_LONG);
            MemorySegment total = arena.allocate(JAVA_LONG);
            check((int) MEM_GET_INFO.handle.invokeExact(free, total), MEM_GET_INFO.name);
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- streams and events ----

    public static long streamCreate(int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check((int) STREAM_CREATE.handle.invokeExact(out, flags), STREAM_CREATE.name);
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void streamDestroy(long stream) {
        try {
            check((int) STREAM_DESTROY.handle.invokeExact(stream), STREAM_DESTROY.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void streamSynchronize(long stream) {
        try {
            check((int) STREAM_SYNCHRONIZE.handle.invokeExact(stream), STREAM_SYNCHRONIZE.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long eventCreate(int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check((int) EVENT_CREATE.handle.invokeExact(out, flags), EVENT_CREATE.name);
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void eventRecord(long event, long stream) {
        try {
            check((int) EVENT_RECORD.handle.invokeExact(event, stream), EVENT_RECORD.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void eventSynchronize(long event) {
        try {
            check((int) EVENT_SYNCHRONIZE.handle.invokeExact(event), EVENT_SYNCHRONIZE.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Milliseconds between two recorded, completed events. */
    public static float eventElapsedMillis(long start, long end) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_FLOAT);
            check((int) EVENT_ELAPSED_TIME.handle.invokeExact(out, start, end), EVENT_ELAPSED_TIME.name);
            return out.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void eventDestroy(long event) {
        try {
            check((int) EVENT_DESTROY.handle.invokeExact(event), EVENT_DESTROY.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- memory ----

    /** cuMemAlloc_v2: a device pointer to {@code bytes} bytes. */
    public static long memAlloc(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check((int) MEM_ALLOC.handle.invokeExact(out, bytes), MEM_ALLOC.name);
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memFree(long pointer) {
        try {
            check((int) MEM_FREE.handle.invokeExact(pointer), MEM_FREE.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** cuMemAllocHost_v2: page-locked host memory, as a segment of {@code bytes} bytes. */
    public static MemorySegment memAllocHost(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check((int) MEM_ALLOC_HOST.handle.invokeExact(out, bytes), MEM_ALLOC_HOST.name);
            return out.get(ADDRESS, 0).reinterpret(bytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memFreeHost(long pointer) {
        try {
            check((int) MEM_FREE_HOST.handle.invokeExact(pointer), MEM_FREE_HOST.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memcpyHtoD(long dst, MemorySegment src, long bytes) {
        try {
            check((int) MEMCPY_HTOD.handle.invokeExact(dst, src, bytes), MEMCPY_HTOD.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memcpyDtoH(MemorySegment dst, long src, long bytes) {
        try {
            check((int) MEMCPY_DTOH.handle.invokeExact(dst, src, bytes), MEMCPY_DTOH.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memcpyDtoD(long dst, long src, long bytes) {
        try {
            check((int) MEMCPY_DTOD.handle.invokeExact(dst, src, bytes), MEMCPY_DTOD.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, long stream) {
        try {
            check((int) MEMCPY_HTOD_ASYNC.handle.invokeExact(dst, src, bytes, stream), MEMCPY_HTOD_ASYNC.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, long stream) {
        try {
            check((int) MEMCPY_DTOH_ASYNC.handle.invokeExact(dst, src, bytes, stream), MEMCPY_DTOH_ASYNC.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memcpyDtoDAsync(long dst, long src, long bytes, long stream) {
        try {
            check((int) MEMCPY_DTOD_ASYNC.handle.invokeExact(dst, src, bytes, stream), MEMCPY_DTOD_ASYNC.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Byte size of CUDA_MEMCPY2D (v2, 64-bit). */
    static final long MEMCPY2D_BYTES = 128;

    /**
     * Device-to-device pitched copy: {@code height} rows of {@code widthBytes}, rows
     * {@code srcPitch} and {@code dstPitch} bytes apart (cuMemcpy2DAsync_v2).
     */
    public static void memcpy2DDeviceAsync(long dst, long dstPitch, long src, long srcPitch,
                                           long widthBytes, long height, long stream) {
        try (Arena arena = Arena.ofConfined()) {
            // struct CUDA_MEMCPY2D: size_t/pointer fields at 8-byte offsets, the enum padded to 8
            MemorySegment p = arena.allocate(MEMCPY2D_BYTES, 8);
            p.set(JAVA_LONG, 0, 0L);                      // srcXInBytes
            p.set(JAVA_LONG, 8, 0L);                      // srcY
            p.set(JAVA_INT, 16, CU_MEMORYTYPE_DEVICE);    // srcMemoryType
            p.set(JAVA_LONG, 32, src);                    // srcDevice
            p.set(JAVA_LONG, 48, srcPitch);               // srcPitch
            p.set(JAVA_LONG, 56, 0L);                     // dstXInBytes
            p.set(JAVA_LONG, 64, 0L);                     // dstY
            p.set(JAVA_INT, 72, CU_MEMORYTYPE_DEVICE);    // dstMemoryType
            p.set(JAVA_LONG, 88, dst);                    // dstDevice
            p.set(JAVA_LONG, 104, dstPitch);              // dstPitch
            p.set(JAVA_LONG, 112, widthBytes);            // WidthInBytes
            p.set(JAVA_LONG, 120, height);                // Height
            check((int) MEMCPY_2D_ASYNC.handle.invokeExact(p, stream), MEMCPY_2D_ASYNC.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memsetD8(long dst, byte value, long bytes) {
        try {
            check((int) MEMSET_D8.handle.invokeExact(dst, value, bytes), MEMSET_D8.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void memsetD8Async(long dst, byte value, long bytes, long stream) {
        try {
            check((int) MEMSET_D8_ASYNC.handle.invokeExact(dst, value, bytes, stream), MEMSET_D8_ASYNC.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- modules and launches ----

    /**
     * Loads a fatbin, cubin or NUL-terminated PTX image; a failure's message carries the JIT
     * error log.
     */
    public static long moduleLoadData(MemorySegment image) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            long logBytes = 8192;
            MemorySegment log = arena.allocate(logBytes);
            MemorySegment options = arena.allocate(JAVA_INT, 2);
            options.setAtIndex(JAVA_INT, 0, CU_JIT_ERROR_LOG_BUFFER);
            options.setAtIndex(JAVA_INT, 1, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
            MemorySegment values = arena.allocate(ADDRESS, 2);
            values.setAtIndex(ADDRESS, 0, log);
            values.setAtIndex(ADDRESS, 1, MemorySegment.ofAddress(logBytes)); // a size passed as a pointer
            int rc = (int) MODULE_LOAD_DATA_EX.handle.invokeExact(out, image, 2, options, values);
            if (rc != CUDA_SUCCESS) {
                CudaException e = error(rc, MODULE_LOAD_DATA_EX.name);
                String text = log.getString(0).strip();
                if (!text.isEmpty()) {
                    e.addSuppressed(new IllegalStateException("JIT log: " + text));
                }
                throw e;
            }
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** cuModuleLoadData without the JIT log. */
    public static long moduleLoadDataPlain(MemorySegment image) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check((int) MODULE_LOAD_DATA.handle.invokeExact(out, image), MODULE_LOAD_DATA.name);
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void moduleUnload(long module) {
        try {
            check((int) MODULE_UNLOAD.handle.invokeExact(module), MODULE_UNLOAD.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long moduleGetFunction(long module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            int rc = (int) MODULE_GET_FUNCTION.handle.invokeExact(out, module, arena.allocateFrom(name));
            check(rc, MODULE_GET_FUNCTION.name + "(" + name + ")");
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void funcSetAttribute(long function, int attribute, int value) {
        try {
            check((int) FUNC_SET_ATTRIBUTE.handle.invokeExact(function, attribute, value), FUNC_SET_ATTRIBUTE.name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int funcGetAttribute(long function, int attribute) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check((int) FUNC_GET_ATTRIBUTE.handle.invokeExact(out, attribute, function), FUNC_GET_ATTRIBUTE.name);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Resident blocks per multiprocessor for {@code blockSize} threads and the dynamic shared memory. */
    public static int occupancyMaxActiveBlocks(long function, int blockSize, long dynamicSharedBytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check((int) OCCUPANCY_MAX_BLOCKS.handle.invokeExact(out, function, blockSize, dynamicSharedBytes),
                    OCCUPANCY_MAX_BLOCKS.name);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * cuLaunchKernel with {@code params} an array of pointers to the argument values; returns the
     * status so that the launcher can name the kernel in its exception.
     */
    public static int launchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                                   int sharedBytes, long stream, MemorySegment params) {
        try {
            return (int) LAUNCH_KERNEL.handle.invokeExact(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                    sharedBytes, stream, params, MemorySegment.NULL);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The symbol name bound for cuLaunchKernel (for messages). */
    static String launchKernelName() {
        return LAUNCH_KERNEL.name;
    }

    // ---- binding ----

    private static FunctionDescriptor fd(java.lang.foreign.MemoryLayout... args) {
        return FunctionDescriptor.of(JAVA_INT, args);
    }

    /** Binds the first of {@code names} the library has; a handle that throws if none. */
    private static Fn bind(FunctionDescriptor fd, boolean critical, String... names) {
        if (LOOKUP.isPresent()) {
            for (String name : names) {
                Optional<MemorySegment> symbol = LOOKUP.get().find(name);
                if (symbol.isPresent()) {
                    MethodHandle h = critical
                            ? LINKER.downcallHandle(symbol.get(), fd, Linker.Option.critical(false))
                            : LINKER.downcallHandle(symbol.get(), fd);
                    return new Fn(name, h);
                }
            }
        }
        String reason = UNAVAILABLE != null ? UNAVAILABLE
                : "the CUDA driver " + LIBRARY + " has no " + String.join(" or ", names) + "; update the NVIDIA driver";
        MethodType type = fd.toMethodType();
        MethodHandle thrower = MethodHandles.insertArguments(MISSING, 0, reason);
        return new Fn(names[0], MethodHandles.dropArguments(thrower, 0, type.parameterList()));
    }

    @SuppressWarnings("unused") // bound by MISSING
    private static int missing(String reason) {
        throw new BackendUnavailableException(reason);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("unexpected checked exception from a CUDA driver call", t);
    }
}

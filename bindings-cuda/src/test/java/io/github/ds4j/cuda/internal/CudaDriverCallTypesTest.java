package io.github.ds4j.cuda.internal;

import io.github.ds4j.BackendUnavailableException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every binding called once on a machine without the driver. Each handle then throws
 * BackendUnavailableException, but only if the Java call matches the handle's type exactly:
 * a wrong argument type in an invokeExact would throw WrongMethodTypeException instead. So this
 * checks every call site's types against its FunctionDescriptor without a GPU.
 */
class CudaDriverCallTypesTest {
    @Test
    void everyBindingIsCalledWithItsExactType() {
        assumeTrue(CudaDriver.unavailableReason().isPresent(), "libcuda.so.1 is present: calls would reach the driver");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            Map<String, Executable> calls = new LinkedHashMap<>();
            calls.put("init", CudaDriver::init);
            calls.put("driverVersion", CudaDriver::driverVersion);
            calls.put("deviceCount", CudaDriver::deviceCount);
            calls.put("device", () -> CudaDriver.device(0));
            calls.put("deviceName", () -> CudaDriver.deviceName(0));
            calls.put("deviceTotalMemory", () -> CudaDriver.deviceTotalMemory(0));
            calls.put("deviceAttribute", () -> CudaDriver.deviceAttribute(0, CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
            calls.put("primaryContextRetain", () -> CudaDriver.primaryContextRetain(0));
            calls.put("primaryContextRelease", () -> CudaDriver.primaryContextRelease(0));
            calls.put("contextSetCurrent", () -> CudaDriver.contextSetCurrent(1));
            calls.put("contextSynchronize", CudaDriver::contextSynchronize);
            calls.put("memoryInfo", CudaDriver::memoryInfo);
            calls.put("streamCreate", () -> CudaDriver.streamCreate(CudaDriver.CU_STREAM_NON_BLOCKING));
            calls.put("streamDestroy", () -> CudaDriver.streamDestroy(1));
            calls.put("streamSynchronize", () -> CudaDriver.streamSynchronize(1));
            calls.put("eventCreate", () -> CudaDriver.eventCreate(0));
            calls.put("eventRecord", () -> CudaDriver.eventRecord(1, 2));
            calls.put("eventSynchronize", () -> CudaDriver.eventSynchronize(1));
            calls.put("eventElapsedMillis", () -> CudaDriver.eventElapsedMillis(1, 2));
            calls.put("eventDestroy", () -> CudaDriver.eventDestroy(1));
            calls.put("memAlloc", () -> CudaDriver.memAlloc(64));
            calls.put("memFree", () -> CudaDriver.memFree(1));
            calls.put("memAllocHost", () -> CudaDriver.memAllocHost(64));
            calls.put("memFreeHost", () -> CudaDriver.memFreeHost(1));
            calls.put("memcpyHtoD", () -> CudaDriver.memcpyHtoD(1, buf, 8));
            calls.put("memcpyDtoH", () -> CudaDriver.memcpyDtoH(buf, 1, 8));
            calls.put("memcpyDtoD", () -> CudaDriver.memcpyDtoD(1, 2, 8));
            calls.put("memcpyHtoDAsync", () -> CudaDriver.memcpyHtoDAsync(1, buf, 8, 3));
            calls.put("memcpyDtoHAsync", () -> CudaDriver.memcpyDtoHAsync(buf, 1, 8, 3));
            calls.put("memcpyDtoDAsync", () -> CudaDriver.memcpyDtoDAsync(1, 2, 8, 3));
            calls.put("memcpy2DDeviceAsync", () -> CudaDriver.memcpy2DDeviceAsync(1, 16, 2, 32, 8, 4, 3));
            calls.put("memsetD8", () -> CudaDriver.memsetD8(1, (byte) 0xFF, 8));
            calls.put("memsetD8Async", () -> CudaDriver.memsetD8Async(1, (byte) 0xFF, 8, 3));
            calls.put("moduleLoadData", () -> CudaDriver.moduleLoadData(buf));
            calls.put("moduleLoadDataPlain", () -> CudaDriver.moduleLoadDataPlain(buf));
            calls.put("moduleUnload", () -> CudaDriver.moduleUnload(1));
            calls.put("moduleGetFunction", () -> CudaDriver.moduleGetFunction(1, "ds4j_util_noop"));
            calls.put("funcSetAttribute", () -> CudaDriver.funcSetAttribute(1, CudaDriver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 65536));
            calls.put("funcGetAttribute", () -> CudaDriver.funcGetAttribute(1, 0));
            calls.put("occupancyMaxActiveBlocks", () -> CudaDriver.occupancyMaxActiveBlocks(1, 256, 0));
            calls.put("launchKernel", () -> CudaDriver.launchKernel(1, 1, 1, 1, 32, 1, 1, 0, 2, buf));
            for (Map.Entry<String, Executable> c : calls.entrySet()) {
                BackendUnavailableException e = assertThrows(BackendUnavailableException.class, c.getValue(), c.getKey());
                assertTrue(e.getMessage().startsWith("no CUDA driver"), c.getKey() + ": " + e.getMessage());
            }
        }
    }
}

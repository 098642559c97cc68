package io.github.ds4j.cuda;

import io.github.ds4j.NativeException;
import io.github.ds4j.cuda.internal.CudaDriver;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class CudaExceptionTest {
    @Test
    void messageNamesTheCallTheStatusAndTheDriversWords() {
        CudaException e = new CudaException("cuMemAlloc_v2", 2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory");
        assertEquals("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory", e.getMessage());
        assertEquals("cuMemAlloc_v2", e.call());
        assertEquals(2, e.status());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertEquals("out of memory", e.description());
        assertInstanceOf(NativeException.class, e);
    }

    @Test
    void aMissingDescriptionIsLeftOut() {
        assertEquals("cuInit failed: CUDA_ERROR_NO_DEVICE (100)",
                new CudaException("cuInit", 100, "CUDA_ERROR_NO_DEVICE", null).getMessage());
    }

    @Test
    void checkPassesSuccessAndThrowsOtherwise() {
        CudaDriver.check(CudaDriver.CUDA_SUCCESS, "cuInit");
        CudaException e = assertThrows(CudaException.class, () -> CudaDriver.check(700, "cuStreamSynchronize"));
        assertEquals("cuStreamSynchronize", e.call());
        assertEquals(700, e.status());
    }

    @Test
    void withoutADriverTheStatusIsStillReported() {
        assumeTrue(CudaDriver.unavailableReason().isPresent(), "libcuda.so.1 is present on this machine");
        CudaException e = CudaDriver.error(2, "cuMemAlloc_v2");
        assertEquals("cuMemAlloc_v2 failed: unrecognized CUresult (2)", e.getMessage());
    }

    @Test
    void withADriverTheNameComesFromCuGetErrorName() {
        assumeTrue(CudaDriver.unavailableReason().isEmpty(), "no CUDA driver on this machine");
        CudaException e = CudaDriver.error(2, "cuMemAlloc_v2");
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertEquals("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory", e.getMessage());
    }
}

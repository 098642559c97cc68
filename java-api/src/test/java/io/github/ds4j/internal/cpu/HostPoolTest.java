package io.github.ds4j.internal.cpu;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Storage;
import io.github.ds4j.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CPU backend's recycled host memory: reused blocks come back zeroed and closed tensors stay closed. */
class HostPoolTest {

    @Test
    void aRecycledBlockIsZeroedAndItsOldTensorStaysClosed() {
        HostPool pool = new HostPool();
        Storage first = pool.allocate(1000, CpuBackend.shared());
        first.segment().fill((byte) 0x5A);
        assertEquals(1000, first.byteSize());
        first.close();
        assertEquals(HostPool.sizeClass(1000), pool.cachedBytes(), "the closed block waits for reuse");
        Storage second = pool.allocate(990, CpuBackend.shared());
        assertEquals(0, pool.cachedBytes(), "a block of the same class is taken again");
        assertEquals(990, second.byteSize());
        for (long i = 0; i < second.byteSize(); i++) {
            assertEquals(0, second.segment().get(ValueLayout.JAVA_BYTE, i), "byte " + i + " of a recycled block");
        }
        assertFalse(first.isAlive());
        assertThrows(IllegalStateException.class, first::segment);
        second.close();
    }

    @Test
    void closedTensorsRefuseUseAfterTheirMemoryIsReused() {
        Tensor a = Tensor.allocate(DType.F32, Shape.of(3, 5));
        a.copyFrom(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
        a.close();
        try (Tensor b = Tensor.allocate(DType.F32, Shape.of(3, 5))) {
            for (float v : b.toFloatArray()) {
                assertEquals(0f, v, "a new tensor is zero");
            }
            assertThrows(IllegalStateException.class, a::toFloatArray);
        }
    }

    @Test
    void sizeClassesWasteAtMostAQuarter() {
        long previous = 0;
        for (long bytes = 1; bytes < (1L << 22); bytes = bytes * 5 / 4 + 1) {
            long c = HostPool.sizeClass(bytes);
            assertTrue(c >= bytes, bytes + " -> " + c);
            assertTrue(c <= Math.max(256, bytes * 5 / 4 + 1), bytes + " -> " + c);
            assertTrue(c % 64 == 0, "64-byte multiples: " + bytes + " -> " + c);
            assertTrue(c >= previous, "classes grow with the size");
            previous = c;
        }
        assertEquals(4096, HostPool.sizeClass(4096));
        assertEquals(5120, HostPool.sizeClass(4097));
    }
}

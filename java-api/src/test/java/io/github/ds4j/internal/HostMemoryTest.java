package io.github.ds4j.internal;

import io.github.ds4j.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Integer writes: round to nearest (ties to even), clamp to the dtype's range, NaN to 0. */
class HostMemoryTest {

    /** {@code v} written as {@code t} and read back. */
    static long writeFloat(DType t, float v) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(8);
            s.fill((byte) 0x5A); // not zero, so an unwritten byte shows
            HostMemory.setFloat(s, t, 0, v);
            return HostMemory.getLong(s, t, 0);
        }
    }

    static long writeLong(DType t, long v) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(8);
            s.fill((byte) 0x5A);
            HostMemory.setLong(s, t, 0, v);
            return HostMemory.getLong(s, t, 0);
        }
    }

    @Test
    void floatWritesToIntegerDtypesRoundToNearestEvenThenClampToTheRange() {
        assertEquals(127, writeFloat(DType.I8, 200f));
        assertEquals(-128, writeFloat(DType.I8, -200f));
        assertEquals(2, writeFloat(DType.I8, 2.5f));
        assertEquals(4, writeFloat(DType.I8, 3.5f));
        assertEquals(-2, writeFloat(DType.I8, -2.5f));
        assertEquals(200, writeFloat(DType.U8, 200f));
        assertEquals(255, writeFloat(DType.U8, 300f));
        assertEquals(0, writeFloat(DType.U8, -3f));
        assertEquals(254, writeFloat(DType.U8, 254.5f));
        assertEquals(Integer.MAX_VALUE, writeFloat(DType.I32, 1e10f));
        assertEquals(Integer.MIN_VALUE, writeFloat(DType.I32, -1e10f));
        assertEquals(16777216, writeFloat(DType.I32, 16777216f));
        assertEquals(-6, writeFloat(DType.I32, -5.5f));
        assertEquals(Long.MAX_VALUE, writeFloat(DType.I64, 1e30f));
        assertEquals(Long.MIN_VALUE, writeFloat(DType.I64, Float.NEGATIVE_INFINITY));
        assertEquals(2, writeFloat(DType.I64, 2.5f));
        for (DType t : new DType[] {DType.I8, DType.U8, DType.I32, DType.I64}) {
            assertEquals(0, writeFloat(t, Float.NaN), t + " NaN");
        }
    }

    @Test
    void integerWritesClampToTheRangeInsteadOfWrapping() {
        assertEquals(127, writeLong(DType.I8, 300));
        assertEquals(-128, writeLong(DType.I8, -129));
        assertEquals(-7, writeLong(DType.I8, -7));
        assertEquals(255, writeLong(DType.U8, 256));
        assertEquals(0, writeLong(DType.U8, -1));
        assertEquals(200, writeLong(DType.U8, 200));
        assertEquals(Integer.MAX_VALUE, writeLong(DType.I32, 1L << 40));
        assertEquals(Integer.MIN_VALUE, writeLong(DType.I32, -(1L << 40)));
        assertEquals(1L << 40, writeLong(DType.I64, 1L << 40));
    }
}

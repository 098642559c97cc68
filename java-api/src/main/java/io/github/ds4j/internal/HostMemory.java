package io.github.ds4j.internal;

import io.github.ds4j.DType;
import io.github.ds4j.format.BF16;
import io.github.ds4j.format.E2M1;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.format.E5M2;
import io.github.ds4j.format.F16;
import io.github.ds4j.format.UE8M0;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Element reads and writes on host memory in every dtype, little-endian as safetensors stores
 * them. Indexes are element indexes from the segment's start (nibbles for FP4).
 *
 * <p>Integer dtypes (I8, U8, I32, I64) take any value by one rule: round to the nearest integer
 * (ties to even, like the float formats), then clamp to the dtype's range; NaN becomes 0. So
 * 200 written as I8 reads back 127, -3 as U8 reads back 0, and 1e10 as I32 reads back
 * 2147483647, never a wrapped value.
 */
public final class HostMemory {
    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private HostMemory() {
    }

    /** Reads element {@code i} as a float (quantized codes are decoded, without any block scale). */
    public static float getFloat(MemorySegment s, DType t, long i) {
        return switch (t) {
            case F32 -> s.getAtIndex(F32, i);
            case BF16 -> BF16.decode(s.getAtIndex(I16, i));
            case F16 -> F16.decode(s.getAtIndex(I16, i));
            case F8_E4M3 -> E4M3.decode(s.get(ValueLayout.JAVA_BYTE, i));
            case F8_E5M2 -> E5M2.decode(s.get(ValueLayout.JAVA_BYTE, i));
            case F8_E8M0 -> UE8M0.decode(s.get(ValueLayout.JAVA_BYTE, i));
            case FP4_E2M1 -> E2M1.decode(nibble(s, i));
            case I8 -> s.get(ValueLayout.JAVA_BYTE, i);
            case U8 -> s.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
            case I32 -> s.getAtIndex(I32, i);
            case I64 -> s.getAtIndex(I64, i);
        };
    }

    /**
     * Writes element {@code i}, rounding to the dtype (nearest even; FP8 E4M3 saturates to ±448;
     * integers round, then clamp to their range).
     */
    public static void setFloat(MemorySegment s, DType t, long i, float v) {
        switch (t) {
            case F32 -> s.setAtIndex(F32, i, v);
            case BF16 -> s.setAtIndex(I16, i, BF16.encode(v));
            case F16 -> s.setAtIndex(I16, i, F16.encode(v));
            case F8_E4M3 -> s.set(ValueLayout.JAVA_BYTE, i, E4M3.encodeSaturating(v));
            case F8_E5M2 -> s.set(ValueLayout.JAVA_BYTE, i, E5M2.encode(v));
            case F8_E8M0 -> s.set(ValueLayout.JAVA_BYTE, i, UE8M0.encodeCeil(v));
            case FP4_E2M1 -> setNibble(s, i, E2M1.encode(v));
            case I8, U8, I32, I64 -> setLong(s, t, i, Float.isNaN(v) ? 0 : (long) Math.rint(v));
        }
    }

    /** Reads an integer element (I8, U8, I32, I64) as a long. */
    public static long getLong(MemorySegment s, DType t, long i) {
        return switch (t) {
            case I8 -> s.get(ValueLayout.JAVA_BYTE, i);
            case U8 -> s.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
            case I32 -> s.getAtIndex(I32, i);
            case I64 -> s.getAtIndex(I64, i);
            default -> throw new IllegalArgumentException("not an integer dtype: " + t);
        };
    }

    /** Writes an integer element (I8, U8, I32, I64), clamped to the dtype's range. */
    public static void setLong(MemorySegment s, DType t, long i, long v) {
        switch (t) {
            case I8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) clamp(v, Byte.MIN_VALUE, Byte.MAX_VALUE));
            case U8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) clamp(v, 0, 255));
            case I32 -> s.setAtIndex(I32, i, (int) clamp(v, Integer.MIN_VALUE, Integer.MAX_VALUE));
            case I64 -> s.setAtIndex(I64, i, v);
            default -> throw new IllegalArgumentException("not an integer dtype: " + t);
        }
    }

    private static long clamp(long v, long min, long max) {
        return Math.max(min, Math.min(max, v));
    }

    /** The 4-bit code of packed element {@code i} (low nibble first). */
    public static int nibble(MemorySegment s, long i) {
        int b = s.get(ValueLayout.JAVA_BYTE, i >>> 1);
        return (i & 1) == 0 ? b & 0xF : (b >>> 4) & 0xF;
    }

    /** Sets the 4-bit code of packed element {@code i}, keeping the other nibble. */
    public static void setNibble(MemorySegment s, long i, int code) {
        long at = i >>> 1;
        int b = s.get(ValueLayout.JAVA_BYTE, at);
        b = (i & 1) == 0 ? (b & 0xF0) | (code & 0xF) : (b & 0x0F) | ((code & 0xF) << 4);
        s.set(ValueLayout.JAVA_BYTE, at, (byte) b);
    }
}

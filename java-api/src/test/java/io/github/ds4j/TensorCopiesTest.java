package io.github.ds4j;

import io.github.ds4j.format.BF16;
import io.github.ds4j.format.E2M1;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.format.E5M2;
import io.github.ds4j.format.F16;
import io.github.ds4j.format.UE8M0;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorCopiesTest {
    /** What storing {@code v} in {@code t} must give back, from the format classes' rules. */
    private static float stored(DType t, float v) {
        return switch (t) {
            case F32 -> v;
            case BF16 -> BF16.round(v);
            case F16 -> F16.decode(F16.encode(v));
            case F8_E4M3 -> E4M3.decode(E4M3.encodeSaturating(v));
            case F8_E5M2 -> E5M2.decode(E5M2.encode(v));
            case F8_E8M0 -> UE8M0.decode(UE8M0.encodeCeil(v));
            case FP4_E2M1 -> E2M1.decode(E2M1.encode(v));
            case I8 -> (byte) Math.round(v);
            case U8 -> ((byte) Math.round(v)) & 0xFF;
            case I32 -> Math.round(v);
            case I64 -> (long) Math.rint(v);
        };
    }

    /** Inputs each dtype can hold meaningfully (UE8M0 scales are positive; integers get a range). */
    private static float[] inputs(DType t, Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            float m = switch (t) {
                case F8_E8M0 -> (float) Math.scalb(0.5 + rnd.nextDouble(), rnd.nextInt(40) - 20);
                case I8 -> rnd.nextInt(255) - 127;
                case U8 -> 1 + rnd.nextInt(255);
                case I32, I64 -> rnd.nextInt(2_000_001) - 1_000_000;
                case FP4_E2M1 -> 8 * rnd.nextFloat() - 4;
                case F8_E4M3, F8_E5M2 -> (float) Math.scalb(rnd.nextFloat() - 0.5f, rnd.nextInt(16));
                default -> (float) (rnd.nextGaussian() * 100);
            };
            v[i] = m == 0 ? 1 : m;
        }
        return v;
    }

    @Test
    void fromFloatsAndToFloatArrayRoundThroughEveryDtype() {
        Random rnd = TestData.random("dtypes");
        for (DType t : DType.values()) {
            float[] v = inputs(t, rnd, 4 * (1 + rnd.nextInt(20))); // even rows for FP4
            try (Tensor x = Tensor.fromFloats(v, t, Shape.of(2, v.length / 2))) {
                float[] got = x.toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    assertEquals(stored(t, v[i]), got[i], t + " element " + i + " from " + v[i]);
                }
                assertEquals(t.byteSize(v.length), x.toByteArray().length, t.toString());
            }
        }
    }

    @Test
    void toByteArrayIsLittleEndianAndFp4IsLowNibbleFirst() {
        Random rnd = TestData.random("bytes");
        float[] v = TestData.floats(rnd, 6);
        try (Tensor f = Tensor.fromFloats(v, DType.F32, Shape.of(6));
             Tensor b = Tensor.fromFloats(v, DType.BF16, Shape.of(6));
             Tensor q = Tensor.fromFloats(v, DType.FP4_E2M1, Shape.of(6));
             Tensor e = Tensor.fromFloats(v, DType.F8_E4M3, Shape.of(6));
             Tensor l = Tensor.fromLongs(new long[] {1L << 40 | 7, -2}, DType.I64, Shape.of(2))) {
            ByteBuffer fb = ByteBuffer.wrap(f.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer bb = ByteBuffer.wrap(b.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
            byte[] qb = q.toByteArray();
            byte[] eb = e.toByteArray();
            for (int i = 0; i < 6; i++) {
                assertEquals(Float.floatToRawIntBits(v[i]), fb.getInt(4 * i));
                assertEquals(BF16.encode(v[i]), bb.getShort(2 * i));
                assertEquals(E4M3.encodeSaturating(v[i]), eb[i]);
                int nibble = i % 2 == 0 ? qb[i / 2] & 0xF : (qb[i / 2] >>> 4) & 0xF;
                assertEquals(E2M1.encode(v[i]), nibble, "FP4 element " + i);
            }
            ByteBuffer lb = ByteBuffer.wrap(l.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(1L << 40 | 7, lb.getLong(0));
            assertEquals(-2L, lb.getLong(8));
        }
    }

    @Test
    void fromBytesRoundTripsEveryDtypeAndChecksTheLength() {
        Random rnd = TestData.random("fromBytes");
        for (DType t : DType.values()) {
            byte[] raw = new byte[Math.toIntExact(t.byteSize(8))];
            rnd.nextBytes(raw);
            try (Tensor x = Tensor.fromBytes(raw, t, Shape.of(2, 4))) {
                assertArrayEquals(raw, x.toByteArray(), t.toString());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.fromBytes(new byte[raw.length + 1], t, Shape.of(2, 4)));
            assertTrue(e.getMessage().startsWith("bytes: expected " + raw.length), e.getMessage());
        }
    }

    @Test
    void toLongArrayReadsIntegerDtypesWithTheirSignedness() {
        byte[] raw = {-1, 127, -128, 5};
        try (Tensor i8 = Tensor.fromBytes(raw, DType.I8, Shape.of(4));
             Tensor u8 = Tensor.fromBytes(raw, DType.U8, Shape.of(4));
             Tensor i32 = Tensor.fromLongs(new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE, -3}, DType.I32, Shape.of(3));
             Tensor i64 = Tensor.fromLongs(new long[] {Long.MIN_VALUE, Long.MAX_VALUE}, DType.I64, Shape.of(2));
             Tensor f = Tensor.allocate(DType.F32, Shape.of(2))) {
            assertArrayEquals(new long[] {-1, 127, -128, 5}, i8.toLongArray());
            assertArrayEquals(new long[] {255, 127, 128, 5}, u8.toLongArray());
            assertArrayEquals(new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE, -3}, i32.toLongArray());
            assertArrayEquals(new long[] {Long.MIN_VALUE, Long.MAX_VALUE}, i64.toLongArray());
            assertArrayEquals(new long[] {-3}, i32.slice(0, 2, 3).toLongArray());
            assertArrayEquals(new long[] {-1, -128}, i8.reshape(2, 2).select(1, 0).toLongArray(), "strided");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, f::toLongArray);
            assertEquals("toLongArray: expected an integer dtype (I8, U8, I32 or I64), got F32", e.getMessage());
            IllegalArgumentException g = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.fromLongs(new long[] {1}, DType.BF16, Shape.of(1)));
            assertTrue(g.getMessage().startsWith("dtype: expected an integer dtype"), g.getMessage());
        }
    }

    @Test
    void copyFromTensorHandlesEveryCombinationOfStridedAndContiguous() {
        Random rnd = TestData.random("copies");
        for (DType t : new DType[] {DType.F32, DType.BF16, DType.F8_E4M3, DType.I64, DType.FP4_E2M1}) {
            float[] v = inputs(t, rnd, 4 * 6);
            try (Tensor src = Tensor.fromFloats(v, t, Shape.of(4, 6));
                 Tensor dst = Tensor.fromFloats(inputs(t, rnd, 4 * 6), t, Shape.of(4, 6))) {
                float[] sv = src.toFloatArray();
                // contiguous -> contiguous
                try (Tensor c = Tensor.allocate(t, Shape.of(4, 6))) {
                    c.copyFrom(src);
                    assertArrayEquals(sv, c.toFloatArray(), t.toString());
                }
                // strided source (a column block) -> contiguous
                Tensor block = src.slice(1, 2, 6).slice(0, 1, 3);
                try (Tensor c = Tensor.allocate(t, Shape.of(2, 4))) {
                    c.copyFrom(block);
                    assertArrayEquals(block.toFloatArray(), c.toFloatArray(), t.toString());
                    assertEquals(sv[6 + 2], c.toFloatArray()[0], t.toString());
                    // contiguous -> strided destination; the rest of dst is untouched
                    float[] before = dst.toFloatArray();
                    Tensor hole = dst.slice(1, 0, 4).slice(0, 2, 4);
                    hole.copyFrom(c);
                    float[] after = dst.toFloatArray();
                    for (int r = 0; r < 4; r++) {
                        for (int col = 0; col < 6; col++) {
                            boolean inside = r >= 2 && col < 4;
                            float want = inside ? c.toFloatArray()[(r - 2) * 4 + col] : before[r * 6 + col];
                            assertEquals(want, after[r * 6 + col], t + " (" + r + ", " + col + ")");
                        }
                    }
                }
                // strided -> strided: a transposed copy
                if (t != DType.FP4_E2M1) {
                    try (Tensor tr = Tensor.allocate(t, Shape.of(6, 4))) {
                        tr.transpose(0, 1).copyFrom(src);
                        float[] got = tr.toFloatArray();
                        for (int r = 0; r < 4; r++) {
                            for (int col = 0; col < 6; col++) {
                                assertEquals(sv[r * 6 + col], got[col * 4 + r], t.toString());
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void copyFromRejectsMismatchedDtypeShapeAndCount() {
        try (Tensor a = Tensor.allocate(DType.F32, Shape.of(2, 3));
             Tensor b = Tensor.allocate(DType.BF16, Shape.of(2, 3));
             Tensor c = Tensor.allocate(DType.F32, Shape.of(3, 2))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.copyFrom(b));
            assertEquals("copyFrom: expected F32 [2, 3], got BF16 [2, 3]", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> a.copyFrom(c));
            assertThrows(IllegalArgumentException.class, () -> a.copyFrom((Tensor) null));
            IllegalArgumentException n = assertThrows(IllegalArgumentException.class, () -> a.copyFrom(new float[5]));
            assertEquals("copyFrom: expected 6 values for [2, 3], got 5", n.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Tensor.fromFloats(new float[5], DType.F32, Shape.of(2, 3)));
        }
    }

    @Test
    void toHostIsAnIndependentContiguousCopy() {
        float[] v = TestData.floats(TestData.random("toHost"), 12);
        try (Tensor t = Tensor.fromFloats(v, DType.F32, Shape.of(3, 4))) {
            Tensor view = t.transpose(0, 1);
            try (Tensor copy = view.toHost()) {
                assertTrue(copy.isContiguous());
                assertTrue(copy.ownsStorage());
                assertArrayEquals(view.toFloatArray(), copy.toFloatArray());
                t.copyFrom(new float[12]);
                assertEquals(v[0], copy.toFloatArray()[0]);
                assertEquals(v[1], copy.toFloatArray()[3]);
            }
        }
    }

    @Test
    void hostSegmentCoversExactlyTheViewsElements() {
        try (Tensor t = Tensor.allocate(DType.BF16, Shape.of(4, 8))) {
            MemorySegment all = t.hostSegment();
            assertEquals(64, all.byteSize());
            Tensor view = t.slice(0, 1, 3).slice(1, 2, 5); // rows 1..2, cols 2..4
            MemorySegment s = view.hostSegment();
            assertEquals(22, s.byteSize(), "from (1,2) to (2,4): 11 elements");
            assertEquals(all.address() + 2 * (8 + 2), s.address());
        }
    }

    @Test
    void wrapAndArenaTensorsAreZeroCopyAndBorrowed() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(16, 4);
            Tensor w = Tensor.wrap(seg, DType.F32, Shape.of(4));
            seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 2, 3.5f);
            assertEquals(3.5f, w.toFloatArray()[2]);
            w.close();
            assertTrue(w.isOpen(), "closing a wrapped tensor does not free the caller's memory");
            Tensor a = Tensor.allocate(arena, DType.I32, Shape.of(3));
            a.close();
            assertTrue(a.isOpen());
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(seg, DType.F32, Shape.of(5)));
        }
    }

    @Test
    void copyFromFloatsIntoAStridedViewWritesOnlyItsElements() {
        float[] v = TestData.floats(TestData.random("strided"), 12);
        try (Tensor t = Tensor.fromFloats(v, DType.BF16, Shape.of(3, 4))) {
            float[] before = t.toFloatArray();
            t.select(1, 1).copyFrom(new float[] {7, 8, 9});
            float[] after = t.toFloatArray();
            for (int i = 0; i < 12; i++) {
                float want = i % 4 == 1 ? 7 + i / 4 : before[i];
                assertEquals(want, after[i], "element " + i);
            }
        }
    }
}

package io.github.ds4j.format;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class UE8M0Test {
    /** The value of a code from the format's definition: 2^(code - 127), 0xFF NaN. */
    private static double value(int code) {
        return code == 0xFF ? Double.NaN : Math.scalb(1.0, code - 127);
    }

    /** The smallest e with 2^e >= v, found by exact double comparisons (v positive finite). */
    private static int ceilLog2Reference(float v) {
        int lo = -149;
        int hi = 128;
        while (lo < hi) {
            int mid = Math.floorDiv(lo + hi, 2);
            if (Math.scalb(1.0, mid) >= v) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    @Test
    void everyCodeDecodesToTwoToTheCodeMinus127AndFFIsNaN() {
        for (int c = 0; c < 255; c++) {
            float want = (float) value(c);
            assertEquals(value(c), want, "2^" + (c - 127) + " must be an f32");
            assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(UE8M0.decode((byte) c)), "code " + c);
        }
        assertTrue(Float.isNaN(UE8M0.decode((byte) 0xFF)));
        assertEquals(0x1p-127f, UE8M0.decode((byte) 0));
        assertEquals(0x0040_0000, Float.floatToRawIntBits(UE8M0.decode((byte) 0)), "code 0 is the f32 subnormal 2^-127");
        assertEquals(0x1p127f, UE8M0.decode((byte) 0xFE));
        assertEquals(1f, UE8M0.decode((byte) 127));
    }

    @Test
    void encodeAndEncodeCeilInvertDecodeForEveryNonNaNCode() {
        for (int c = 0; c < 255; c++) {
            byte code = (byte) c;
            float v = UE8M0.decode(code);
            assertEquals(code, UE8M0.encode(v), "encode(2^" + (c - 127) + ")");
            assertEquals(code, UE8M0.encodeCeil(v), "encodeCeil(2^" + (c - 127) + ")");
            assertEquals(code, UE8M0.fromExponent(c - 127));
            assertEquals(c - 127, UE8M0.exponent(code));
        }
        assertEquals(UE8M0.NAN, UE8M0.encode(Float.NaN));
        assertEquals(UE8M0.NAN, UE8M0.encodeCeil(Float.NaN));
    }

    @Test
    void encodeRejectsWhatIsNotAPowerOfTwoInRange() {
        float[] bad = {0f, -0f, -1f, 3f, 1.5f, 0x1p-128f, Float.MIN_VALUE, 0x1p-127f * 3, Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY, Float.MAX_VALUE};
        for (float v : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UE8M0.encode(v), "encode(" + v + ")");
            assertTrue(e.getMessage().contains(Float.toString(v)), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> UE8M0.fromExponent(128));
        assertThrows(IllegalArgumentException.class, () -> UE8M0.fromExponent(-128));
        assertThrows(IllegalArgumentException.class, () -> UE8M0.exponent(UE8M0.NAN));
    }

    @Test
    void ceilLog2IsExactAtAndAroundEveryPowerOfTwoNormalAndSubnormal() {
        for (int e = -149; e <= 127; e++) {
            float p = Math.scalb(1f, e);
            assertEquals(Math.scalb(1.0, e), p);
            assertEquals(e, UE8M0.ceilLog2(p), "ceilLog2(2^" + e + ")");
            if (e < 127) {
                assertEquals(e + 1, UE8M0.ceilLog2(Math.nextUp(p)), "ceilLog2(nextUp(2^" + e + "))");
            } else {
                assertEquals(128, UE8M0.ceilLog2(Math.nextUp(p)));
            }
            if (e > -148) {
                assertEquals(e, UE8M0.ceilLog2(Math.nextDown(p)), "ceilLog2(nextDown(2^" + e + "))");
            }
        }
        assertEquals(128, UE8M0.ceilLog2(Float.MAX_VALUE));
        assertEquals(-126, UE8M0.ceilLog2(Math.nextDown(Float.MIN_NORMAL)));
        assertEquals(-147, UE8M0.ceilLog2(Float.MIN_VALUE * 3));
        assertEquals(-149, UE8M0.ceilLog2(Math.nextDown(0x1p-148f)), "the one subnormal below 2^-148 is 2^-149");
    }

    @Test
    void ceilLog2MatchesExactComparisonsOnASampledSweepOfPositiveFloats() {
        long n = 0;
        for (long p = 1; p < 0x7F80_0000L; p += FormatHarness.SWEEP_STEP / 2) {
            float v = Float.intBitsToFloat((int) p);
            int want = ceilLog2Reference(v);
            int got = UE8M0.ceilLog2(v);
            if (got != want) {
                fail("ceilLog2(" + v + " = 0x" + Long.toHexString(p) + ") expected " + want + ", got " + got);
            }
            int clamped = Math.max(-127, Math.min(127, want));
            int code = UE8M0.encodeCeil(v) & 0xFF;
            if (code != clamped + 127) {
                fail("encodeCeil(" + v + ") expected code " + (clamped + 127) + ", got " + code);
            }
            n++;
        }
        assertTrue(n > 500_000);
    }

    @Test
    void ceilLog2RejectsZeroNegativeInfiniteAndNaN() {
        for (float v : new float[] {0f, -0f, -1f, -Float.MIN_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UE8M0.ceilLog2(v), "ceilLog2(" + v + ")");
            assertTrue(e.getMessage().contains(Float.toString(v)), e.getMessage());
        }
    }

    @Test
    void encodeCeilClampsToTheRangeTwoToMinus127ToTwoTo127() {
        assertEquals((byte) 0xFE, UE8M0.encodeCeil(Float.MAX_VALUE));
        assertEquals((byte) 0xFE, UE8M0.encodeCeil(Math.nextUp(0x1p127f)));
        assertEquals((byte) 0xFE, UE8M0.encodeCeil(0x1p127f));
        assertEquals((byte) 0xFE, UE8M0.encodeCeil(Math.nextDown(0x1p127f)));
        assertEquals((byte) 0xFD, UE8M0.encodeCeil(Math.nextDown(0x1p126f)));
        assertEquals((byte) 0x00, UE8M0.encodeCeil(0x1p-127f));
        assertEquals((byte) 0x00, UE8M0.encodeCeil(0x1p-140f));
        assertEquals((byte) 0x00, UE8M0.encodeCeil(Float.MIN_VALUE));
        assertEquals((byte) 0x01, UE8M0.encodeCeil(Math.nextUp(0x1p-127f)));
        assertEquals((byte) 127, UE8M0.encodeCeil(1f));
        assertEquals((byte) 128, UE8M0.encodeCeil(1.0000001f));
        assertEquals((byte) 128, UE8M0.encodeCeil(2f));
        assertEquals((byte) 127, UE8M0.encodeCeil(0.75f));
    }
}

package io.github.ds4j.format;

import io.github.ds4j.format.FormatHarness.Codec;
import io.github.ds4j.format.FormatHarness.Layout;
import io.github.ds4j.format.FormatHarness.Nearest;
import io.github.ds4j.format.FormatHarness.Special;
import io.github.ds4j.format.FormatHarness.Step;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class E4M3Test {
    private static final Layout LAYOUT = new Layout("E4M3", 4, 3, 7, Special.FN);
    private static final Codec ENCODE = new Codec() {
        @Override
        public float decode(int code) {
            return E4M3.decode((byte) code);
        }

        @Override
        public int encode(float x) {
            return E4M3.encode(x) & 0xFF;
        }
    };
    private static final Codec SATURATING = new Codec() {
        @Override
        public float decode(int code) {
            return E4M3.decode((byte) code);
        }

        @Override
        public int encode(float x) {
            return E4M3.encodeSaturating(x) & 0xFF;
        }
    };
    /** 480 would be the next value; the cast gives NaN (0x7F) to everything that rounds to it. */
    private static final Step OVERFLOW = new Step(480, 0x7F);

    @Test
    void decodeMatchesBitLayoutForAll256Codes() {
        FormatHarness.decodeMatchesLayout(LAYOUT, ENCODE);
        float[] table = E4M3.decodeTable();
        assertEquals(256, table.length);
        for (int c = 0; c < 256; c++) {
            assertEquals(Float.floatToIntBits(E4M3.decode((byte) c)), Float.floatToIntBits(table[c]), "code " + c);
        }
        table[1] = 99f;
        assertEquals(0x1p-9f, E4M3.decode((byte) 1), "decodeTable must return a copy");
        assertEquals(448f, E4M3.decode((byte) 0x7E));
        assertEquals(-448f, E4M3.decode((byte) 0xFE));
        assertEquals(0x1p-9f, E4M3.decode((byte) 0x01));
        assertEquals(0x1p-6f, E4M3.decode((byte) 0x08));
    }

    @Test
    void onlyCodes7FAndFFAreNaN() {
        for (int c = 0; c < 256; c++) {
            boolean nan = c == 0x7F || c == 0xFF;
            assertEquals(nan, E4M3.isNaN((byte) c), "code " + c);
            assertEquals(nan, Float.isNaN(E4M3.decode((byte) c)), "code " + c);
        }
    }

    @Test
    void encodeInvertsDecodeForEveryNonNaNCode() {
        FormatHarness.roundTripsEveryNonNaNCode(LAYOUT, ENCODE);
        FormatHarness.roundTripsEveryNonNaNCode(LAYOUT, SATURATING);
        assertEquals(0x00, E4M3.encode(0f));
        assertEquals((byte) 0x80, E4M3.encode(-0f));
    }

    @Test
    void everyTieRoundsToTheEvenCodeAndItsNeighboursToTheNearerValue() {
        int pairs = FormatHarness.roundsTiesToEvenAndNeighboursToNearest(LAYOUT, ENCODE, OVERFLOW);
        assertEquals(127, pairs, "127 non-negative finite values give 126 gaps, plus the gap to the overflow step");
        FormatHarness.roundsTiesToEvenAndNeighboursToNearest(LAYOUT, SATURATING, null);
    }

    @Test
    void nonSaturatingEncodeGivesNaNPast464LikeTheFloat8E4M3fnCast() {
        assertEquals(0x7E, E4M3.encode(448f));
        assertEquals(0x7E, E4M3.encode(464f), "the tie at 464 goes to the even code 0x7E (448)");
        assertEquals(0x7F, E4M3.encode(Math.nextUp(464f)));
        assertEquals(0x7F, E4M3.encode(479.99f));
        assertEquals(0x7F, E4M3.encode(480f));
        assertEquals(0x7F, E4M3.encode(1e30f));
        assertEquals(0x7F, E4M3.encode(Float.MAX_VALUE));
        assertEquals((byte) 0xFE, E4M3.encode(-464f));
        assertEquals((byte) 0xFF, E4M3.encode(-Math.nextUp(464f)));
        assertTrue(E4M3.isNaN(E4M3.encode(Float.POSITIVE_INFINITY)));
        assertTrue(E4M3.isNaN(E4M3.encode(Float.NEGATIVE_INFINITY)));
        assertTrue(E4M3.isNaN(E4M3.encode(Float.NaN)));
        assertTrue(E4M3.isNaN(E4M3.encode(Float.intBitsToFloat(0xFFC0_0001))));
    }

    @Test
    void saturatingEncodeClampsToPlusMinus448AndKeepsNaN() {
        for (float big : new float[] {448f, 449f, 464f, Math.nextUp(464f), 480f, 1e6f, Float.MAX_VALUE, Float.POSITIVE_INFINITY}) {
            assertEquals(0x7E, E4M3.encodeSaturating(big), "encodeSaturating(" + big + ")");
            assertEquals((byte) 0xFE, E4M3.encodeSaturating(-big), "encodeSaturating(" + -big + ")");
        }
        assertTrue(E4M3.isNaN(E4M3.encodeSaturating(Float.NaN)));
        assertTrue(E4M3.isNaN(E4M3.encodeSaturating(-Float.NaN)));
        assertFalse(E4M3.isNaN(E4M3.encodeSaturating(Float.NEGATIVE_INFINITY)));
    }

    @Test
    void sampledF32SweepMatchesBruteForceNearestValue() {
        Nearest cast = new Nearest(LAYOUT, OVERFLOW);
        FormatHarness.sweepMatchesReference("E4M3.encode", ENCODE,
                bits -> cast.encode(Float.intBitsToFloat(bits)), code -> (code & 0x7F) == 0x7F);
        Nearest clamped = new Nearest(LAYOUT, null);
        long n = FormatHarness.sweepMatchesReference("E4M3.encodeSaturating", SATURATING,
                bits -> clamped.encode(Float.intBitsToFloat(bits)), code -> (code & 0x7F) == 0x7F);
        assertTrue(n > 1_000_000);
    }
}

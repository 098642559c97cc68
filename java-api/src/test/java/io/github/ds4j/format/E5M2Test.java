package io.github.ds4j.format;

import io.github.ds4j.format.FormatHarness.Codec;
import io.github.ds4j.format.FormatHarness.Layout;
import io.github.ds4j.format.FormatHarness.Nearest;
import io.github.ds4j.format.FormatHarness.Special;
import io.github.ds4j.format.FormatHarness.Step;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class E5M2Test {
    private static final Layout LAYOUT = new Layout("E5M2", 5, 2, 15, Special.IEEE);
    private static final Codec CODEC = new Codec() {
        @Override
        public float decode(int code) {
            return E5M2.decode((byte) code);
        }

        @Override
        public int encode(float x) {
            return E5M2.encode(x) & 0xFF;
        }
    };
    /** 65536 would be the next value: it is infinity (0x7C, an even code). */
    private static final Step OVERFLOW = new Step(65536, 0x7C);

    @Test
    void decodeMatchesBitLayoutForAll256Codes() {
        FormatHarness.decodeMatchesLayout(LAYOUT, CODEC);
        assertEquals(57344f, E5M2.decode((byte) 0x7B));
        assertEquals(Float.POSITIVE_INFINITY, E5M2.decode((byte) 0x7C));
        assertEquals(Float.NEGATIVE_INFINITY, E5M2.decode((byte) 0xFC));
        assertEquals(0x1p-16f, E5M2.decode((byte) 0x01));
        for (int c : new int[] {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}) {
            assertTrue(Float.isNaN(E5M2.decode((byte) c)), "code " + c);
        }
    }

    @Test
    void encodeInvertsDecodeForEveryNonNaNCodeIncludingInfinities() {
        FormatHarness.roundTripsEveryNonNaNCode(LAYOUT, CODEC);
        assertEquals((byte) 0x80, E5M2.encode(-0f));
    }

    @Test
    void everyTieRoundsToTheEvenCodeAndItsNeighboursToTheNearerValue() {
        int pairs = FormatHarness.roundsTiesToEvenAndNeighboursToNearest(LAYOUT, CODEC, OVERFLOW);
        assertEquals(124, pairs, "124 non-negative finite values give 123 gaps, plus the gap to infinity");
    }

    @Test
    void overflowGoesToInfinityAndNaNStaysNaN() {
        assertEquals(0x7B, E5M2.encode(61439.996f));
        assertEquals(0x7C, E5M2.encode(61440f), "the tie past 57344 goes to the even code, infinity");
        assertEquals(0x7C, E5M2.encode(1e20f));
        assertEquals(0x7C, E5M2.encode(Float.POSITIVE_INFINITY));
        assertEquals((byte) 0xFC, E5M2.encode(Float.NEGATIVE_INFINITY));
        assertEquals((byte) 0xFC, E5M2.encode(-61440f));
        assertEquals(0x7F, E5M2.encode(Float.NaN));
        assertTrue(Float.isNaN(E5M2.decode(E5M2.encode(Float.intBitsToFloat(0xFF80_0001)))));
        assertEquals(0x7B, E5M2.encodeSaturating(Float.POSITIVE_INFINITY));
        assertEquals((byte) 0xFB, E5M2.encodeSaturating(-1e20f));
        assertTrue(Float.isNaN(E5M2.decode(E5M2.encodeSaturating(Float.NaN))));
    }

    @Test
    void sampledF32SweepMatchesBruteForceNearestValue() {
        Nearest ieee = new Nearest(LAYOUT, OVERFLOW);
        FormatHarness.sweepMatchesReference("E5M2.encode", CODEC,
                bits -> ieee.encode(Float.intBitsToFloat(bits)), code -> LAYOUT.isNaN(code));
    }
}

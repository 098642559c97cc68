package io.github.ds4j.format;

import io.github.ds4j.format.FormatHarness.Codec;
import io.github.ds4j.format.FormatHarness.Layout;
import io.github.ds4j.format.FormatHarness.Nearest;
import io.github.ds4j.format.FormatHarness.Special;
import io.github.ds4j.format.FormatHarness.Step;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class BF16Test {
    private static final Layout LAYOUT = new Layout("BF16", 8, 7, 127, Special.IEEE);
    private static final Codec CODEC = new Codec() {
        @Override
        public float decode(int code) {
            return BF16.decode((short) code);
        }

        @Override
        public int encode(float x) {
            return BF16.encode(x) & 0xFFFF;
        }
    };
    /** 2^128 would be the next value: it is infinity (0x7F80, an even code). */
    private static final Step OVERFLOW = new Step(0x1p128, 0x7F80);

    @Test
    void decodeMatchesBitLayoutForAll65536Codes() {
        FormatHarness.decodeMatchesLayout(LAYOUT, CODEC);
    }

    @Test
    void encodeInvertsDecodeForEveryNonNaNCode() {
        FormatHarness.roundTripsEveryNonNaNCode(LAYOUT, CODEC);
    }

    @Test
    void everyTieRoundsToTheEvenCodeAndItsNeighboursToTheNearerValue() {
        assertEquals(0x7F80, FormatHarness.roundsTiesToEvenAndNeighboursToNearest(LAYOUT, CODEC, OVERFLOW));
    }

    @Test
    void everyNaNBecomes7FC0AndOverflowGoesToInfinity() {
        int[] nans = {0x7F80_0001, 0x7FC0_0000, 0x7FFF_FFFF, 0xFF80_0001, 0xFFC0_0000, 0xFFFF_FFFF, 0x7F80_8000};
        for (int bits : nans) {
            assertEquals((short) 0x7FC0, BF16.encode(Float.intBitsToFloat(bits)), Integer.toHexString(bits));
        }
        assertEquals((short) 0x7F80, BF16.encode(Float.MAX_VALUE));
        assertEquals((short) 0x7F80, BF16.encode(Float.intBitsToFloat(0x7F7F_8000)), "tie above the largest value");
        assertEquals((short) 0x7F7F, BF16.encode(Float.intBitsToFloat(0x7F7F_7FFF)));
        assertEquals((short) 0xFF80, BF16.encode(-Float.MAX_VALUE));
        assertEquals((short) 0x7F80, BF16.encode(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xFF80, BF16.encode(Float.NEGATIVE_INFINITY));
        assertEquals(1.0078125f, BF16.round(1.01f));
    }

    @Test
    void sampledF32SweepMatchesBruteForceNearestValue() {
        Nearest ieee = new Nearest(LAYOUT, OVERFLOW);
        FormatHarness.sweepMatchesReference("BF16.encode", CODEC,
                bits -> ieee.encode(Float.intBitsToFloat(bits)), code -> code == 0x7FC0);
    }
}

package io.github.ds4j.format;

import io.github.ds4j.format.FormatHarness.Codec;
import io.github.ds4j.format.FormatHarness.Layout;
import io.github.ds4j.format.FormatHarness.Nearest;
import io.github.ds4j.format.FormatHarness.Special;
import io.github.ds4j.format.FormatHarness.Step;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class F16Test {
    private static final Layout LAYOUT = new Layout("F16", 5, 10, 15, Special.IEEE);
    private static final Codec CODEC = new Codec() {
        @Override
        public float decode(int code) {
            return F16.decode((short) code);
        }

        @Override
        public int encode(float x) {
            return F16.encode(x) & 0xFFFF;
        }
    };
    /** 65536 would be the next value: it is infinity (0x7C00, an even code). */
    private static final Step OVERFLOW = new Step(65536, 0x7C00);

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
        assertEquals(0x7C00, FormatHarness.roundsTiesToEvenAndNeighboursToNearest(LAYOUT, CODEC, OVERFLOW));
    }

    @Test
    void overflowGoesToInfinityAndNaNStaysNaN() {
        assertEquals((short) 0x7BFF, F16.encode(65504f));
        assertEquals((short) 0x7C00, F16.encode(65520f));
        assertEquals((short) 0xFC00, F16.encode(-1e10f));
        assertTrue(Float.isNaN(F16.decode(F16.encode(Float.NaN))));
    }

    @Test
    void sampledF32SweepMatchesBruteForceNearestValue() {
        Nearest ieee = new Nearest(LAYOUT, OVERFLOW);
        FormatHarness.sweepMatchesReference("F16.encode", CODEC,
                bits -> ieee.encode(Float.intBitsToFloat(bits)), code -> LAYOUT.isNaN(code));
    }
}

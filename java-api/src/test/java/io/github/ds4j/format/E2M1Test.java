package io.github.ds4j.format;

import io.github.ds4j.format.FormatHarness.Codec;
import io.github.ds4j.format.FormatHarness.Layout;
import io.github.ds4j.format.FormatHarness.Nearest;
import io.github.ds4j.format.FormatHarness.Special;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class E2M1Test {
    private static final Layout LAYOUT = new Layout("E2M1", 2, 1, 1, Special.NONE);
    private static final Codec CODEC = new Codec() {
        @Override
        public float decode(int code) {
            return E2M1.decode(code);
        }

        @Override
        public int encode(float x) {
            return E2M1.encode(x);
        }
    };

    @Test
    void decodeMatchesBitLayoutForAll16CodesAndTheSpecTable() {
        FormatHarness.decodeMatchesLayout(LAYOUT, CODEC);
        assertArrayEquals(new float[] {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f},
                E2M1.decodeTable());
        assertEquals(1f, E2M1.decode(0x12), "only the low nibble is read");
    }

    @Test
    void encodeInvertsDecodeForEveryCode() {
        FormatHarness.roundTripsEveryNonNaNCode(LAYOUT, CODEC);
    }

    @Test
    void everyTieRoundsToTheEvenCodeAndItsNeighboursToTheNearerValue() {
        assertEquals(7, FormatHarness.roundsTiesToEvenAndNeighboursToNearest(LAYOUT, CODEC, null));
    }

    @Test
    void saturatesAtSixAndNaNEncodesAsPositiveZero() {
        for (float big : new float[] {6f, Math.nextUp(6f), 7f, 100f, Float.MAX_VALUE, Float.POSITIVE_INFINITY}) {
            assertEquals(0x7, E2M1.encode(big), "encode(" + big + ")");
            assertEquals(0xF, E2M1.encode(-big), "encode(" + -big + ")");
        }
        assertEquals(0, E2M1.encode(Float.NaN));
        assertEquals(0, E2M1.encode(Float.intBitsToFloat(0xFFC0_0000)));
    }

    @Test
    void sampledF32SweepMatchesBruteForceNearestValue() {
        Nearest saturating = new Nearest(LAYOUT, null);
        FormatHarness.sweepMatchesReference("E2M1.encode", CODEC,
                bits -> saturating.encode(Float.intBitsToFloat(bits)), code -> code == 0);
    }

    @Test
    void packPutsTheEvenElementInTheLowNibble() {
        long seed = System.nanoTime();
        System.out.println("E2M1Test seed " + seed);
        Random rnd = new Random(seed);
        int n = 2 * (1 + rnd.nextInt(64));
        int[] codes = new int[n];
        byte[] packed = new byte[n / 2];
        for (int i = 0; i < n; i++) {
            codes[i] = rnd.nextInt(16);
        }
        for (int i = 0; i < n / 2; i++) {
            packed[i] = E2M1.pack(codes[2 * i], codes[2 * i + 1]);
            assertEquals(codes[2 * i] | (codes[2 * i + 1] << 4), packed[i] & 0xFF);
        }
        for (int i = 0; i < n; i++) {
            assertEquals(codes[i], E2M1.unpack(packed, i), "element " + i + " (seed " + seed + ")");
        }
        assertEquals((byte) 0x21, E2M1.pack(0x31, 0x42), "pack keeps only the low nibble of each code");
    }
}

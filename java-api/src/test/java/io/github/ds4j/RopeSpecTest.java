package io.github.ds4j;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RopeSpecTest {
    /** The V4 rope_scaling of config.json (spec §1 and §6). */
    private static final RopeSpec.Yarn V4_YARN = new RopeSpec.Yarn(16, 65536, 32, 1);

    /** f_i = base^(-2i/dims) in double, written from spec §6. */
    private static double plain(int i, int dims, double base) {
        return Math.exp(-(2.0 * i / dims) * Math.log(base));
    }

    private static void assertNear(double want, float got, String what) {
        // the reference computes in f32: allow a couple of f32 roundings
        assertTrue(Math.abs(got - want) <= 4 * Math.ulp((float) want), what + ": expected " + want + ", got " + got);
    }

    @Test
    void plainFrequenciesAreBaseToTheMinusTwoIOverDims() {
        for (double base : new double[] {10000, 160000}) {
            float[] f = RopeSpec.plain(64, base).frequencies();
            assertEquals(32, f.length);
            assertEquals(1f, f[0]);
            for (int i = 0; i < 32; i++) {
                assertNear(plain(i, 64, base), f[i], "base " + base + " f_" + i);
            }
        }
        float[] small = RopeSpec.plain(8, 100).frequencies();
        assertNear(0.1, small[2], "100^(-4/8)");
    }

    @Test
    void v4YarnRampRunsFromLow15ToHigh25AsSpecSixComputesThem() {
        double base = 160000;
        int dims = 64;
        // spec §6, evaluated independently
        int low = (int) Math.floor(dims * Math.log(65536 / (32 * 2 * Math.PI)) / (2 * Math.log(base)));
        int high = (int) Math.ceil(dims * Math.log(65536 / (1 * 2 * Math.PI)) / (2 * Math.log(base)));
        low = Math.max(0, Math.min(dims - 1, low));
        high = Math.max(0, Math.min(dims - 1, high));
        assertEquals(15, low, "64*ln(65536/(64 pi))/(2 ln 160000) = 15.45");
        assertEquals(25, high, "64*ln(65536/(2 pi))/(2 ln 160000) = 24.71");

        float[] plainF = RopeSpec.plain(dims, base).frequencies();
        float[] f = new RopeSpec(dims, base, V4_YARN).frequencies();
        assertEquals(32, f.length);
        for (int i = 0; i < 32; i++) {
            double ramp = Math.max(0, Math.min(1, (i - low) / (double) (high - low)));
            double smooth = 1 - ramp;
            double fi = plain(i, dims, base);
            double want = fi / 16 * (1 - smooth) + fi * smooth;
            assertNear(want, f[i], "f'_" + i);
            if (i <= low) {
                assertEquals(plainF[i], f[i], "high frequencies are not stretched (i = " + i + ")");
            }
            if (i >= high) {
                assertEquals(plainF[i] / 16, f[i], "low frequencies are divided by the factor (i = " + i + ")");
            }
        }
        assertTrue(f[20] < plainF[20] && f[20] > plainF[20] / 16, "inside the ramp the frequency is blended");
    }

    @Test
    void yarnCorrectionRangeIsClampedToTheRotaryDims() {
        // beta_fast so large the correction dim is negative, beta_slow so small it passes dims-1
        RopeSpec spec = new RopeSpec(64, 10000, new RopeSpec.Yarn(4, 65536, 1e6, 1e-30));
        float[] plainF = RopeSpec.plain(64, 10000).frequencies();
        float[] f = spec.frequencies();
        for (int i = 0; i < 32; i++) {
            double ramp = i / 63.0; // low clamps to 0, high to 63
            double fi = plain(i, 64, 10000);
            assertNear(fi / 4 * ramp + fi * (1 - ramp), f[i], "f'_" + i);
        }
        assertEquals(plainF[0], f[0]);
    }

    @Test
    void angleIsTheF32ProductOfPositionAndFrequency() {
        float f = 0.0123f;
        for (long pos : new long[] {0, 1, 4097, 65537, 1_048_575}) {
            assertEquals((double) ((float) pos * f), RopeSpec.angle(pos, f));
        }
    }

    @Test
    void badParametersAreRejectedNamingThem() {
        for (int dims : new int[] {0, -2, 63}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RopeSpec.plain(dims, 10000));
            assertTrue(e.getMessage().contains("dims") && e.getMessage().contains(Integer.toString(dims)), e.getMessage());
        }
        for (double base : new double[] {1, 0.5, -10, Double.NaN}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RopeSpec.plain(64, base));
            assertTrue(e.getMessage().contains("base"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new RopeSpec.Yarn(0, 65536, 32, 1));
        assertThrows(IllegalArgumentException.class, () -> new RopeSpec.Yarn(16, 0, 32, 1));
        assertThrows(IllegalArgumentException.class, () -> new RopeSpec.Yarn(16, 65536, Double.NaN, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new RopeSpec.Yarn(16, 65536, 32, -1));
        assertTrue(e.getMessage().contains("beta_slow -1"), e.getMessage());
    }
}

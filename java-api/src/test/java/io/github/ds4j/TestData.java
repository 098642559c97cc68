package io.github.ds4j;

import java.util.Random;

/** Random inputs for the tests of this package: seeded, printed, never zero. */
final class TestData {
    private TestData() {
    }

    /** A generator whose seed is printed with {@code what}, so a failure can be replayed. */
    static Random random(String what) {
        long seed = System.nanoTime();
        System.out.println(what + " seed " + seed);
        return new Random(seed);
    }

    /** Values with random sign and magnitude in [0.5, 2): non-zero, distinct with high probability. */
    static float[] floats(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            float m = 0.5f + 1.5f * rnd.nextFloat();
            v[i] = rnd.nextBoolean() ? m : -m;
        }
        return v;
    }
}

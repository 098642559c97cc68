package io.github.ds4j.format;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Exhaustive checks shared by the number-format tests. A format is described by its bit layout
 * here, independently of the classes under test; the checks compare the classes with that
 * description code by code, at every rounding tie, and on a sampled sweep over all f32 patterns.
 */
final class FormatHarness {
    /** Sweep step over the 2^32 f32 patterns: prime, so every exponent and mantissa range is hit. */
    static final long SWEEP_STEP = 4099;

    private FormatHarness() {
    }

    /** The class under test, seen through codes as unsigned ints. */
    interface Codec {
        float decode(int code);

        int encode(float x);
    }

    /**
     * A sign-magnitude binary format: {@code expBits} exponent bits with {@code bias}, {@code manBits}
     * mantissa bits, subnormals at exponent 0. {@code special} says what the all-ones exponent
     * means.
     */
    record Layout(String name, int expBits, int manBits, int bias, Special special) {
        int bits() {
            return 1 + expBits + manBits;
        }

        int codes() {
            return 1 << bits();
        }

        int signBit() {
            return 1 << (expBits + manBits);
        }

        /** The value of a code, from the layout alone (double is exact for all these formats). */
        double value(int code) {
            boolean negative = (code & signBit()) != 0;
            int exp = (code >>> manBits) & ((1 << expBits) - 1);
            int man = code & ((1 << manBits) - 1);
            int maxExp = (1 << expBits) - 1;
            double magnitude;
            if (exp == maxExp && special == Special.IEEE) {
                magnitude = man == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
            } else if (exp == maxExp && special == Special.FN && man == (1 << manBits) - 1) {
                magnitude = Double.NaN;
            } else if (exp == 0) {
                magnitude = Math.scalb((double) man, 1 - bias - manBits);
            } else {
                magnitude = Math.scalb((double) ((1 << manBits) + man), exp - bias - manBits);
            }
            return negative ? -magnitude : magnitude;
        }

        boolean isNaN(int code) {
            return Double.isNaN(value(code));
        }

        boolean isFinite(int code) {
            return Double.isFinite(value(code));
        }
    }

    /** Meaning of the all-ones exponent. */
    enum Special {
        /** Infinity with mantissa 0, NaN otherwise. */
        IEEE,
        /** Only all-ones exponent and mantissa is NaN; no infinity (E4M3 "fn"). */
        FN,
        /** An ordinary exponent (E2M1). */
        NONE
    }

    /** Every code decodes to the layout's value, bit for bit (signed zeros included). */
    static void decodeMatchesLayout(Layout layout, Codec codec) {
        for (int code = 0; code < layout.codes(); code++) {
            double want = layout.value(code);
            float got = codec.decode(code);
            if (Double.isNaN(want)) {
                if (!Float.isNaN(got)) {
                    fail(layout.name() + " code 0x" + Integer.toHexString(code) + ": expected NaN, got " + got);
                }
                continue;
            }
            if ((float) want != want) {
                fail(layout.name() + " code 0x" + Integer.toHexString(code) + " is not an f32 value: " + want);
            }
            if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits((float) want)) {
                fail(layout.name() + " code 0x" + Integer.toHexString(code) + ": expected " + want + ", got " + got);
            }
        }
    }

    /** encode(decode(c)) == c for every code that is not NaN, both zeros and infinities included. */
    static void roundTripsEveryNonNaNCode(Layout layout, Codec codec) {
        int checked = 0;
        for (int code = 0; code < layout.codes(); code++) {
            if (layout.isNaN(code)) {
                continue;
            }
            int back = codec.encode(codec.decode(code));
            if (back != code) {
                fail(layout.name() + ": code 0x" + Integer.toHexString(code) + " (" + layout.value(code)
                        + ") encodes back to 0x" + Integer.toHexString(back));
            }
            checked++;
        }
        if (checked < layout.codes() / 2) {
            fail(layout.name() + ": only " + checked + " codes checked");
        }
    }

    /**
     * For every pair of adjacent non-negative finite values (lo, hi), and mirrored for negative
     * inputs: the exact midpoint encodes to the even code of the two, the f32 one ulp below it to
     * lo and the f32 one ulp above it to hi. {@code overflow}, when not null, is the first value
     * past the largest finite one with the code that values rounding to it get (infinity or NaN).
     * Returns the number of pairs checked.
     */
    static int roundsTiesToEvenAndNeighboursToNearest(Layout layout, Codec codec, Step overflow) {
        List<Step> steps = positiveSteps(layout);
        if (overflow != null) {
            steps.add(overflow);
        }
        int sign = layout.signBit();
        for (int k = 0; k + 1 < steps.size(); k++) {
            Step lo = steps.get(k);
            Step hi = steps.get(k + 1);
            double mid = (lo.value() + hi.value()) / 2;
            float m = (float) mid;
            if (m != mid) {
                fail(layout.name() + ": midpoint " + mid + " is not an f32 value");
            }
            int even = (lo.code() & 1) == 0 ? lo.code() : hi.code();
            expectCode(layout, codec, m, even);
            expectCode(layout, codec, Math.nextDown(m), lo.code());
            expectCode(layout, codec, Math.nextUp(m), hi.code());
            expectCode(layout, codec, -m, sign | even);
            expectCode(layout, codec, -Math.nextDown(m), sign | lo.code());
            expectCode(layout, codec, -Math.nextUp(m), sign | hi.code());
            // the representable values themselves, and their f32 neighbours
            expectCode(layout, codec, (float) lo.value(), lo.code());
            if (lo.value() > 0) {
                expectCode(layout, codec, Math.nextDown((float) lo.value()), lo.code());
            }
            expectCode(layout, codec, Math.nextUp((float) lo.value()), lo.code());
        }
        return steps.size() - 1;
    }

    private static void expectCode(Layout layout, Codec codec, float x, int want) {
        int got = codec.encode(x);
        if (got != want) {
            fail(layout.name() + ": encode(" + x + " = 0x" + Integer.toHexString(Float.floatToRawIntBits(x))
                    + ") expected code 0x" + Integer.toHexString(want) + ", got 0x" + Integer.toHexString(got));
        }
    }

    /** A value and its code. */
    record Step(double value, int code) {
    }

    /** The non-negative finite values of the format, ascending, with their codes (+0 only). */
    static List<Step> positiveSteps(Layout layout) {
        List<Step> out = new ArrayList<>();
        for (int code = 0; code < layout.signBit(); code++) {
            double v = layout.value(code);
            if (Double.isFinite(v)) {
                out.add(new Step(v, code));
            }
        }
        out.sort((a, b) -> Double.compare(a.value(), b.value()));
        for (int k = 1; k < out.size(); k++) {
            if (!(out.get(k).value() > out.get(k - 1).value())) {
                fail(layout.name() + ": values are not strictly increasing at code " + out.get(k).code());
            }
        }
        return out;
    }

    /**
     * A brute-force nearest-value encoder built from the sorted table of the layout: nearest
     * value, ties to the even code; magnitudes beyond the table's last entry get that entry's
     * code (so put an overflow step last for formats that overflow, or leave the largest value
     * last for saturating ones).
     */
    static final class Nearest {
        private final double[] values;
        private final int[] codes;
        private final int signBit;

        Nearest(Layout layout, Step overflow) {
            List<Step> steps = positiveSteps(layout);
            if (overflow != null) {
                steps.add(overflow);
            }
            values = new double[steps.size()];
            codes = new int[steps.size()];
            for (int k = 0; k < steps.size(); k++) {
                values[k] = steps.get(k).value();
                codes[k] = steps.get(k).code();
            }
            signBit = layout.signBit();
        }

        /** The code of the nearest value for a non-NaN input, sign applied. */
        int encode(float x) {
            double a = Math.abs((double) x);
            int code;
            int at = Arrays.binarySearch(values, a);
            if (at >= 0) {
                code = codes[at];
            } else {
                int hi = -at - 1;
                if (hi >= values.length) {
                    code = codes[values.length - 1];
                } else {
                    int lo = hi - 1;
                    // 2a vs lo + hi is exact in double: adjacent values are within a factor of two
                    double twice = 2 * a;
                    double sum = values[lo] + values[hi];
                    if (twice < sum) {
                        code = codes[lo];
                    } else if (twice > sum) {
                        code = codes[hi];
                    } else {
                        code = (codes[lo] & 1) == 0 ? codes[lo] : codes[hi];
                    }
                }
            }
            return (Float.floatToRawIntBits(x) < 0 ? signBit : 0) | code;
        }
    }

    /**
     * Compares the codec with {@code reference} on every {@link #SWEEP_STEP}-th f32 bit pattern
     * (and the last one); NaN inputs go to {@code nanCheck}. Returns the number of samples.
     */
    static long sweepMatchesReference(String name, Codec codec, java.util.function.IntUnaryOperator reference,
                                      java.util.function.IntPredicate nanCheck) {
        long n = 0;
        for (long p = 0; p < (1L << 32); p += SWEEP_STEP) {
            check(name, codec, reference, nanCheck, (int) p);
            n++;
        }
        check(name, codec, reference, nanCheck, -1);
        return n + 1;
    }

    private static void check(String name, Codec codec, java.util.function.IntUnaryOperator reference,
                              java.util.function.IntPredicate nanCheck, int bits) {
        float x = Float.intBitsToFloat(bits);
        int got = codec.encode(x);
        if (Float.isNaN(x)) {
            if (!nanCheck.test(got)) {
                fail(name + ": NaN input 0x" + Integer.toHexString(bits) + " gave code 0x" + Integer.toHexString(got));
            }
            return;
        }
        int want = reference.applyAsInt(bits);
        if (got != want) {
            fail(name + ": encode(" + x + " = 0x" + Integer.toHexString(bits) + ") expected 0x"
                    + Integer.toHexString(want) + ", got 0x" + Integer.toHexString(got));
        }
    }
}

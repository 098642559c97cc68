package io.github.ds4j.internal.cpu;

import io.github.ds4j.format.E4M3;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Vector API kernels of the block quantizers (spec §2) on one f32 row. The E4M3 and E2M1
 * rounding is done on the f32 bit patterns with integer lanes, so codes, scales and simulated
 * values equal {@link ScalarOps}'s bit for bit. Loaded only when {@link CpuPath#simd()}.
 */
final class QuantSimd {
    private static final VectorSpecies<Float> F = RowsSimd.F;
    private static final VectorSpecies<Integer> I = RowsSimd.I;
    private static final int L = RowsSimd.L;
    /** Bytes with as many lanes as F has floats, or null below 8 lanes (no such byte shape). */
    private static final VectorSpecies<Byte> B = L >= 8 ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;

    private static final int BITS_448 = Float.floatToRawIntBits(E4M3.MAX);
    /** 2^-6, the smallest normal E4M3 magnitude; below it the grid step is 2^-9. */
    private static final int BITS_MIN_NORMAL = 0x3C80_0000;
    /** f32 exponent bias minus E4M3's, in code units (exponent field << 3). */
    private static final int CODE_REBIAS = (127 - 7) << 3;

    private QuantSimd() {
    }

    /** FP8 codes and scale exponents of one row, as {@link ScalarOps#quantizeRow}. */
    static void quantizeRow(float[] row, int cols, int block, byte[] codes, int[] exps) {
        for (int b = 0, from = 0; from < cols; b++, from += block) {
            int to = Math.min(cols, from + block);
            int e = ScalarOps.blockExponent(absMax(row, from, to), false);
            exps[b] = e;
            if (e == ScalarOps.NAN_EXPONENT) {
                Arrays.fill(codes, from, to, E4M3.NAN);
                continue;
            }
            float inv = Math.scalb(1f, -e);
            int c = from;
            if (B != null) {
                for (; c + L <= to; c += L) {
                    IntVector code = e4m3Codes(FloatVector.fromArray(F, row, c).mul(inv));
                    code.convertShape(VectorOperators.I2B, B, 0).reinterpretAsBytes().intoArray(codes, c);
                }
            }
            for (; c < to; c++) {
                codes[c] = E4M3.encodeSaturating(row[c] * inv);
            }
        }
    }

    /** FP8 or FP4 quantize-dequantize of one row in place, as {@link ScalarOps#simulateRow}. */
    static void simulateRow(float[] row, int cols, int block, boolean fp4) {
        for (int from = 0; from < cols; from += block) {
            int to = Math.min(cols, from + block);
            int e = ScalarOps.blockExponent(absMax(row, from, to), fp4);
            if (e == ScalarOps.NAN_EXPONENT) {
                Arrays.fill(row, from, to, Float.NaN);
                continue;
            }
            float s = Math.scalb(1f, e);
            float inv = Math.scalb(1f, -e);
            int c = from;
            for (; c + L <= to; c += L) {
                FloatVector v = FloatVector.fromArray(F, row, c).mul(inv);
                (fp4 ? e2m1Round(v) : e4m3Round(v)).mul(s).intoArray(row, c);
            }
            for (; c < to; c++) {
                float v = row[c] * inv;
                row[c] = (fp4 ? ScalarOps.fp4Round(v) : ScalarOps.fp8Round(v)) * s;
            }
        }
    }

    /**
     * max |row[from..to)|, NaN if any element is NaN: the largest magnitude bit pattern, since
     * non-negative floats (and NaNs above infinity) order like their bits.
     */
    static float absMax(float[] row, int from, int to) {
        int c = from;
        int m = 0;
        if (c + L <= to) {
            IntVector acc = IntVector.zero(I);
            for (; c + L <= to; c += L) {
                acc = acc.max(FloatVector.fromArray(F, row, c).reinterpretAsInts().and(0x7FFF_FFFF));
            }
            m = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; c < to; c++) {
            m = Math.max(m, Float.floatToRawIntBits(row[c]) & 0x7FFF_FFFF);
        }
        return Float.intBitsToFloat(m);
    }

    /** E4M3 codes of finite lanes after clamping to ±448, as {@link E4M3#encodeSaturating}. */
    private static IntVector e4m3Codes(FloatVector v) {
        IntVector bits = v.reinterpretAsInts();
        IntVector sign = bits.lanewise(VectorOperators.LSHR, 24).and(0x80);
        IntVector abs = bits.and(0x7FFF_FFFF).min(BITS_448);
        // normal: round the mantissa to 3 bits, ties to even; a carry moves into the exponent
        IntVector normal = abs.add(0x7FFFF)
                .add(abs.lanewise(VectorOperators.LSHR, 20).and(1))
                .lanewise(VectorOperators.LSHR, 20)
                .sub(CODE_REBIAS);
        // subnormal: the code is rint(|v| * 512), rounded by adding 2^23 (f32 adds round to nearest even)
        IntVector subnormal = abs.reinterpretAsFloats().mul(512f).add(0x1p23f).reinterpretAsInts().sub(0x4B00_0000);
        VectorMask<Integer> tiny = abs.compare(VectorOperators.LT, BITS_MIN_NORMAL);
        return normal.blend(subnormal, tiny).or(sign);
    }

    /** The E4M3 values of finite lanes after clamping to ±448: the codes' values without forming codes. */
    private static FloatVector e4m3Round(FloatVector v) {
        IntVector bits = v.reinterpretAsInts();
        IntVector sign = bits.and(0x8000_0000);
        IntVector abs = bits.and(0x7FFF_FFFF).min(BITS_448);
        IntVector normal = abs.add(0x7FFFF).add(abs.lanewise(VectorOperators.LSHR, 20).and(1)).and(0xFFF0_0000);
        // below 2^-6 the grid step is 2^-9, the ulp of 2^14: adding and removing 2^14 rounds to it
        IntVector subnormal = abs.reinterpretAsFloats().add(0x1p14f).sub(0x1p14f).reinterpretAsInts();
        VectorMask<Integer> tiny = abs.compare(VectorOperators.LT, BITS_MIN_NORMAL);
        return normal.blend(subnormal, tiny).or(sign).reinterpretAsFloats();
    }

    /**
     * The E2M1 values of finite lanes after clamping to ±6: the magnitude steps up at each
     * midpoint, which belongs to the even code (0.25, 1.25, 2.5, 5 round down; 0.75, 1.75, 3.5 up).
     */
    private static FloatVector e2m1Round(FloatVector v) {
        IntVector bits = v.reinterpretAsInts();
        IntVector sign = bits.and(0x8000_0000);
        FloatVector a = bits.and(0x7FFF_FFFF).reinterpretAsFloats();
        FloatVector m = FloatVector.zero(F)
                .blend(0.5f, a.compare(VectorOperators.GT, 0.25f))
                .blend(1f, a.compare(VectorOperators.GE, 0.75f))
                .blend(1.5f, a.compare(VectorOperators.GT, 1.25f))
                .blend(2f, a.compare(VectorOperators.GE, 1.75f))
                .blend(3f, a.compare(VectorOperators.GT, 2.5f))
                .blend(4f, a.compare(VectorOperators.GE, 3.5f))
                .blend(6f, a.compare(VectorOperators.GT, 5f));
        return m.reinterpretAsInts().or(sign).reinterpretAsFloats();
    }
}

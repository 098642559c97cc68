package io.github.ds4j.internal.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Vector API kernels of mHC ({@link CpuHyperConnectionKernels}). The mixing logits: dot products
 * of a token's f32 streams with rows of fn, accumulated in f64 lanes as the reference accumulates
 * them (a product of two f32 is exact in f64, so only the order of the sum differs). The weighted
 * sum of the streams and the post update: lane by lane in the reference's order, so the same bits.
 * Loaded only when {@link CpuPath#simd()}.
 */
final class HcSimd {
    static final VectorSpecies<Float> F = RowsSimd.F;
    static final int L = RowsSimd.L;
    /** Doubles per vector of the same bit size: half of L. */
    private static final VectorSpecies<Double> D = VectorSpecies.of(double.class, VectorShape.forBitSize(F.vectorBitSize()));

    private HcSimd() {
    }

    /**
     * x · fn[row] in f64 for the F32 row {@code row} of fn (little-endian, {@code rowBytes} apart
     * from byte {@code fnAt}); {@code n} values. The lanes are summed in index order.
     */
    static double dot(double[] x, MemorySegment fn, long fnAt, int n) {
        DoubleVector acc0 = DoubleVector.zero(D);
        DoubleVector acc1 = acc0;
        int c = 0;
        for (int bound = F.loopBound(n); c < bound; c += L) {
            FloatVector w = FloatVector.fromMemorySegment(F, fn, fnAt + 4L * c, ByteOrder.LITTLE_ENDIAN);
            DoubleVector w0 = (DoubleVector) w.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector w1 = (DoubleVector) w.convertShape(VectorOperators.F2D, D, 1);
            acc0 = w0.fma(DoubleVector.fromArray(D, x, c), acc0);
            acc1 = w1.fma(DoubleVector.fromArray(D, x, c + D.length()), acc1);
        }
        double[] lanes = new double[2 * D.length()];
        acc0.intoArray(lanes, 0);
        acc1.intoArray(lanes, D.length());
        double sum = 0;
        for (double v : lanes) {
            sum += v;
        }
        for (; c < n; c++) {
            sum += x[c] * (double) fn.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, fnAt + 4L * c);
        }
        return sum;
    }

    /** acc = w * row (first) or acc + w * row, lane by lane: the reference's arithmetic. */
    static void weightedAdd(float[] acc, float[] row, float w, boolean first, int d) {
        int c = 0;
        for (int bound = F.loopBound(d); c < bound; c += L) {
            FloatVector v = FloatVector.fromArray(F, row, c).mul(w);
            (first ? v : FloatVector.fromArray(F, acc, c).add(v)).intoArray(acc, c);
        }
        for (; c < d; c++) {
            acc[c] = first ? w * row[c] : acc[c] + w * row[c];
        }
    }

    /**
     * acc = post * o + sum_i weights[i] * streams[i], the sum from 0 over i in order, products
     * and sums rounded one by one, lane by lane: the reference's bits.
     */
    static void postRow(float[] o, float post, float[][] streams, float[] weights, float[] acc, int d) {
        int c = 0;
        for (int bound = F.loopBound(d); c < bound; c += L) {
            FloatVector mixed = FloatVector.zero(F);
            for (int i = 0; i < streams.length; i++) {
                mixed = mixed.add(FloatVector.fromArray(F, streams[i], c).mul(weights[i]));
            }
            FloatVector.fromArray(F, o, c).mul(post).add(mixed).intoArray(acc, c);
        }
        for (; c < d; c++) {
            float mixed = 0;
            for (int i = 0; i < streams.length; i++) {
                mixed += weights[i] * streams[i][c];
            }
            acc[c] = post * o[c] + mixed;
        }
    }
}

package io.github.ds4j.internal.cpu;

import io.github.ds4j.Tensor;

/**
 * Fast paths of the block quantizers: rows split over all cores, each row through
 * {@link QuantSimd} when {@code simd} is true (only when {@link CpuPath#simd()}), else through
 * the scalar row kernels of {@link ScalarOps}. Both give the scalar reference's bits.
 */
final class Quant {
    private Quant() {
    }

    static void quantizeActivations(Tensor x, Tensor q, Tensor scales, int block, boolean simd) {
        RowAccess in = new RowAccess(x);
        ScalarOps.QuantizedRows out = new ScalarOps.QuantizedRows(q, scales);
        int cols = in.cols;
        int blocks = ScalarOps.blockCount(cols, block);
        Parallel.forRange(in.rows, Rows.grain(cols, Rows.LIGHT), (from, to) -> {
            float[] row = new float[cols];
            byte[] codes = new byte[cols];
            int[] exps = new int[blocks];
            for (long r = from; r < to; r++) {
                if (simd) {
                    RowsSimd.read(in, r, row);
                    QuantSimd.quantizeRow(row, cols, block, codes, exps);
                } else {
                    in.read(r, row);
                    ScalarOps.quantizeRow(row, cols, block, codes, exps);
                }
                out.write(r, codes, exps);
            }
        });
    }

    static void fp8Simulate(Tensor x, Tensor y, int block, boolean simd) {
        simulate(x, y, block, false, simd);
    }

    static void fp4Simulate(Tensor x, Tensor y, int block, boolean simd) {
        simulate(x, y, block, true, simd);
    }

    private static void simulate(Tensor x, Tensor y, int block, boolean fp4, boolean simd) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        int cols = in.cols;
        Parallel.forRange(in.rows, Rows.grain(cols, Rows.LIGHT), (from, to) -> {
            float[] row = new float[cols];
            for (long r = from; r < to; r++) {
                if (simd) {
                    RowsSimd.read(in, r, row);
                    QuantSimd.simulateRow(row, cols, block, fp4);
                    RowsSimd.write(out, r, row);
                } else {
                    in.read(r, row);
                    ScalarOps.simulateRow(row, cols, block, fp4);
                    out.write(r, row);
                }
            }
        });
    }
}

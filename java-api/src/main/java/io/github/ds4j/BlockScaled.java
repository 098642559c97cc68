package io.github.ds4j;

/**
 * A block-scaled quantized tensor: the quantized values and their scales travel together.
 * Element (r, c) means {@code values[r, c] * scales[r / blockRows, c / blockCols]}.
 * <ul>
 *   <li>FP8 weights: E4M3 [out, in], 128x128 blocks, UE8M0 scales [ceil(out/128), ceil(in/128)];</li>
 *   <li>FP8 activations: E4M3 [..., K], 1x128 (or 1x64) blocks, scales [..., ceil(K/block)];</li>
 *   <li>MXFP4 weights: FP4_E2M1 [out, in] (packed), 1x32 blocks, UE8M0 scales [out, in/32].</li>
 * </ul>
 * Scales are F8_E8M0 or F32. Closing closes both tensors (which free only what they own).
 */
public record BlockScaled(Tensor values, Tensor scales, int blockRows, int blockCols) implements AutoCloseable {

    public BlockScaled {
        if (values == null || scales == null) {
            throw new IllegalArgumentException((values == null ? "values" : "scales") + ": must not be null");
        }
        values.checkOpen("values");
        scales.checkOpen("scales");
        if (values.dtype() != DType.F8_E4M3 && values.dtype() != DType.FP4_E2M1 && values.dtype() != DType.F8_E5M2) {
            throw new IllegalArgumentException("values: expected F8_E4M3, F8_E5M2 or FP4_E2M1, got " + values.dtype());
        }
        if (scales.dtype() != DType.F8_E8M0 && scales.dtype() != DType.F32) {
            throw new IllegalArgumentException("scales: expected F8_E8M0 or F32, got " + scales.dtype());
        }
        if (blockRows < 1 || blockCols < 1) {
            throw new IllegalArgumentException("block must be at least 1x1, got " + blockRows + "x" + blockCols);
        }
        if (values.rank() < 1) {
            throw new IllegalArgumentException("values: expected at least one dimension, got " + values.shape());
        }
        Shape expected = expectedScaleShape(values.shape(), blockRows, blockCols);
        if (!scales.shape().equals(expected)) {
            throw new IllegalArgumentException("scales: expected shape " + expected + " for values " + values.shape()
                    + " in " + blockRows + "x" + blockCols + " blocks, got " + scales.shape());
        }
        if (!values.device().equals(scales.device())) {
            throw new IllegalArgumentException("values are on " + values.device() + " but scales on " + scales.device());
        }
    }

    /** FP8 E4M3 weight [out, in] with 128x128 UE8M0 scales, as V4 checkpoints store them. */
    public static BlockScaled fp8Weight(Tensor values, Tensor scales) {
        return new BlockScaled(values, scales, 128, 128);
    }

    /** MXFP4 weight [out, in] (FP4_E2M1; see {@link Tensor#viewAs}) with 1x32 UE8M0 scales. */
    public static BlockScaled mxfp4Weight(Tensor values, Tensor scales) {
        return new BlockScaled(values, scales, 1, 32);
    }

    /** FP8 activations [..., K] with per-row scales over {@code block} columns. */
    public static BlockScaled fp8Activations(Tensor values, Tensor scales, int block) {
        return new BlockScaled(values, scales, 1, block);
    }

    /** The scale shape for values of {@code shape} in blockRows x blockCols blocks. */
    public static Shape expectedScaleShape(Shape shape, int blockRows, int blockCols) {
        if (shape.rank() < 1) {
            throw new IllegalArgumentException("values: expected at least one dimension, got " + shape);
        }
        if (blockRows < 1 || blockCols < 1) {
            throw new IllegalArgumentException("block must be at least 1x1, got " + blockRows + "x" + blockCols);
        }
        long cols = ceilDiv(shape.last(), blockCols);
        if (blockRows == 1) {
            return shape.withLast(cols);
        }
        if (shape.rank() != 2) {
            throw new IllegalArgumentException("values: 2-D blocks need a 2-D tensor, got " + shape);
        }
        return Shape.of(ceilDiv(shape.dim(0), blockRows), cols);
    }

    /** Rows of the values read as a matrix. */
    public long rows() {
        return values.shape().rows();
    }

    /** Columns (the last dimension) of the values. */
    public long cols() {
        return values.shape().last();
    }

    public Device device() {
        return values.device();
    }

    /** All elements dequantized to f32 in row-major order (host or device; copies to the host). */
    public float[] toFloatArray() {
        float[] v = values.toFloatArray();
        float[] s = scales.toFloatArray();
        long cols = cols();
        long scaleCols = scales.shape().last();
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            long r = i / cols;
            long c = i % cols;
            out[i] = v[i] * s[(int) ((r / blockRows) * scaleCols + c / blockCols)];
        }
        return out;
    }

    @Override
    public void close() {
        values.close();
        scales.close();
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}

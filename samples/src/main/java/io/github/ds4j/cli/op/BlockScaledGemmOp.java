package io.github.ds4j.cli.op;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Tensor;
import io.github.ds4j.cli.FlagValues;
import picocli.CommandLine.Option;

import java.util.Map;

/**
 * What {@code op fp8-gemm} and {@code op fp4-gemm} share: {@code --out-dtype}, x [M, K] with K a
 * multiple of 128 (quantized to FP8 with 1x128 UE8M0 scales, as the reference does), a
 * block-scaled weight read from {@code w} and {@code w.scale}, and y [M, N] = x @ w^T.
 */
abstract class BlockScaledGemmOp extends OpBase {
    @Option(names = "--out-dtype", defaultValue = "bf16", paramLabel = "bf16|f32", description = "Dtype of y (default: ${DEFAULT-VALUE}).")
    String outDtype;

    /** The weight for x [M, K]: {@code w} and {@code w.scale}, checked, on the device. */
    protected abstract BlockScaled weight(Inputs in, Tensor x, long k);

    @Override
    protected final Map<String, Tensor> compute(Inputs in, Compute c) {
        DType outType = FlagValues.outDtype(outDtype);
        Tensor x = in.real("x", 1, "[M, K]");
        BlockScaled w = weight(in, x, gemmK(x));
        return Map.of("y", in.own(c.gemm(x, w, outType)));
    }

    /** {@code w} as {@code dtype} [N, cols] on the device; {@code why} says where cols comes from. */
    static Tensor storedWeight(Inputs in, DType dtype, long cols, String why) {
        Tensor w = in.stored("w");
        if (w.dtype() != dtype || w.rank() != 2 || w.dim(1) != cols) {
            throw new IllegalArgumentException("w: expected " + dtype + " [N, " + cols + "] (" + why + "), got " + Inputs.describe(w));
        }
        return in.exact("w", w.shape(), "", dtype);
    }
}

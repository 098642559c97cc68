package io.github.ds4j.cli.op;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;

/** {@code op fp8-gemm}: y = x @ w^T with x quantized to FP8 1x128 and an FP8 128x128 block-scaled weight. */
@Command(name = "fp8-gemm", mixinStandardHelpOptions = true,
        description = {"y [M, N] = x [M, K] @ w^T for w F8_E4M3 [N, K] with w.scale F8_E8M0 [ceil(N/128), ceil(K/128)].",
                "x is first quantized to FP8 with 1x128 UE8M0 scales, as the reference does; K must be a multiple of 128."})
public final class Fp8GemmOp extends BlockScaledGemmOp {
    @Override
    protected String reads() {
        return "x [M, K], w F8_E4M3 [N, K], w.scale F8_E8M0 [ceil(N/128), ceil(K/128)]";
    }

    @Override
    protected BlockScaled weight(Inputs in, Tensor x, long k) {
        Tensor w = storedWeight(in, DType.F8_E4M3, k, "K from x " + x.shape());
        long n = w.dim(0);
        Tensor s = in.exact("w.scale", Shape.of(ceilDiv(n, 128), ceilDiv(k, 128)),
                "(ceil(N/128), ceil(K/128) for w " + w.shape() + ")", DType.F8_E8M0, DType.F32);
        return BlockScaled.fp8Weight(w, s);
    }
}

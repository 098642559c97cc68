package io.github.ds4j.cli.op;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;

/** {@code op fp4-gemm}: y = x @ w^T with x quantized to FP8 1x128 and an MXFP4 weight (1x32 UE8M0 scales). */
@Command(name = "fp4-gemm", mixinStandardHelpOptions = true,
        description = {"y [M, N] = x [M, K] @ w^T for w MXFP4 packed as I8 [N, K/2] (element 2i in the low nibble)",
                "with w.scale F8_E8M0 [N, K/32]. x is first quantized to FP8 with 1x128 UE8M0 scales; K must be a multiple of 128."})
public final class Fp4GemmOp extends BlockScaledGemmOp {
    @Override
    protected String reads() {
        return "x [M, K], w I8 [N, K/2], w.scale F8_E8M0 [N, K/32]";
    }

    @Override
    protected BlockScaled weight(Inputs in, Tensor x, long k) {
        Tensor packed = storedWeight(in, DType.I8, k / 2, "packed FP4, K/2 for x " + x.shape());
        long n = packed.dim(0);
        Tensor s = in.exact("w.scale", Shape.of(n, k / 32), "(N, K/32 for w " + packed.shape() + ")", DType.F8_E8M0, DType.F32);
        return BlockScaled.mxfp4Weight(packed.viewAs(DType.FP4_E2M1, Shape.of(n, k)), s);
    }
}

package io.github.ds4j.cli.op;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Map;

/** {@code op fp8-gemm}: y = x @ w^T with x quantized to FP8 1x128 and an FP8 128x128 block-scaled weight. */
@Command(name = "fp8-gemm", mixinStandardHelpOptions = true,
        description = {"y [M, N] = x [M, K] @ w^T for w F8_E4M3 [N, K] with w.scale F8_E8M0 [ceil(N/128), ceil(K/128)].",
                "x is first quantized to FP8 with 1x128 UE8M0 scales, as the reference does; K must be a multiple of 128."})
public final class Fp8GemmOp extends OpBase {
    @Option(names = "--out-dtype", defaultValue = "bf16", paramLabel = "bf16|f32", description = "Dtype of y (default: ${DEFAULT-VALUE}).")
    String outDtype;

    @Override
    protected String reads() {
        return "x [M, K], w F8_E4M3 [N, K], w.scale F8_E8M0 [ceil(N/128), ceil(K/128)]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        DType outType = outDtype(outDtype);
        Tensor x = in.real("x", 1, "[M, K]");
        long k = gemmK(x);
        Tensor wStored = in.stored("w");
        if (wStored.dtype() != DType.F8_E4M3 || wStored.rank() != 2 || wStored.dim(1) != k) {
            throw new IllegalArgumentException("w: expected F8_E4M3 [N, " + k + "] (K from x " + x.shape() + "), got "
                    + Inputs.describe(wStored));
        }
        long n = wStored.dim(0);
        Tensor w = in.exact("w", wStored.shape(), "", DType.F8_E4M3);
        Tensor s = in.exact("w.scale", Shape.of(ceilDiv(n, 128), ceilDiv(k, 128)),
                "(ceil(N/128), ceil(K/128) for w " + wStored.shape() + ")", DType.F8_E8M0, DType.F32);
        return Map.of("y", in.own(c.gemm(x, BlockScaled.fp8Weight(w, s), outType)));
    }
}

package io.github.ds4j.cli.op;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Map;

/** {@code op fp4-gemm}: y = x @ w^T with x quantized to FP8 1x128 and an MXFP4 weight (1x32 UE8M0 scales). */
@Command(name = "fp4-gemm", mixinStandardHelpOptions = true,
        description = {"y [M, N] = x [M, K] @ w^T for w MXFP4 packed as I8 [N, K/2] (element 2i in the low nibble)",
                "with w.scale F8_E8M0 [N, K/32]. x is first quantized to FP8 with 1x128 UE8M0 scales; K must be a multiple of 128."})
public final class Fp4GemmOp extends OpBase {
    @Option(names = "--out-dtype", defaultValue = "bf16", paramLabel = "bf16|f32", description = "Dtype of y (default: ${DEFAULT-VALUE}).")
    String outDtype;

    @Override
    protected String reads() {
        return "x [M, K], w I8 [N, K/2], w.scale F8_E8M0 [N, K/32]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        DType outType = outDtype(outDtype);
        Tensor x = in.real("x", 1, "[M, K]");
        long k = gemmK(x);
        Tensor wStored = in.stored("w");
        if (wStored.dtype() != DType.I8 || wStored.rank() != 2 || wStored.dim(1) != k / 2) {
            throw new IllegalArgumentException("w: expected I8 [N, " + k / 2 + "] (packed FP4, K/2 for x " + x.shape() + "), got "
                    + Inputs.describe(wStored));
        }
        long n = wStored.dim(0);
        Tensor packed = in.exact("w", wStored.shape(), "", DType.I8);
        Tensor s = in.exact("w.scale", Shape.of(n, k / 32), "(N, K/32 for w " + wStored.shape() + ")", DType.F8_E8M0, DType.F32);
        Tensor w = packed.viewAs(DType.FP4_E2M1, Shape.of(n, k));
        return Map.of("y", in.own(c.gemm(x, BlockScaled.mxfp4Weight(w, s), outType)));
    }
}

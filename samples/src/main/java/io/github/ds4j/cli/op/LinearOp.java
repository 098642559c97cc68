package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Tensor;
import io.github.ds4j.cli.FlagValues;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Map;

/** {@code op linear}: y = x @ w^T for a real (BF16/F32) weight, f32 accumulation. */
@Command(name = "linear", mixinStandardHelpOptions = true,
        description = "y [M, N] = x [M, K] @ w^T for w BF16/F32/F16 [N, K], accumulated in f32.")
public final class LinearOp extends OpBase {
    @Option(names = "--out-dtype", defaultValue = "bf16", paramLabel = "bf16|f32", description = "Dtype of y (default: ${DEFAULT-VALUE}).")
    String outDtype;

    @Override
    protected String reads() {
        return "x [M, K], w [N, K]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        DType outType = FlagValues.outDtype(outDtype);
        Tensor x = in.real("x", 1, "[M, K]");
        Tensor w = in.real("w", 2, "[N, K]");
        if (w.rank() != 2 || w.dim(1) != x.dim(-1)) {
            throw new IllegalArgumentException("w: expected [N, " + x.dim(-1) + "] (K from x " + x.shape() + "), got "
                    + in.storedDtype("w") + " " + w.shape());
        }
        return Map.of("y", in.own(c.linear(x, w, outType)));
    }
}

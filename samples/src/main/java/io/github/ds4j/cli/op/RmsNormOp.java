package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Map;

/** {@code op rmsnorm}: y = x * rsqrt(mean(x^2) + eps) * weight over the last dimension, in f32. */
@Command(name = "rmsnorm", mixinStandardHelpOptions = true,
        description = "y = x * rsqrt(mean(x^2) + eps) * weight over the last dimension (computed in f32); y has x's dtype.")
public final class RmsNormOp extends OpBase {
    @Option(names = "--eps", defaultValue = "1e-6", description = "Added to the mean square (default: ${DEFAULT-VALUE}).")
    float eps;

    @Override
    protected String reads() {
        return "x [M, D], weight [D]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("--eps: must be finite and >= 0, got " + eps);
        }
        Tensor x = in.real("x", 1, "[M, D]");
        Tensor w = in.real("weight", Shape.of(x.dim(-1)), "(D of x " + x.shape() + ")");
        return Map.of("y", in.asStored("x", in.own(c.rmsNorm(x, w, eps))));
    }
}

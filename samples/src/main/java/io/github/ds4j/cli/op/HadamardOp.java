package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;

import java.util.Map;

/** {@code op hadamard}: the normalized Walsh-Hadamard transform over the last dimension. */
@Command(name = "hadamard", mixinStandardHelpOptions = true,
        description = "Normalized Walsh-Hadamard transform (scale d^-0.5) of each row of x [M, d], d a power of two; y has x's dtype.")
public final class HadamardOp extends OpBase {
    @Override
    protected String reads() {
        return "x [M, d]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        Tensor x = in.real("x", 1, "[M, d]");
        long d = x.dim(-1);
        if (d < 1 || (d & (d - 1)) != 0) {
            throw new IllegalArgumentException("x: expected [M, d] with d a power of two, got d = " + d + " in " + x.shape());
        }
        return Map.of("y", in.asStored("x", in.own(c.hadamard(x))));
    }
}

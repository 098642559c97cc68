package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Map;

/** {@code op swiglu}: y = silu(min(gate, limit)) * clamp(up, -limit, limit). */
@Command(name = "swiglu", mixinStandardHelpOptions = true,
        description = "y = silu(min(gate, limit)) * clamp(up, -limit, limit) for gate, up [M, F]; y has gate's dtype.")
public final class SwigluOp extends OpBase {
    @Option(names = "--limit", defaultValue = "10", description = "Clamp limit, 0 = no clamp (default: ${DEFAULT-VALUE}).")
    float limit;

    @Override
    protected String reads() {
        return "gate [M, F], up [M, F]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        if (!(limit >= 0) || Float.isInfinite(limit)) {
            throw new IllegalArgumentException("--limit: must be finite and >= 0, got " + limit);
        }
        Tensor gate = in.real("gate", 1, "[M, F]");
        Tensor up = in.real("up", gate.shape(), "(the shape of gate)");
        return Map.of("y", in.asStored("gate", in.own(c.swiglu(gate, up, limit))));
    }
}

package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Map;

/** {@code op fp4-sim}: FP4 (E2M1) quantize-dequantize (spec §2). */
@Command(name = "fp4-sim", mixinStandardHelpOptions = true,
        description = "FP4 E2M1 quantize-dequantize over blocks of columns: y = e2m1(clamp(x / s, -6, 6)) * s, y has x's dtype.")
public final class Fp4SimOp extends OpBase {
    @Option(names = "--block", defaultValue = "32", description = "Columns per scale (default: ${DEFAULT-VALUE}).")
    int block;

    @Override
    protected String reads() {
        return "x [M, K]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        Tensor x = in.real("x", 1, "[M, K]");
        block("--block", block, "x", x);
        return Map.of("y", in.asStored("x", in.own(c.fp4Simulate(x, block))));
    }
}

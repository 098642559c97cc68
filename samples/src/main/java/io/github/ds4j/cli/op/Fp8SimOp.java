package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Map;

/** {@code op fp8-sim}: FP8 quantize-dequantize (the reference's QAT simulation, spec §2). */
@Command(name = "fp8-sim", mixinStandardHelpOptions = true,
        description = "FP8 quantize-dequantize over blocks of columns: y = e4m3(x / s) * s, y has x's dtype.")
public final class Fp8SimOp extends OpBase {
    @Option(names = "--block", defaultValue = "64", description = "Columns per scale (default: ${DEFAULT-VALUE}).")
    int block;

    @Override
    protected String reads() {
        return "x [M, K]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        Tensor x = in.real("x", 1, "[M, K]");
        block("--block", block, "x", x);
        return Map.of("y", in.asStored("x", in.own(c.fp8Simulate(x, block))));
    }
}

package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code op fp8-sim}: FP8 quantize-dequantize (the reference's QAT simulation, spec §2). */
@Command(name = "fp8-sim", mixinStandardHelpOptions = true,
        description = "FP8 quantize-dequantize over blocks of columns: y = e4m3(x / s) * s, y has x's dtype.")
public final class Fp8SimOp extends QuantSimulationOp {
    @Option(names = "--block", defaultValue = "64", description = "Columns per scale (default: ${DEFAULT-VALUE}).")
    int block;

    @Override
    protected int block() {
        return block;
    }

    @Override
    protected Tensor simulate(Compute c, Tensor x, int block) {
        return c.fp8Simulate(x, block);
    }
}

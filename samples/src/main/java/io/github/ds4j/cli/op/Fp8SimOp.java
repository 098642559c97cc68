package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;

/** {@code op fp8-sim}: FP8 quantize-dequantize (the reference's QAT simulation, spec §2). */
@Command(name = "fp8-sim", mixinStandardHelpOptions = true,
        description = "FP8 quantize-dequantize over blocks of columns: y = e4m3(x / s) * s, y has x's dtype.")
public final class Fp8SimOp extends QuantSimulationOp {
    public Fp8SimOp() {
        super(64);
    }

    @Override
    protected Tensor simulate(Compute c, Tensor x, int block) {
        return c.fp8Simulate(x, block);
    }
}

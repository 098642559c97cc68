package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;

/** {@code op fp4-sim}: FP4 (E2M1) quantize-dequantize (spec §2). */
@Command(name = "fp4-sim", mixinStandardHelpOptions = true,
        description = "FP4 E2M1 quantize-dequantize over blocks of columns: y = e2m1(clamp(x / s, -6, 6)) * s, y has x's dtype.")
public final class Fp4SimOp extends QuantSimulationOp {
    public Fp4SimOp() {
        super(32);
    }

    @Override
    protected Tensor simulate(Compute c, Tensor x, int block) {
        return c.fp4Simulate(x, block);
    }
}

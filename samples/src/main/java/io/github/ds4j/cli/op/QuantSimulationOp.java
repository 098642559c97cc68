package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Option;

import java.util.Map;

/**
 * What {@code op fp8-sim} and {@code op fp4-sim} share: x [M, K] quantized and dequantized per
 * {@code --block} columns (each op has its own default block), y in x's stored dtype.
 */
abstract class QuantSimulationOp extends OpBase {
    // picocli takes the value the subclass puts here as the default
    @Option(names = "--block", description = "Columns per scale (default: ${DEFAULT-VALUE}).")
    int block;

    protected QuantSimulationOp(int defaultBlock) {
        this.block = defaultBlock;
    }

    /** The quantize-dequantize of x on c. */
    protected abstract Tensor simulate(Compute c, Tensor x, int block);

    @Override
    protected final String reads() {
        return "x [M, K]";
    }

    @Override
    protected final Map<String, Tensor> compute(Inputs in, Compute c) {
        Tensor x = in.real("x", 1, "[M, K]");
        int b = block("--block", block, "x", x);
        return Map.of("y", in.asStored("x", in.own(simulate(c, x, b))));
    }
}

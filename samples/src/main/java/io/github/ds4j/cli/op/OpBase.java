package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.Tensor;
import io.github.ds4j.cli.DeviceOption;
import io.github.ds4j.safetensors.SafeTensors;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * What every {@code ds4j op NAME} shares: {@code --input}, {@code --output}, {@code --device},
 * reading and checking inputs, running on the device, writing the outputs atomically (nothing is
 * written when anything fails) and the closing {@code ok:} line. An op implements
 * {@link #compute}.
 */
public abstract class OpBase implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--input", required = true, paramLabel = "IN.safetensors", description = "Input tensors.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "OUT.safetensors", description = "Where the outputs are written.")
    Path output;

    @Mixin
    DeviceOption device;

    /** The inputs this op reads, for messages: "x [M, K], weight [D]". */
    protected abstract String reads();

    /**
     * Checks the inputs, runs the op on {@code c} and returns the outputs in file order. Every
     * tensor the op allocates is handed to {@link Inputs#own}, which closes it.
     */
    protected abstract Map<String, Tensor> compute(Inputs in, Compute c);

    @Override
    public final Integer call() {
        String op = spec.name();
        PrintWriter out = spec.commandLine().getOut();
        try (SafeTensors file = SafeTensors.open(input);
             Compute c = device.open();
             Inputs in = new Inputs(file, op, reads(), c)) {
            long t0 = System.nanoTime();
            Map<String, Tensor> outs = compute(in, c);
            c.synchronize();
            double ms = (System.nanoTime() - t0) / 1e6;
            SafeTensors.write(output, outs, Map.of("ds4j.op", op, "ds4j.device", c.device().toString()));
            StringBuilder what = new StringBuilder();
            for (Map.Entry<String, Tensor> e : outs.entrySet()) {
                out.println(e.getKey() + ": " + Inputs.describe(e.getValue()));
                what.append(what.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(Inputs.describe(e.getValue()));
            }
            out.println(String.format(Locale.ROOT, "ok: op %s on %s (%.1f ms): wrote %s to %s", op, c.device(), ms, what, output));
            return 0;
        }
    }

    /** A block size flag: positive and dividing {@code cols} of input {@code name}. */
    static int block(String flag, int block, String name, Tensor x) {
        if (block <= 0) {
            throw new IllegalArgumentException(flag + ": must be positive, got " + block);
        }
        if (x.dim(-1) % block != 0) {
            throw new IllegalArgumentException(name + ": the last dimension of " + x.shape() + " is not a multiple of " + flag + " " + block);
        }
        return block;
    }

    /** The activation block of FP8/FP4 GEMMs: K must be a multiple of 128. */
    static long gemmK(Tensor x) {
        long k = x.dim(-1);
        if (k % 128 != 0) {
            throw new IllegalArgumentException("x: K = " + k + " (last dimension of " + x.shape()
                    + ") must be a multiple of 128: activations are quantized in 1x128 blocks");
        }
        return k;
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}

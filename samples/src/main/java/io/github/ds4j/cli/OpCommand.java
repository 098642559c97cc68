package io.github.ds4j.cli;

import io.github.ds4j.cli.op.ActQuantOp;
import io.github.ds4j.cli.op.Fp4GemmOp;
import io.github.ds4j.cli.op.Fp4SimOp;
import io.github.ds4j.cli.op.Fp8GemmOp;
import io.github.ds4j.cli.op.Fp8SimOp;
import io.github.ds4j.cli.op.HadamardOp;
import io.github.ds4j.cli.op.LinearOp;
import io.github.ds4j.cli.op.RmsNormOp;
import io.github.ds4j.cli.op.RopeOp;
import io.github.ds4j.cli.op.SwigluOp;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code ds4j op NAME --input IN --output OUT [flags]}: one op on tensors from a safetensors file,
 * outputs to another (cli.md). Each op is one class in {@code io.github.ds4j.cli.op}.
 */
@Command(name = "op", mixinStandardHelpOptions = true,
        description = "Run one op: read its inputs by name from --input, write its outputs to --output.",
        subcommands = {ActQuantOp.class, Fp8SimOp.class, Fp4SimOp.class, Fp8GemmOp.class, Fp4GemmOp.class,
                LinearOp.class, RmsNormOp.class, RopeOp.class, HadamardOp.class, SwigluOp.class})
public final class OpCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "no op given: expected one of "
                + String.join(", ", spec.subcommands().keySet()));
    }
}

package io.github.ds4j.cli;

import io.github.ds4j.internal.checkpoint.CheckpointGenerator;
import io.github.ds4j.v4.V4Config;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code ds4j make-checkpoint}: a V4 checkpoint with random weights in the shipped layout. */
@Command(name = "make-checkpoint", mixinStandardHelpOptions = true,
        description = "Write a checkpoint with random weights in the shipped V4 layout and dtypes "
                + "(FP8 + UE8M0 scales, packed MXFP4 experts, BF16/F32 elsewhere), sharded with an index.")
public final class MakeCheckpointCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--preset", required = true, paramLabel = "P",
            description = "tiny (for tests: every path at small sizes), flash or pro.")
    String preset;

    @Option(names = "--layers", paramLabel = "N",
            description = "Number of decoder layers to write (default: all of the preset's).")
    Integer layers;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (created if needed).")
    Path out;

    @Override
    public Integer call() {
        V4Config config = V4Config.preset(preset);
        config = CheckpointGenerator.withLayers(config, layers == null ? config.numLayers() : layers);
        long start = System.nanoTime();
        var err = spec.commandLine().getErr();
        new CheckpointGenerator(config, seed, line -> {
            err.println(line);
            err.flush();
        }).write(out);
        double s = (System.nanoTime() - start) / 1e9;
        spec.commandLine().getOut().printf("ok: make-checkpoint: %s preset, %d layer%s, seed %d, written to %s in %.1f s%n",
                preset, config.numLayers(), config.numLayers() == 1 ? "" : "s", seed, out, s);
        return 0;
    }
}

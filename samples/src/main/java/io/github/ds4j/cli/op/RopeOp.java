package io.github.ds4j.cli.op;

import io.github.ds4j.Compute;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Map;

/** {@code op rope}: interleaved rotary embedding (spec §6) over the whole last dimension. */
@Command(name = "rope", mixinStandardHelpOptions = true,
        description = {"Interleaved RoPE over x [S, ..., R] (R = the rope dims, even): pair (2i, 2i+1) of row s rotates",
                "by (P + s) * f_i, f_i = base^(-2i/R), optionally stretched by YaRN; --inverse rotates back. y has x's dtype."})
public final class RopeOp extends OpBase {
    @Option(names = "--start-pos", defaultValue = "0", paramLabel = "P", description = "Position of row 0 (default: ${DEFAULT-VALUE}).")
    long startPos;

    @Option(names = "--base", defaultValue = "10000", paramLabel = "B",
            description = "Frequency base (default: ${DEFAULT-VALUE}; V4 compressed layers use 160000).")
    double base;

    @Option(names = "--yarn", paramLabel = "factor,orig,beta_fast,beta_slow",
            description = "YaRN stretching, e.g. 16,65536,32,1 (omit: no YaRN).")
    String yarn;

    @Option(names = "--inverse", description = "Apply the inverse (conjugate) rotation.")
    boolean inverse;

    @Override
    protected String reads() {
        return "x [S, ..., R]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        RopeSpec.Yarn y = yarn == null ? null : parseYarn(yarn);
        if (startPos < 0) {
            throw new IllegalArgumentException("--start-pos: must be >= 0, got " + startPos);
        }
        if (!(base > 1) || Double.isInfinite(base)) {
            throw new IllegalArgumentException("--base: must be finite and > 1, got " + base);
        }
        Tensor x = in.real("x", 2, "[S, ..., R]");
        long r = x.dim(-1);
        if (r % 2 != 0) {
            throw new IllegalArgumentException("x: the rope dims R (last dimension of " + x.shape() + ") must be even");
        }
        RopeSpec spec = new RopeSpec(Math.toIntExact(r), base, y);
        Tensor out = inverse ? c.inverseRope(x, spec, startPos) : c.rope(x, spec, startPos);
        return Map.of("y", in.asStored("x", in.own(out)));
    }

    static RopeSpec.Yarn parseYarn(String s) {
        String[] p = s.split(",");
        if (p.length != 4) {
            throw new IllegalArgumentException("--yarn: expected factor,orig,beta_fast,beta_slow (e.g. 16,65536,32,1), got \"" + s + "\"");
        }
        try {
            return new RopeSpec.Yarn(Double.parseDouble(p[0].trim()), Long.parseLong(p[1].trim()),
                    Double.parseDouble(p[2].trim()), Double.parseDouble(p[3].trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--yarn: expected numbers factor,orig,beta_fast,beta_slow (orig an integer), got \"" + s + "\"");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--yarn: " + e.getMessage());
        }
    }
}

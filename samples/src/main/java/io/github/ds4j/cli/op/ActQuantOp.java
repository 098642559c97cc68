package io.github.ds4j.cli.op;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** {@code op act-quant}: FP8 activation quantization with power-of-two block scales (spec §2). */
@Command(name = "act-quant", mixinStandardHelpOptions = true,
        description = {"FP8 activation quantization per row and block: x [M, K] -> q F8_E4M3 [M, K], s [M, K/block].",
                "s = 2^ceil(log2(max(amax, 1e-4) / 448)), q = e4m3(clamp(x / s, -448, 448))."})
public final class ActQuantOp extends OpBase {
    @Option(names = "--block", defaultValue = "128", description = "Columns per scale (default: ${DEFAULT-VALUE}).")
    int block;

    @Option(names = "--scale", defaultValue = "ue8m0", paramLabel = "ue8m0|f32",
            description = "Scale dtype: ue8m0 (F8_E8M0) or f32 (default: ${DEFAULT-VALUE}); both hold the same power of two.")
    String scale;

    @Override
    protected String reads() {
        return "x [M, K]";
    }

    @Override
    protected Map<String, Tensor> compute(Inputs in, Compute c) {
        DType scaleType = switch (scale.trim().toLowerCase(Locale.ROOT)) {
            case "ue8m0", "e8m0", "f8_e8m0" -> DType.F8_E8M0;
            case "f32" -> DType.F32;
            default -> throw new IllegalArgumentException("--scale: expected ue8m0 or f32, got \"" + scale + "\"");
        };
        Tensor x = in.real("x", 1, "[M, K]");
        block("--block", block, "x", x);
        BlockScaled q = c.quantizeActivations(x, block, scaleType);
        in.own(q.values());
        in.own(q.scales());
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("q", q.values());
        out.put("s", q.scales());
        return out;
    }
}

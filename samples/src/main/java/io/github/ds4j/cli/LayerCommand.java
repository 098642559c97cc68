package io.github.ds4j.cli;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.safetensors.SafeTensors;
import io.github.ds4j.v4.Attention;
import io.github.ds4j.v4.Block;
import io.github.ds4j.v4.Checkpoint;
import io.github.ds4j.v4.KvCache;
import io.github.ds4j.v4.Moe;
import io.github.ds4j.v4.V4Config;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code ds4j layer}: one part of one layer of a V4 checkpoint on tensors from a safetensors file
 * (cli.md). Only that layer's tensors are read (the checkpoint is memory-mapped). The layer
 * computes in the dtype of x (BF16 as the reference does, or F32; F16 is widened to F32), and y is
 * converted to {@code --out-dtype} at the end.
 */
@Command(name = "layer", mixinStandardHelpOptions = true,
        description = {"Run one layer of a V4 checkpoint on x from --input and write y to --output.",
                "attn: x [B, S, D] (the attention module's input), optional input_ids [B, S]  ->  y [B, S, D]",
                "ffn:  x [B, S, D] (the MoE module's input), input_ids I64/I32 [B, S] (hash layers need them)  ->  y [B, S, D]",
                "block: x [B, S, hc, D] (the residual streams), input_ids [B, S]  ->  y [B, S, hc, D]",
                "x may be F32, BF16 or F16; the layer computes in x's dtype (F16 as F32)."})
public final class LayerCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
            description = "Checkpoint folder: config.json and *.safetensors (one file or shards, with or without an index).")
    Path checkpoint;

    @Option(names = "--layer", required = true, paramLabel = "N",
            description = "Layer index, 0-based; num_hidden_layers is the MTP block when the checkpoint has one.")
    int layer;

    @Option(names = "--part", required = true, paramLabel = "attn|ffn|block", description = "Which part of the layer to run.")
    String part;

    @Option(names = "--input", required = true, paramLabel = "IN.safetensors", description = "Holds x and input_ids.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "OUT.safetensors", description = "Where y is written.")
    Path output;

    @Option(names = "--start-pos", defaultValue = "0", paramLabel = "P",
            description = {"Position of the first token (default: ${DEFAULT-VALUE}). The sequences begin at P: earlier "
                    + "positions are absent, not zeros. The window holds none of them, compressed entries that end before P do "
                    + "not exist, and the entry whose block contains P pools only the tokens from P on. attn and block only."})
    long startPos;

    @Option(names = "--decode-steps", defaultValue = "0", paramLabel = "K",
            description = "Prefill the first S-K tokens in one call, then feed the last K one at a time through the KV cache, "
                    + "as generation does; y holds all S rows (default: ${DEFAULT-VALUE}).")
    int decodeSteps;

    @Option(names = "--kv-cache", defaultValue = "bf16", paramLabel = "bf16|fp8",
            description = "How the KV cache stores attention rows: bf16 rows, or the 584-byte FP8 layout of the spec (default: ${DEFAULT-VALUE}).")
    String kvCache;

    @Option(names = "--out-dtype", defaultValue = "f32", paramLabel = "bf16|f32", description = "Dtype of y (default: ${DEFAULT-VALUE}).")
    String outDtype;

    @Mixin
    DeviceOption device;

    /** The part of a layer to run. */
    enum Part {
        ATTN, FFN, BLOCK;

        static Part parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "attn" -> ATTN;
                case "ffn" -> FFN;
                case "block" -> BLOCK;
                default -> throw new IllegalArgumentException("--part: expected attn, ffn or block, got \"" + s + "\"");
            };
        }

        String flag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** One call of the layer on a chunk of tokens [B, n, ...] (ids [B, n] or null); returns y like x. */
    private interface Step {
        Tensor run(Tensor x, Tensor ids);
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Part p = Part.parse(part);
        KvCache.Format format = FlagValues.kvCache(kvCache);
        DType outType = FlagValues.outDtype(outDtype);
        if (startPos < 0) {
            throw new IllegalArgumentException("--start-pos: must be >= 0, got " + startPos);
        }
        if (decodeSteps < 0) {
            throw new IllegalArgumentException("--decode-steps: must be >= 0, got " + decodeSteps);
        }
        long t0 = System.nanoTime();
        try (Checkpoint ckpt = Checkpoint.open(checkpoint, spec.commandLine().getErr());
             SafeTensors file = SafeTensors.open(input)) {
            V4Config config = ckpt.config();
            checkLayer(config, layer);
            boolean hash = config.isHashLayer(layer);
            Tensor x = readX(file, p, config);
            long batch = x.dim(0);
            long seq = x.dim(1);
            Tensor ids = readIds(file, p, batch, seq, hash && p != Part.ATTN, config);
            if (decodeSteps > seq) {
                throw new IllegalArgumentException("--decode-steps: " + decodeSteps + " is more than the " + seq + " tokens of x");
            }
            try (Compute c = openForLayers(device, err);
                 Tensors owned = new Tensors()) {
                if (x.dtype() == DType.F16) {
                    x = owned.keep(Tensor.fromFloats(x.toFloatArray(), DType.F32, x.shape()));
                }
                out.printf(Locale.ROOT, "layer %d (%s) of %s, part %s, on %s%n", layer, describe(config, layer), checkpoint, p.flag(), c.device());
                out.printf(Locale.ROOT, "x: %s %s%s%n", file.dtype("x"), x.shape(),
                        ids == null ? "" : ", input_ids: " + ids.dtype() + " " + ids.shape());
                long loadStart = System.nanoTime();
                try (Loaded loaded = load(p, c, ckpt, config, Math.toIntExact(batch), seq, format)) {
                    double loadMs = (System.nanoTime() - loadStart) / 1e6;
                    Run r = run(loaded.step(), c, x, ids, decodeSteps, owned);
                    Tensor y = owned.keep(Tensor.fromFloats(r.values(), outType, x.shape()));
                    Map<String, String> meta = new LinkedHashMap<>();
                    meta.put("ds4j.layer", Integer.toString(layer));
                    meta.put("ds4j.part", p.flag());
                    meta.put("ds4j.start_pos", Long.toString(startPos));
                    meta.put("ds4j.device", c.device().toString());
                    SafeTensors.write(output, Map.of("y", y), meta);
                    long prefill = seq - decodeSteps;
                    out.printf(Locale.ROOT, "positions %d..%d: %s%s%n", startPos, startPos + seq - 1,
                            prefill > 0 ? "prefill " + prefill + " token" + (prefill == 1 ? "" : "s") : "no prefill",
                            decodeSteps > 0 ? ", then " + decodeSteps + " decode step" + (decodeSteps == 1 ? "" : "s") : "");
                    out.printf(Locale.ROOT, "time: load %.1f ms, prefill %.1f ms%s%s%n", loadMs, r.prefillMs(),
                            decodeSteps > 0 ? String.format(Locale.ROOT, ", decode %.2f ms per step", r.decodeMs() / decodeSteps) : "",
                            p == Part.FFN ? "" : ", KV cache " + format.name().toLowerCase(Locale.ROOT));
                    if (loaded.block() != null) {
                        Block.Timings bt = loaded.block().timings();
                        out.printf(Locale.ROOT, "block parts (prefill and decode): attention %.1f ms, MoE %.1f ms, mHC %.1f ms%n",
                                bt.attentionNanos() / 1e6, bt.moeNanos() / 1e6, bt.mixingNanos() / 1e6);
                    }
                    out.println("y: " + y.dtype() + " " + y.shape());
                    out.printf(Locale.ROOT, "ok: layer %d %s on %s: %d x %d tokens in %.1f ms, wrote y %s %s to %s%n", layer, p.flag(),
                            c.device(), batch, seq, (System.nanoTime() - t0) / 1e6, y.dtype(), y.shape(), output);
                    return 0;
                }
            }
        }
    }

    /** A loaded part: how to run a chunk, the block (for its timings) or null, and what to close, in order. */
    private record Loaded(Step step, Block block, List<Runnable> closers) implements AutoCloseable {
        @Override
        public void close() {
            for (int i = closers.size() - 1; i >= 0; i--) {
                closers.get(i).run();
            }
        }
    }

    private Loaded load(Part p, Compute c, Checkpoint ckpt, V4Config config, int batch, long seq, KvCache.Format format) {
        long capacity = Math.addExact(startPos, seq);
        List<Runnable> closers = new ArrayList<>();
        try {
            switch (p) {
                case ATTN -> {
                    Attention attn = Attention.load(c, config, layer, ckpt.layer(layer, Checkpoint.Part.ATTENTION));
                    closers.add(attn::close);
                    KvCache cache = attn.newCache(batch, capacity, format);
                    closers.add(cache::close);
                    cache.startAt(startPos);
                    return new Loaded((x, ids) -> attn.forward(x, cache.position(), cache), null, closers);
                }
                case FFN -> {
                    Moe moe = Moe.load(c, config, layer, ckpt.layer(layer, Checkpoint.Part.MOE));
                    closers.add(moe::close);
                    return new Loaded(moe::forward, null, closers);
                }
                default -> {
                    Block block = Block.load(c, config, layer, ckpt.layer(layer, Checkpoint.Part.BLOCK));
                    closers.add(block::close);
                    KvCache cache = block.newCache(batch, capacity, format);
                    closers.add(cache::close);
                    cache.startAt(startPos);
                    return new Loaded((x, ids) -> block.forward(x, ids, cache), block, closers);
                }
            }
        } catch (RuntimeException | Error e) {
            new Loaded(null, null, closers).close();
            throw e;
        }
    }

    /** y of every token as f32 values in x's layout, and the time of the prefill and of all decode steps. */
    private record Run(float[] values, double prefillMs, double decodeMs) {
    }

    private static Run run(Step step, Compute c, Tensor x, Tensor ids, int decodeSteps, Tensors owned) {
        long batch = x.dim(0);
        long seq = x.dim(1);
        long row = x.shape().numel() / (batch * seq);
        float[] values = new float[Math.toIntExact(x.shape().numel())];
        long prefill = seq - decodeSteps;
        double prefillMs = 0;
        double decodeMs = 0;
        long from = 0;
        while (from < seq) {
            long to = from == 0 && prefill > 0 ? prefill : from + 1;
            long start = System.nanoTime();
            try (Tensor xs = c.upload(x.slice(1, from, to));
                 Tensor is = ids == null ? null : c.upload(ids.slice(1, from, to));
                 Tensor y = step.run(xs, is)) {
                c.synchronize();
                double ms = (System.nanoTime() - start) / 1e6;
                if (from == 0 && prefill > 0) {
                    prefillMs = ms;
                } else {
                    decodeMs += ms;
                }
                float[] v = y.toFloatArray();
                long n = to - from;
                for (long b = 0; b < batch; b++) {
                    System.arraycopy(v, Math.toIntExact(b * n * row), values, Math.toIntExact((b * seq + from) * row),
                            Math.toIntExact(n * row));
                }
            }
            from = to;
        }
        return new Run(values, prefillMs, decodeMs);
    }

    /** x: a real tensor [B, S, D] (attn, ffn) or [B, S, hc, D] (block) with the config's sizes. */
    private Tensor readX(SafeTensors file, Part p, V4Config config) {
        String expected = p == Part.BLOCK
                ? "[B, S, " + config.hcMult() + ", " + config.hiddenSize() + "] (hc_mult, hidden_size)"
                : "[B, S, " + config.hiddenSize() + "] (hidden_size)";
        if (!file.contains("x")) {
            throw new IllegalArgumentException(input + " has no tensor \"x\" (--part " + p.flag() + " reads x " + expected
                    + (p == Part.ATTN ? " and optional" : " and") + " input_ids [B, S])");
        }
        Tensor x = file.tensor("x");
        if (!x.dtype().isReal()) {
            throw new IllegalArgumentException("x: expected F32, BF16 or F16 " + expected + ", got " + x.dtype() + " " + x.shape());
        }
        boolean ok = p == Part.BLOCK
                ? x.rank() == 4 && x.dim(2) == config.hcMult() && x.dim(3) == config.hiddenSize()
                : x.rank() == 3 && x.dim(2) == config.hiddenSize();
        if (!ok || x.rank() >= 2 && (x.dim(0) < 1 || x.dim(1) < 1)) {
            throw new IllegalArgumentException("x: expected " + expected + " for --part " + p.flag() + ", got " + x.dtype() + " " + x.shape());
        }
        return x;
    }

    /**
     * input_ids I64/I32 [B, S], or null when absent and not needed. On hash-routed layers they must
     * be there and inside the vocabulary (they index tid2eid).
     */
    private Tensor readIds(SafeTensors file, Part p, long batch, long seq, boolean needed, V4Config config) {
        if (!file.contains("input_ids")) {
            if (needed) {
                throw new IllegalArgumentException("input_ids: missing from " + input + ": layer " + layer
                        + " routes by token id (tid2eid), so --part " + p.flag() + " needs input_ids I64/I32 [" + batch + ", " + seq + "]");
            }
            return null;
        }
        Tensor ids = file.tensor("input_ids");
        if ((ids.dtype() != DType.I64 && ids.dtype() != DType.I32) || !ids.shape().equals(Shape.of(batch, seq))) {
            throw new IllegalArgumentException("input_ids: expected I64 or I32 [" + batch + ", " + seq + "] (one id per token of x), got "
                    + ids.dtype() + " " + ids.shape());
        }
        if (needed) {
            long[] v = ids.toLongArray();
            for (int i = 0; i < v.length; i++) {
                if (v[i] < 0 || v[i] >= config.vocabSize()) {
                    throw new IllegalArgumentException("input_ids: id " + v[i] + " at [" + i / seq + ", " + i % seq
                            + "] is outside the vocabulary 0.." + (config.vocabSize() - 1) + " (vocab_size)");
                }
            }
        }
        return ids;
    }

    static void checkLayer(V4Config config, int layer) {
        int last = config.numLayers() + config.mtpLayers() - 1;
        if (layer < 0 || layer > last) {
            throw new IllegalArgumentException("--layer: expected 0.." + last + " (num_hidden_layers " + config.numLayers()
                    + (config.mtpLayers() > 0 ? " + " + config.mtpLayers() + " MTP" : ", no MTP block") + "), got " + layer);
        }
    }

    /** "ratio 4: CSA, biased routing" and the like. */
    static String describe(V4Config config, int layer) {
        int ratio = config.compressRatio(layer);
        String attn = ratio == 0 ? "window only" : ratio == 4 ? "CSA" : "HCA";
        return "ratio " + ratio + ": " + attn + ", " + (config.isHashLayer(layer) ? "hash" : "biased") + " routing"
                + (layer >= config.numLayers() ? ", MTP block" : "");
    }

    /**
     * The device for V4 layers. With {@code --device auto}, an accelerator whose backend has no
     * layer kernels yet is passed over for the CPU, with a one-line note on {@code note}; asking
     * for it by name fails (exit 2) saying so.
     */
    static Compute openForLayers(DeviceOption device, PrintWriter note) {
        Compute c = device.open();
        String missing = missingLayerKernels(c);
        if (missing == null) {
            return c;
        }
        String dev = c.device().toString();
        c.close();
        if (device.value().trim().equalsIgnoreCase("auto")) {
            note.println("note: " + dev + " has no V4 layer kernels yet (" + missing + "): running on the CPU");
            note.flush();
            return Compute.open("cpu");
        }
        throw new IllegalArgumentException("--device " + device.value().trim() + ": the " + dev
                + " backend has no V4 layer kernels yet (" + missing + "); use --device cpu");
    }

    /** Which layer kernel families the backend lacks ("attention, MoE"), or null when it has them all. */
    static String missingLayerKernels(Compute c) {
        List<String> missing = new ArrayList<>();
        if (c.backend().attentionKernels().isEmpty()) {
            missing.add("attention");
        }
        if (c.backend().moeKernels().isEmpty()) {
            missing.add("MoE");
        }
        if (c.backend().hyperConnectionKernels().isEmpty()) {
            missing.add("mHC");
        }
        return missing.isEmpty() ? null : String.join(", ", missing);
    }

    /** Tensors this command made, closed together. */
    private static final class Tensors implements AutoCloseable {
        private final List<Tensor> list = new ArrayList<>();

        Tensor keep(Tensor t) {
            list.add(t);
            return t;
        }

        @Override
        public void close() {
            for (int i = list.size() - 1; i >= 0; i--) {
                list.get(i).close();
            }
        }
    }
}

package io.github.ds4j.v4;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Device;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;

import java.util.Arrays;

/**
 * Fetches weights of the MoE and mHC layers from a {@link TensorSource} by checkpoint name and
 * checks dtype, shape, device and layout, with messages that start with the tensor's name.
 */
final class MoeTensors {
    private MoeTensors() {
    }

    /** "layers.N." for a decoder layer, "mtp.K." for the MTP block(s) after them. */
    static String layerPrefix(V4Config config, int layer) {
        if (layer < 0 || layer >= config.numLayers() + config.mtpLayers()) {
            throw new IllegalArgumentException("layer: expected 0.." + (config.numLayers() + config.mtpLayers() - 1)
                    + " (" + config.numLayers() + " layers + " + config.mtpLayers() + " MTP), got " + layer);
        }
        return layer < config.numLayers() ? "layers." + layer + "." : "mtp." + (layer - config.numLayers()) + ".";
    }

    /** A tensor of one of {@code dtypes} and exactly {@code dims}. */
    static Tensor tensor(TensorSource source, String name, Device device, DType[] dtypes, long... dims) {
        return check(fetch(source, name), name, device, dtypes, dims);
    }

    private static Tensor fetch(TensorSource source, String name) {
        Tensor t = source.tensor(name);
        if (t == null) {
            throw new IllegalArgumentException(name + ": the tensor source returned null");
        }
        return t.checkOpen(name);
    }

    private static Tensor check(Tensor t, String name, Device device, DType[] dtypes, long... dims) {
        boolean typeOk = Arrays.asList(dtypes).contains(t.dtype());
        if (!typeOk || !t.shape().equals(Shape.of(dims))) {
            throw new IllegalArgumentException(name + ": expected " + describe(dtypes) + " " + Shape.of(dims)
                    + ", got " + t.dtype() + " " + t.shape());
        }
        if (!t.device().equals(device)) {
            throw new IllegalArgumentException(name + ": expected a tensor on " + device + ", got one on " + t.device());
        }
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(name + ": expected a contiguous tensor, got a strided view of " + t.shape());
        }
        return t;
    }

    /** An F32 or BF16 tensor of exactly {@code dims}. */
    static Tensor real(TensorSource source, String name, Device device, long... dims) {
        return tensor(source, name, device, new DType[] {DType.F32, DType.BF16}, dims);
    }

    /** An F32 tensor of exactly {@code dims}. */
    static Tensor f32(TensorSource source, String name, Device device, long... dims) {
        return tensor(source, name, device, new DType[] {DType.F32}, dims);
    }

    /**
     * An MXFP4 weight [out, in]: {@code prefix.weight} as the checkpoint packs it (I8
     * [out, in/2], or already FP4_E2M1 [out, in]) and {@code prefix.scale} F8_E8M0 (or F32)
     * [out, in/32].
     */
    static BlockScaled mxfp4(TensorSource source, String prefix, Device device, long out, long in) {
        String wName = prefix + ".weight";
        Tensor w = fetch(source, wName);
        Tensor values = w.dtype() == DType.FP4_E2M1
                ? check(w, wName, device, new DType[] {DType.FP4_E2M1}, out, in)
                : check(w, wName, device, new DType[] {DType.I8}, out, in / 2).viewAs(DType.FP4_E2M1, Shape.of(out, in));
        Tensor scale = tensor(source, prefix + ".scale", device, new DType[] {DType.F8_E8M0, DType.F32}, out, in / 32);
        return BlockScaled.mxfp4Weight(values, scale);
    }

    /** An FP8 weight [out, in]: E4M3 {@code prefix.weight} and its 128x128 block scales. */
    static BlockScaled fp8(TensorSource source, String prefix, Device device, long out, long in) {
        Tensor values = tensor(source, prefix + ".weight", device, new DType[] {DType.F8_E4M3}, out, in);
        Tensor scale = tensor(source, prefix + ".scale", device, new DType[] {DType.F8_E8M0, DType.F32},
                (out + 127) / 128, (in + 127) / 128);
        return BlockScaled.fp8Weight(values, scale);
    }

    private static String describe(DType[] dtypes) {
        if (dtypes.length == 1) {
            return dtypes[0].toString();
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < dtypes.length; i++) {
            sb.append(i == 0 ? "" : i == dtypes.length - 1 ? " or " : ", ").append(dtypes[i]);
        }
        return sb.toString();
    }
}

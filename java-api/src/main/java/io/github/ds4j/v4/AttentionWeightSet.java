package io.github.ds4j.v4;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fetches one attention layer's weights from a {@link TensorSource}: every tensor is checked
 * against the dtype and shape the config implies ({@link CheckpointLayout}), with the tensor's
 * name in the message, placed on the device ({@link DeviceWeights}) and converted to the form the
 * ops take. Copies and conversions made here are owned here; the source keeps owning what it
 * returned.
 */
final class AttentionWeightSet implements AutoCloseable {
    private final Compute compute;
    private final DeviceWeights onDevice;
    private final Map<String, CheckpointLayout.Entry> entries = new LinkedHashMap<>();
    private final List<Tensor> owned = new ArrayList<>();

    AttentionWeightSet(Compute compute, V4Config config, int layer, TensorSource source) {
        this.compute = compute;
        this.onDevice = new DeviceWeights(compute, source);
        for (CheckpointLayout.Entry e : new CheckpointLayout(config).attention(layer)) {
            entries.put(e.name(), e);
        }
    }

    /** A real tensor as F32 or BF16 (F16 is converted to F32). */
    Tensor real(String name) {
        Tensor t = fetch(name);
        if (t.dtype() == DType.F32 || t.dtype() == DType.BF16) {
            return t;
        }
        return keep(compute.convert(t, DType.F32));
    }

    /** A real tensor as F32 (the kernels read sinks and ape as F32). */
    Tensor f32(String name) {
        Tensor t = fetch(name);
        return t.dtype() == DType.F32 ? t : keep(compute.convert(t, DType.F32));
    }

    /** {@code base.weight} and {@code base.scale} as an FP8 weight with 128x128 scales. */
    BlockScaled fp8(String base) {
        return BlockScaled.fp8Weight(fetch(base + ".weight"), fetch(base + ".scale"));
    }

    private Tensor fetch(String name) {
        CheckpointLayout.Entry entry = entries.get(name);
        if (entry == null) {
            throw new IllegalStateException(name + ": not a tensor of this layer");
        }
        if (!onDevice.contains(name)) {
            throw new IllegalArgumentException(name + ": missing from the checkpoint (expected " + entry.dtype() + " " + entry.shape() + ")");
        }
        Tensor t = onDevice.tensor(name);
        entry.check(t.dtype(), t.shape());
        return t;
    }

    private Tensor keep(Tensor t) {
        owned.add(t);
        return t;
    }

    /** Closes the copies made here (call when the layer closes, or when loading fails). */
    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
        owned.clear();
        onDevice.close();
    }
}

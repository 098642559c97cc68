package io.github.ds4j.v4;

import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Device;
import io.github.ds4j.Shape;
import io.github.ds4j.Storage;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.Backend;
import io.github.ds4j.v4.ref.MapSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.SplittableRandom;

import static io.github.ds4j.v4.LayerTests.CPU;
import static io.github.ds4j.v4.LayerTests.TINY;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Layer weights on the compute device: served as they are on the host, copied once to another
 * device (a fake one whose memory is host memory under another device name) and freed when the
 * layer closes.
 */
class DeviceWeightsTest {
    static final CheckpointLayout LAYOUT = new CheckpointLayout(TINY);

    @Test
    void hostWeightsAreServedWithoutACopy() {
        try (MapSource src = MapSource.moe(TINY, 1, 3)) {
            long before = Storage.liveCount(Device.CPU);
            try (DeviceWeights w = new DeviceWeights(CPU, src)) {
                for (String name : src.tensors().keySet()) {
                    assertSame(src.tensors().get(name), w.tensor(name), name);
                }
                assertEquals(before, Storage.liveCount(Device.CPU));
            }
        }
    }

    @Test
    void aStridedHostViewIsCopiedDenseOnceAndFreedOnClose() {
        try (Tensor square = Tensor.fromFloats(new float[] {1, 2, 3, 4, 5, 6}, DType.F32, Shape.of(2, 3))) {
            TensorSource src = new MapSource(Map.of("t", square.transpose(0, 1))); // a view: it owns nothing
            long before = Storage.liveCount(Device.CPU);
            DeviceWeights w = new DeviceWeights(CPU, src);
            Tensor dense = w.tensor("t");
            assertTrue(dense.isContiguous());
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, dense.toFloatArray());
            assertSame(dense, w.tensor("t"));
            assertEquals(before + 1, Storage.liveCount(Device.CPU));
            w.close();
            assertEquals(before, Storage.liveCount(Device.CPU));
        }
    }

    @Test
    void weightsOnAnotherDeviceAreCopiedOnceAndFreedOnClose() {
        FakeDevice fake = new FakeDevice(90);
        try (MapSource src = MapSource.hyperConnections(TINY, 1, 4)) {
            DeviceWeights w = new DeviceWeights(fake.compute(), src);
            for (String name : src.tensors().keySet()) {
                Tensor t = w.tensor(name);
                assertEquals(fake.device(), t.device(), name);
                assertArrayEquals(src.tensors().get(name).toByteArray(), t.toByteArray(), name);
                assertSame(t, w.tensor(name), name + " is copied once");
            }
            assertEquals(src.tensors().size(), Storage.liveCount(fake.device()));
            w.close();
            assertEquals(0, Storage.liveCount(fake.device()));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.tensor("layers.1.hc_attn_fn"));
            assertTrue(e.getMessage().startsWith("layers.1.hc_attn_fn: "), e.getMessage());
        }
    }

    @Test
    void everyLayerCopiesItsWeightsToItsDeviceAndFreesThemOnClose() {
        FakeDevice fake = new FakeDevice(91);
        Compute gpu = fake.compute();
        int layer = 1;
        try (MapSource src = MapSource.random(TINY, 6, LAYOUT.block(layer))) {
            try (HyperConnections hc = HyperConnections.load(gpu, TINY, layer, HyperConnections.Site.FFN, src)) {
                assertEquals(4, Storage.liveCount(fake.device()), "hc_ffn_fn, _base, _scale and ffn_norm");
            }
            assertEquals(0, Storage.liveCount(fake.device()));
            try (Moe moe = Moe.load(gpu, TINY, layer, src)) {
                // The gate (weight, bias) and the shared expert (three weights, three scales); the
                // routed experts wait until a token is sent to them.
                assertEquals(8, Storage.liveCount(fake.device()));
            }
            assertEquals(0, Storage.liveCount(fake.device()));
            try (Attention attention = Attention.load(gpu, TINY, layer, src)) {
                // Every attention tensor once: wo_a stays FP8 (no dequantized copy).
                assertEquals(LAYOUT.attention(layer).size(), Storage.liveCount(fake.device()));
            }
            assertEquals(0, Storage.liveCount(fake.device()));
            Block block = Block.load(gpu, TINY, layer, src);
            assertEquals(2 * 4 + 8 + LAYOUT.attention(layer).size(), Storage.liveCount(fake.device()));
            block.close();
            assertEquals(0, Storage.liveCount(fake.device()), "Block.close must free every copy its parts made");
        }
    }

    @Test
    void aBlockRunOnTheCpuLeavesNoStorageOpenAfterClose() {
        long seed = 7;
        System.out.println("DeviceWeightsTest seed " + seed);
        try (MapSource src = MapSource.random(TINY, seed, LAYOUT.block(0))) {
            long before = Storage.liveCount(Device.CPU);
            float[] x = new float[3 * TINY.hcMult() * TINY.hiddenSize()];
            SplittableRandom rng = new SplittableRandom(seed);
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rng.nextGaussian();
            }
            try (Block block = Block.load(CPU, TINY, 0, src);
                 KvCache cache = block.newCache(1, 8, KvCache.Format.BF16);
                 Tensor streams = Tensor.fromFloats(x, DType.BF16, Shape.of(1, 3, TINY.hcMult(), TINY.hiddenSize()));
                 Tensor ids = Tensor.fromLongs(new long[] {1, 2, 3}, DType.I64, Shape.of(1, 3));
                 Tensor y = block.forward(streams, ids, cache)) {
                assertEquals(streams.shape(), y.shape());
            }
            assertEquals(before, Storage.liveCount(Device.CPU));
        }
    }

    /**
     * A device that is not the host to the layer code (cuda:N) but whose memory is host memory
     * that only copies touch. The layer kernels are the CPU's, present so that layers load; any
     * other op throws, since nothing here runs one.
     */
    static final class FakeDevice implements InvocationHandler {
        private final Device device;
        private final Backend backend;

        FakeDevice(int ordinal) {
            this.device = Device.cuda(ordinal);
            this.backend = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, this);
        }

        Device device() {
            return device;
        }

        Compute compute() {
            return Compute.of(backend);
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws ReflectiveOperationException {
            return switch (method.getName()) {
                case "device" -> device;
                case "description", "toString" -> "fake " + device;
                case "allocate" -> {
                    Arena arena = Arena.ofShared();
                    yield Storage.owned(arena.allocate((long) args[0], 64), backend, arena::close);
                }
                case "copyFromHost" -> {
                    Tensor dst = (Tensor) args[1];
                    long bytes = dst.dtype().byteSize(dst.numel());
                    MemorySegment.copy((MemorySegment) args[0], 0, dst.storage().segment(), dst.byteOffset(), bytes);
                    yield null;
                }
                case "copyToHost" -> {
                    Tensor src = (Tensor) args[0];
                    long bytes = src.dtype().byteSize(src.numel());
                    MemorySegment.copy(src.storage().segment(), src.byteOffset(), (MemorySegment) args[1], 0, bytes);
                    yield null;
                }
                case "synchronize", "close" -> null;
                case "attentionKernels", "moeKernels", "hyperConnectionKernels" -> method.invoke(CpuBackend.shared());
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                default -> throw new UnsupportedOperationException(method.getName() + ": the fake device only holds and copies memory");
            };
        }
    }
}

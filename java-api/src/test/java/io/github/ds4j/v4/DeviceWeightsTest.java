package io.github.ds4j.v4;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Compute;
import io.github.ds4j.DType;
import io.github.ds4j.Device;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Shape;
import io.github.ds4j.Storage;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.checkpoint.CheckpointLayout;
import io.github.ds4j.internal.cpu.CpuBackend;
import io.github.ds4j.spi.AttentionKernels;
import io.github.ds4j.spi.Backend;
import io.github.ds4j.spi.HyperConnectionKernels;
import io.github.ds4j.spi.MoeKernels;
import io.github.ds4j.v4.ref.MapSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Optional;
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
            DeviceWeights w = new DeviceWeights(Compute.of(fake), src);
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
        Compute gpu = Compute.of(fake);
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
                // Every attention tensor, plus wo_a dequantized to bf16.
                assertEquals(LAYOUT.attention(layer).size() + 1, Storage.liveCount(fake.device()));
            }
            assertEquals(0, Storage.liveCount(fake.device()));
            Block block = Block.load(gpu, TINY, layer, src);
            assertEquals(2 * 4 + 8 + LAYOUT.attention(layer).size() + 1, Storage.liveCount(fake.device()));
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
     * A device that is not the host to the layer code: its memory is host memory that only
     * copies touch, under the name cuda:N. The layer kernels are the CPU's, present so that
     * layers load; nothing here runs them.
     */
    static final class FakeDevice implements Backend {
        private final Device device;

        FakeDevice(int ordinal) {
            this.device = Device.cuda(ordinal);
        }

        @Override
        public Device device() {
            return device;
        }

        @Override
        public String description() {
            return "fake device for weight placement tests";
        }

        @Override
        public Storage allocate(long bytes) {
            Arena arena = Arena.ofShared();
            return Storage.owned(arena.allocate(bytes, 64), this, arena::close);
        }

        @Override
        public void copyFromHost(MemorySegment src, Tensor dst) {
            MemorySegment.copy(src, 0, dst.storage().segment(), dst.byteOffset(), dst.dtype().byteSize(dst.numel()));
        }

        @Override
        public void copyToHost(Tensor src, MemorySegment dst) {
            MemorySegment.copy(src.storage().segment(), src.byteOffset(), dst, 0, src.dtype().byteSize(src.numel()));
        }

        @Override
        public void copy(Tensor src, Tensor dst) {
            throw unsupported();
        }

        @Override
        public void synchronize() {
        }

        @Override
        public void close() {
        }

        @Override
        public void convert(Tensor x, Tensor y) {
            throw unsupported();
        }

        @Override
        public void quantizeActivations(Tensor x, Tensor q, Tensor scales, int block) {
            throw unsupported();
        }

        @Override
        public void fp8Simulate(Tensor x, Tensor y, int block) {
            throw unsupported();
        }

        @Override
        public void fp4Simulate(Tensor x, Tensor y, int block) {
            throw unsupported();
        }

        @Override
        public void fp8Gemm(BlockScaled a, BlockScaled w, Tensor y) {
            throw unsupported();
        }

        @Override
        public void fp4Gemm(BlockScaled a, BlockScaled w, Tensor y) {
            throw unsupported();
        }

        @Override
        public void linear(Tensor x, Tensor w, Tensor y) {
            throw unsupported();
        }

        @Override
        public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
            throw unsupported();
        }

        @Override
        public void rope(Tensor x, Tensor y, RopeSpec rope, long startPos, boolean inverse) {
            throw unsupported();
        }

        @Override
        public void hadamard(Tensor x, Tensor y) {
            throw unsupported();
        }

        @Override
        public void swiglu(Tensor gate, Tensor up, float limit, Tensor y) {
            throw unsupported();
        }

        @Override
        public void softmax(Tensor x, Tensor y) {
            throw unsupported();
        }

        @Override
        public void topK(Tensor x, int k, Tensor values, Tensor indices) {
            throw unsupported();
        }

        @Override
        public Optional<AttentionKernels> attentionKernels() {
            return CpuBackend.shared().attentionKernels();
        }

        @Override
        public Optional<MoeKernels> moeKernels() {
            return CpuBackend.shared().moeKernels();
        }

        @Override
        public Optional<HyperConnectionKernels> hyperConnectionKernels() {
            return CpuBackend.shared().hyperConnectionKernels();
        }

        private static UnsupportedOperationException unsupported() {
            return new UnsupportedOperationException("the fake device only holds and copies memory");
        }
    }
}

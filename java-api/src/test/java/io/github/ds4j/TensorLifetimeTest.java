package io.github.ds4j;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorLifetimeTest {
    @Test
    void liveCountReturnsToItsStartAfterClosingAndCloseIsIdempotent() {
        long start = Storage.liveCount(Device.CPU);
        Tensor a = Tensor.allocate(DType.F32, Shape.of(3, 4));
        Tensor b = Tensor.fromFloats(new float[] {1, 2}, DType.BF16, Shape.of(2));
        Tensor c = a.transpose(0, 1).toHost();
        assertEquals(start + 3, Storage.liveCount(Device.CPU));
        Tensor view = a.slice(0, 0, 2);
        view.close();
        assertTrue(a.isOpen(), "closing a view leaves its storage alone");
        assertEquals(start + 3, Storage.liveCount(Device.CPU));
        a.close();
        a.close();
        b.close();
        c.close();
        c.close();
        assertEquals(start, Storage.liveCount(Device.CPU));
        assertFalse(a.isOpen());
        assertFalse(view.isOpen(), "a view dies with its storage");
    }

    @Test
    void viewsNeverOwnTheirStorage() {
        try (Tensor t = Tensor.allocate(DType.I8, Shape.of(4, 8))) {
            assertTrue(t.ownsStorage());
            for (Tensor v : List.of(t.slice(0, 1, 2), t.select(1, 3), t.transpose(0, 1), t.reshape(32),
                    t.viewAs(DType.FP4_E2M1, Shape.of(4, 16)), t.viewAs(DType.I32, Shape.of(8)))) {
                assertFalse(v.ownsStorage(), v.toString());
                assertTrue(v.storage() == t.storage(), v.toString());
                v.close();
                assertTrue(t.isOpen());
            }
        }
    }

    @Test
    void everyMethodOfAClosedTensorNamesWhatWasCalled() {
        Tensor t = Tensor.allocate(DType.I32, Shape.of(2, 2));
        Tensor view = t.slice(0, 0, 1);
        t.close();
        List<Case> cases = List.of(
                new Case("reshape", x -> x.reshape(4)),
                new Case("slice", x -> x.slice(0, 0, 1)),
                new Case("select", x -> x.select(0, 0)),
                new Case("transpose", x -> x.transpose(0, 1)),
                new Case("viewAs", x -> x.viewAs(DType.F32, x.shape())),
                new Case("toFloatArray", Tensor::toFloatArray),
                new Case("toLongArray", Tensor::toLongArray),
                new Case("toByteArray", Tensor::toByteArray),
                new Case("copyFrom", x -> x.copyFrom(new float[(int) x.numel()])),
                new Case("toHost", Tensor::toHost),
                new Case("tensor", Tensor::hostSegment));
        for (Tensor x : List.of(t, view)) {
            for (Case c : cases) {
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.call().accept(x), c.name());
                assertEquals(c.name() + ": tensor is closed", e.getMessage());
            }
        }
        try (Tensor open = Tensor.allocate(DType.I32, Shape.of(2, 2))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> open.copyFrom(t));
            assertEquals("copyFrom source: tensor is closed", e.getMessage());
        }
        IllegalStateException s = assertThrows(IllegalStateException.class, () -> t.storage().segment());
        assertTrue(s.getMessage().contains("closed"), s.getMessage());
    }

    private record Case(String name, Consumer<Tensor> call) {
    }

    @Test
    void arenaTensorsLiveUntilTheArenaCloses() {
        long start = Storage.liveCount(Device.CPU);
        Tensor t;
        try (Arena arena = Arena.ofConfined()) {
            t = Tensor.allocate(arena, DType.F32, Shape.of(8));
            t.close();
            assertTrue(t.isOpen());
            t.copyFrom(new float[8]);
            assertEquals(start, Storage.liveCount(Device.CPU), "borrowed memory is not counted");
        }
        assertFalse(t.isOpen());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.checkOpen("x"));
        assertEquals("x: tensor is closed", e.getMessage());
    }

    @Test
    void rejectedFactoriesLeaveNoLiveStorage() {
        long start = Storage.liveCount(Device.CPU);
        assertThrows(IllegalArgumentException.class, () -> Tensor.fromLongs(new long[] {1, 2}, DType.F32, Shape.of(2)));
        assertThrows(IllegalArgumentException.class, () -> Tensor.fromFloats(new float[] {1, 0}, DType.F8_E8M0, Shape.of(2)),
                "UE8M0 cannot hold 0");
        assertThrows(IllegalArgumentException.class, () -> Tensor.allocate(DType.FP4_E2M1, Shape.of(2, 3)));
        try (Compute cpu = Compute.open("cpu")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu.allocate(DType.FP4_E2M1, Shape.of(2, 3)));
            assertTrue(e.getMessage().startsWith("shape: expected an even last dimension for FP4"), e.getMessage());
        }
        assertEquals(start, Storage.liveCount(Device.CPU));
    }

    @Test
    void blockScaledClosesBothOfItsTensors() {
        long start = Storage.liveCount(Device.CPU);
        BlockScaled b = BlockScaled.fp8Activations(Tensor.allocate(DType.F8_E4M3, Shape.of(2, 256)),
                Tensor.allocate(DType.F8_E8M0, Shape.of(2, 2)), 128);
        assertEquals(start + 2, Storage.liveCount(Device.CPU));
        b.close();
        b.close();
        assertEquals(start, Storage.liveCount(Device.CPU));
        assertFalse(b.values().isOpen());
        assertFalse(b.scales().isOpen());
    }
}

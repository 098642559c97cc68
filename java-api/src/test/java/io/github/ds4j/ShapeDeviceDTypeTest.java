package io.github.ds4j;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShapeDeviceDTypeTest {
    @Test
    void shapeReportsSizesAndNormalizesAxes() {
        Shape s = Shape.of(2, 3, 5);
        assertEquals(3, s.rank());
        assertEquals(30, s.numel());
        assertEquals(6, s.rows());
        assertEquals(5, s.last());
        assertEquals(3, s.dim(-2));
        assertEquals(2, s.axis(-1));
        assertEquals(Shape.of(2, 7, 5), s.with(-2, 7));
        assertEquals(Shape.of(2, 3, 1), s.withLast(1));
        assertEquals(Shape.of(2, 3, 5, 4), s.append(4));
        assertTrue(s.matches(-1, 3, -1));
        assertFalse(s.matches(2, 3));
        assertFalse(s.matches(2, 4, -1));
        assertEquals("[2, 3, 5]", s.toString());
        assertEquals(Shape.of(2L, 3L, 5L), s);
        assertEquals(Shape.of(2L, 3L, 5L).hashCode(), s.hashCode());
        assertEquals(1, Shape.of().numel());
        assertEquals(0, Shape.of(4, 0).numel());
        long[] dims = {4, 5};
        Shape copy = Shape.of(dims);
        dims[0] = 9;
        assertEquals(4, copy.dim(0), "Shape.of copies its argument");
        long[] out = copy.toArray();
        out[1] = 9;
        assertEquals(5, copy.dim(1), "toArray returns a copy");
    }

    @Test
    void shapeRejectsNegativeSizesOverflowAndBadAxes() {
        IllegalArgumentException neg = assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
        assertEquals("dims: expected sizes >= 0, got [2, -1]", neg.getMessage());
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> Shape.of(1L << 40, 1L << 40));
        assertTrue(big.getMessage().startsWith("dims: [1099511627776, 1099511627776] has more than"), big.getMessage());
        IndexOutOfBoundsException axis = assertThrows(IndexOutOfBoundsException.class, () -> Shape.of(2, 3).dim(2));
        assertEquals("axis 2 out of range for shape [2, 3]", axis.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> Shape.of(2, 3).dim(-3));
        assertThrows(IndexOutOfBoundsException.class, () -> Shape.of().last());
        assertThrows(IllegalArgumentException.class, () -> Shape.of(2, 3).with(0, -4));
        assertThrows(IllegalArgumentException.class, () -> Shape.of((long[]) null));
    }

    @Test
    void deviceParsesTheCommandLineForms() {
        assertEquals(Device.CPU, Device.parse("cpu"));
        assertEquals(Device.CPU, Device.parse(" CPU:0 "));
        assertEquals(Device.cuda(0), Device.parse("cuda"));
        assertEquals(Device.cuda(3), Device.parse("Cuda:3"));
        assertEquals(new Device(DeviceKind.ASCEND, 0), Device.parse("ascend"));
        assertEquals(new Device(DeviceKind.ASCEND, 12), Device.parse("ascend:12"));
        assertEquals("cuda:3", Device.cuda(3).toString());
        assertEquals("cpu", Device.CPU.toString());
        assertTrue(Device.CPU.isHost());
        assertFalse(Device.cuda(0).isHost());
    }

    @Test
    void deviceRejectsMalformedTextQuotingIt() {
        for (String bad : new String[] {"", "gpu", "auto", "cuda:", "cuda:x", "cuda:-1", "cuda:+1", "cuda:1:2", "cuda: 1",
                "cuda:\u0661", "cuda:99999999999", "cpu:1", "cuda0", ":0"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Device.parse(bad), bad);
            assertTrue(e.getMessage().contains("\"" + bad + "\""), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Device.parse(null));
        assertThrows(IllegalArgumentException.class, () -> new Device(DeviceKind.CUDA, -1));
        assertThrows(IllegalArgumentException.class, () -> new Device(null, 0));
    }

    @Test
    void dtypeParsesNamesAndAliasesCaseInsensitively() {
        assertEquals(DType.F8_E4M3, DType.parse("fp8"));
        assertEquals(DType.F8_E4M3, DType.parse("E4M3"));
        assertEquals(DType.F8_E5M2, DType.parse("e5m2"));
        assertEquals(DType.F8_E8M0, DType.parse("ue8m0"));
        assertEquals(DType.FP4_E2M1, DType.parse("mxfp4"));
        assertEquals(DType.FP4_E2M1, DType.parse(" fp4 "));
        assertEquals(DType.BF16, DType.parse("bfloat16"));
        assertEquals(DType.F16, DType.parse("half"));
        assertEquals(DType.F32, DType.parse("float"));
        for (DType t : DType.values()) {
            assertEquals(t, DType.parse(t.name().toLowerCase()));
        }
        for (String bad : new String[] {"", "f64", "fp9", "int8x", "e4m3fnuz"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DType.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("unknown dtype \"" + bad + "\": expected one of"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> DType.parse(null));
    }

    @Test
    void dtypeSafetensorsNamesRoundTripAndFp4HasNone() {
        for (DType t : DType.values()) {
            Optional<String> name = t.safetensorsName();
            if (t == DType.FP4_E2M1) {
                assertTrue(name.isEmpty());
            } else {
                assertEquals(t, DType.fromSafetensorsName(name.orElseThrow()));
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DType.fromSafetensorsName("F64"));
        assertEquals("unknown safetensors dtype \"F64\"", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DType.fromSafetensorsName("bf16"), "names are case-sensitive");
        assertThrows(IllegalArgumentException.class, () -> DType.fromSafetensorsName(null));
    }

    @Test
    void dtypeByteSizesAndFp4ParityRule() {
        assertEquals(12, DType.F32.byteSize(3));
        assertEquals(6, DType.BF16.byteSize(3));
        assertEquals(3, DType.F8_E8M0.byteSize(3));
        assertEquals(24, DType.I64.byteSize(3));
        assertEquals(2, DType.FP4_E2M1.byteSize(4));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DType.FP4_E2M1.byteSize(3));
        assertTrue(e.getMessage().contains("odd element count (3)"), e.getMessage());
        assertTrue(DType.BF16.isReal());
        assertFalse(DType.F8_E4M3.isReal());
        assertFalse(DType.I32.isReal());
    }
}

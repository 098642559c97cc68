package io.github.ds4j;

import io.github.ds4j.format.E4M3;
import io.github.ds4j.format.UE8M0;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlockScaledTest {
    @Test
    void expectedScaleShapesFollowTheV4Layouts() {
        assertEquals(Shape.of(8, 32), BlockScaled.expectedScaleShape(Shape.of(1024, 4096), 128, 128));
        assertEquals(Shape.of(3, 2), BlockScaled.expectedScaleShape(Shape.of(300, 200), 128, 128), "ragged blocks round up");
        assertEquals(Shape.of(2048, 128), BlockScaled.expectedScaleShape(Shape.of(2048, 4096), 1, 32));
        assertEquals(Shape.of(2, 3, 2), BlockScaled.expectedScaleShape(Shape.of(2, 3, 256), 1, 128));
        assertEquals(Shape.of(5, 7), BlockScaled.expectedScaleShape(Shape.of(5, 448), 1, 64));
        assertEquals(Shape.of(1), BlockScaled.expectedScaleShape(Shape.of(1), 1, 128));
        assertThrows(IllegalArgumentException.class, () -> BlockScaled.expectedScaleShape(Shape.of(2, 3, 256), 128, 128));
        assertThrows(IllegalArgumentException.class, () -> BlockScaled.expectedScaleShape(Shape.of(), 1, 128));
        assertThrows(IllegalArgumentException.class, () -> BlockScaled.expectedScaleShape(Shape.of(4), 1, 0));
    }

    @Test
    void constructorRejectsEveryBadPartNamingIt() {
        try (Tensor q = Tensor.allocate(DType.F8_E4M3, Shape.of(300, 200));
             Tensor s = Tensor.allocate(DType.F8_E8M0, Shape.of(3, 2));
             Tensor wrongShape = Tensor.allocate(DType.F8_E8M0, Shape.of(2, 2));
             Tensor bf16 = Tensor.allocate(DType.BF16, Shape.of(3, 2));
             Tensor q3 = Tensor.allocate(DType.F8_E4M3, Shape.of(2, 3, 256));
             Tensor i8 = Tensor.allocate(DType.I8, Shape.of(300, 200))) {
            BlockScaled ok = BlockScaled.fp8Weight(q, s);
            assertEquals(300, ok.rows());
            assertEquals(200, ok.cols());
            expectMessage("scales: expected shape [3, 2] for values [300, 200] in 128x128 blocks, got [2, 2]",
                    () -> BlockScaled.fp8Weight(q, wrongShape));
            expectMessage("scales: expected F8_E8M0 or F32, got BF16", () -> BlockScaled.fp8Weight(q, bf16));
            expectMessage("values: expected F8_E4M3, F8_E5M2 or FP4_E2M1, got I8", () -> BlockScaled.fp8Weight(i8, s));
            expectMessage("values: expected F8_E4M3, F8_E5M2 or FP4_E2M1, got BF16", () -> BlockScaled.fp8Weight(bf16, s));
            expectMessage("values: 2-D blocks need a 2-D tensor, got [2, 3, 256]", () -> BlockScaled.fp8Weight(q3, s));
            expectMessage("block must be at least 1x1, got 1x0", () -> new BlockScaled(q, s, 1, 0));
            expectMessage("values: must not be null", () -> BlockScaled.fp8Weight(null, s));
            expectMessage("scales: must not be null", () -> BlockScaled.fp8Weight(q, null));
        }
        Tensor closed = Tensor.allocate(DType.F8_E4M3, Shape.of(4, 128));
        closed.close();
        try (Tensor s = Tensor.allocate(DType.F32, Shape.of(4, 1))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> BlockScaled.fp8Activations(closed, s, 128));
            assertEquals("values: tensor is closed", e.getMessage());
        }
    }

    @Test
    void toFloatArrayMultipliesEachValueByTheScaleOfItsBlock() {
        Random rnd = TestData.random("blockScaled");
        int rows = 130;
        int cols = 140;
        byte[] codes = new byte[rows * cols];
        for (int i = 0; i < codes.length; i++) {
            byte c;
            do {
                c = (byte) rnd.nextInt(256);
            } while (E4M3.isNaN(c));
            codes[i] = c;
        }
        byte[] scales = new byte[2 * 2];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = UE8M0.fromExponent(rnd.nextInt(21) - 10);
        }
        try (BlockScaled w = BlockScaled.fp8Weight(Tensor.fromBytes(codes, DType.F8_E4M3, Shape.of(rows, cols)),
                Tensor.fromBytes(scales, DType.F8_E8M0, Shape.of(2, 2)))) {
            float[] got = w.toFloatArray();
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    int e = (scales[(r / 128) * 2 + c / 128] & 0xFF) - 127;
                    float want = (float) (E4M3.decode(codes[r * cols + c]) * Math.scalb(1.0, e));
                    assertEquals(want, got[r * cols + c], "(" + r + ", " + c + ")");
                }
            }
        }
    }

    private static void expectMessage(String message, Runnable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertEquals(message, e.getMessage());
        assertTrue(e.getMessage().length() > 0);
    }
}

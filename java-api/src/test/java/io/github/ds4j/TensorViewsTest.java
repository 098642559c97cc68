package io.github.ds4j;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TensorViewsTest {
    @Test
    void sliceOfLastDimensionKeepsRowLayoutAndSharesStorage() {
        float[] v = new float[24];
        for (int i = 0; i < v.length; i++) {
            v[i] = i + 1;
        }
        try (Tensor t = Tensor.fromFloats(v, DType.F32, Shape.of(2, 3, 4))) {
            Tensor tail = t.slice(-1, 2, 4);
            assertEquals(4, tail.rowStride());
            assertArrayEquals(new float[] {3, 4, 7, 8, 11, 12, 15, 16, 19, 20, 23, 24}, tail.toFloatArray());
            tail.copyFrom(new float[12]);
            assertEquals(0f, t.toFloatArray()[2]);
            assertEquals(2f, t.toFloatArray()[1]);
        }
    }

    @Test
    void closedTensorIsRejectedWithItsName() {
        Tensor t = Tensor.allocate(DType.BF16, Shape.of(4));
        Tensor view = t.slice(0, 1, 3);
        t.close();
        t.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> view.checkOpen("x"));
        assertEquals("x: tensor is closed", e.getMessage());
        assertThrows(IllegalStateException.class, view::toFloatArray);
    }
}

package io.github.ds4j;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void slicesSelectsAndTransposesReadTheElementsOfTheirParentOnRandomShapes() {
        Random rnd = TestData.random("views");
        for (int round = 0; round < 20; round++) {
            int a = 1 + rnd.nextInt(4);
            int b = 1 + rnd.nextInt(5);
            int c = 1 + rnd.nextInt(6);
            float[] v = TestData.floats(rnd, a * b * c);
            try (Tensor t = Tensor.fromFloats(v, DType.F32, Shape.of(a, b, c))) {
                int b0 = rnd.nextInt(b);
                int b1 = b0 + 1 + rnd.nextInt(b - b0);
                int c0 = rnd.nextInt(c);
                int c1 = c0 + 1 + rnd.nextInt(c - c0);
                Tensor s = t.slice(1, b0, b1).slice(2, c0, c1);
                float[] want = new float[a * (b1 - b0) * (c1 - c0)];
                int k = 0;
                for (int i = 0; i < a; i++) {
                    for (int j = b0; j < b1; j++) {
                        for (int l = c0; l < c1; l++) {
                            want[k++] = v[(i * b + j) * c + l];
                        }
                    }
                }
                assertArrayEquals(want, s.toFloatArray(), "slice of " + t.shape());
                assertFalse(s.ownsStorage());

                int j = rnd.nextInt(b);
                Tensor sel = t.select(1, j);
                assertEquals(Shape.of(a, c), sel.shape());
                for (int i = 0; i < a; i++) {
                    for (int l = 0; l < c; l++) {
                        assertEquals(v[(i * b + j) * c + l], sel.toFloatArray()[i * c + l]);
                    }
                }

                Tensor tr = t.transpose(0, 2);
                assertEquals(Shape.of(c, b, a), tr.shape());
                float[] got = tr.toFloatArray();
                for (int l = 0; l < c; l++) {
                    for (int jj = 0; jj < b; jj++) {
                        for (int i = 0; i < a; i++) {
                            assertEquals(v[(i * b + jj) * c + l], got[(l * b + jj) * a + i]);
                        }
                    }
                }
                // writes through a view land in the parent
                float poison = 1234.5f;
                s.copyFrom(filled(s.numel(), poison));
                float[] after = t.toFloatArray();
                for (int i = 0; i < a; i++) {
                    for (int jj = 0; jj < b; jj++) {
                        for (int l = 0; l < c; l++) {
                            boolean inside = jj >= b0 && jj < b1 && l >= c0 && l < c1;
                            assertEquals(inside ? poison : v[(i * b + jj) * c + l], after[(i * b + jj) * c + l]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void reshapeInfersOneSizeAndNeedsAContiguousTensor() {
        float[] v = TestData.floats(TestData.random("reshape"), 24);
        try (Tensor t = Tensor.fromFloats(v, DType.F32, Shape.of(2, 3, 4))) {
            Tensor r = t.reshape(4, -1);
            assertEquals(Shape.of(4, 6), r.shape());
            assertArrayEquals(v, r.toFloatArray());
            assertFalse(r.ownsStorage());
            assertEquals(Shape.of(3, 4), t.slice(0, 1, 2).reshape(-1, 4).shape());
            assertArrayEquals(java.util.Arrays.copyOfRange(v, 12, 24), t.slice(0, 1, 2).reshape(12).toFloatArray());
            assertTrue(assertThrows(IllegalArgumentException.class, () -> t.reshape(-1, -1)).getMessage().contains("only one -1"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> t.reshape(5, -1)).getMessage().contains("cannot infer"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> t.reshape(5, 5)).getMessage().contains("24 elements"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> t.slice(2, 0, 2).reshape(12)).getMessage()
                    .contains("not contiguous"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> t.transpose(0, 1).reshape(24)).getMessage()
                    .contains("not contiguous"));
        }
    }

    @Test
    void sizeOneDimensionsDoNotBreakContiguityOrRowLayout() {
        try (Tensor t = Tensor.fromFloats(TestData.floats(TestData.random("size1"), 24), DType.F32, Shape.of(2, 3, 4))) {
            // [2, 1, 4] keeps the parent's strides [12, 4, 1]: rows are 12 apart
            Tensor mid = t.slice(1, 1, 2);
            assertEquals(12, mid.rowStride());
            assertTrue(mid.hasRowLayout());
            assertFalse(mid.isContiguous());
            // [1, 4] transposed to [4, 1] is still dense
            Tensor row = t.select(0, 1).slice(0, 2, 3);
            assertTrue(row.isContiguous(), "a single row is contiguous");
            Tensor col = row.transpose(0, 1);
            assertEquals(Shape.of(4, 1), col.shape());
            assertTrue(col.isContiguous(), "[4, 1] with strides " + java.util.Arrays.toString(col.strides()));
            assertArrayEquals(row.toFloatArray(), col.reshape(4).toFloatArray());
            assertEquals(16, col.toByteArray().length);
            // a leading size-1 dim with an arbitrary stride in front of a real one
            Tensor lead = t.slice(0, 1, 2).transpose(0, 1); // [3, 1, 4], strides [4, 12, 1]
            assertEquals(4, lead.rowStride());
            assertTrue(lead.isContiguous());
        }
    }

    @Test
    void rowStrideAllowsColumnSlicesAndRejectsNonCollapsibleLayouts() {
        try (Tensor t = Tensor.allocate(DType.BF16, Shape.of(2, 3, 8))) {
            assertEquals(8, t.rowStride());
            assertEquals(8, t.slice(-1, 3, 7).rowStride());
            assertEquals(8, t.slice(0, 1, 2).slice(-1, 0, 4).rowStride());
            assertEquals(8, t.slice(1, 0, 2).select(0, 1).rowStride());
            assertEquals(24, t.select(1, 2).rowStride(), "a selected middle index leaves rows 24 apart");
            assertEquals(8, t.select(0, 1).slice(1, 2, 6).rowStride());
            assertEquals(8, t.select(0, 0).select(0, 0).rowStride(), "rank 1 is one row");

            IllegalArgumentException notDense = assertThrows(IllegalArgumentException.class, () -> t.transpose(1, 2).rowStride());
            assertTrue(notDense.getMessage().contains("not dense in its last dimension"), notDense.getMessage());
            IllegalArgumentException leading = assertThrows(IllegalArgumentException.class, () -> t.slice(1, 0, 2).rowStride());
            assertTrue(leading.getMessage().contains("do not collapse"), leading.getMessage());
            assertTrue(leading.getMessage().contains("[24, 8, 1]"), leading.getMessage());
            assertThrows(IllegalArgumentException.class, () -> t.transpose(0, 1).rowStride());
            assertThrows(IllegalArgumentException.class, () -> t.select(2, 3).rowStride(), "a column is strided");
            assertFalse(t.transpose(0, 1).hasRowLayout());
            assertTrue(t.slice(-1, 1, 2).hasRowLayout());
        }
    }

    @Test
    void sliceAndSelectRejectOutOfRangeArguments() {
        try (Tensor t = Tensor.allocate(DType.F32, Shape.of(3, 4))) {
            assertThrows(IndexOutOfBoundsException.class, () -> t.slice(0, 0, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> t.slice(0, -1, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> t.slice(1, 3, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> t.slice(2, 0, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> t.select(0, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> t.select(-3, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> t.transpose(0, 2));
            assertEquals(Shape.of(0, 4), t.slice(0, 2, 2).shape());
            assertEquals(0, t.slice(0, 2, 2).toFloatArray().length);
        }
    }

    @Test
    void viewAsReadsAnI8CheckpointTensorAsFp4LowNibbleFirst() {
        Random rnd = TestData.random("viewAs");
        int n = 3;
        int k = 8;
        byte[] packed = new byte[n * k / 2];
        rnd.nextBytes(packed);
        try (Tensor i8 = Tensor.fromBytes(packed, DType.I8, Shape.of(n, k / 2))) {
            Tensor fp4 = i8.viewAs(DType.FP4_E2M1, Shape.of(n, k));
            assertEquals(DType.FP4_E2M1, fp4.dtype());
            assertFalse(fp4.ownsStorage());
            float[] got = fp4.toFloatArray();
            for (int e = 0; e < n * k; e++) {
                int b = packed[e / 2] & 0xFF;
                int code = e % 2 == 0 ? b & 0xF : b >>> 4;
                assertEquals(io.github.ds4j.format.E2M1.decode(code), got[e], "element " + e);
            }
            assertArrayEquals(packed, fp4.toByteArray());
            // a row slice starts on a whole byte, and the view back to I8 sees the same bytes
            Tensor row = fp4.slice(0, 1, 3);
            assertEquals(k, row.offset());
            assertEquals(k / 2, row.byteOffset());
            assertArrayEquals(java.util.Arrays.copyOfRange(packed, k / 2, n * k / 2), row.viewAs(DType.I8, Shape.of(2 * k / 2)).toByteArray());
            assertArrayEquals(java.util.Arrays.copyOfRange(got, k, n * k), i8.slice(0, 1, 3).viewAs(DType.FP4_E2M1, Shape.of(2, k)).toFloatArray());
            // the column slice of FP4 keeps the row layout
            Tensor cols = fp4.slice(1, 2, 6);
            assertEquals(k, cols.rowStride());
            assertEquals(got[k + 2], cols.toFloatArray()[4]);
        }
    }

    @Test
    void viewAsReinterpretsBitsAndRejectsMismatches() {
        float[] v = TestData.floats(TestData.random("bits"), 6);
        try (Tensor f = Tensor.fromFloats(v, DType.F32, Shape.of(2, 3))) {
            long[] bits = f.viewAs(DType.I32, Shape.of(6)).toLongArray();
            for (int i = 0; i < 6; i++) {
                assertEquals(Float.floatToRawIntBits(v[i]), bits[i]);
            }
            IllegalArgumentException size = assertThrows(IllegalArgumentException.class, () -> f.viewAs(DType.BF16, Shape.of(6)));
            assertTrue(size.getMessage().contains("24 bytes") && size.getMessage().contains("needs 12"), size.getMessage());
            assertThrows(IllegalArgumentException.class, () -> f.transpose(0, 1).viewAs(DType.I32, Shape.of(6)));
            assertThrows(IllegalArgumentException.class, () -> f.viewAs(DType.FP4_E2M1, Shape.of(16, 3)), "odd FP4 rows");
        }
        try (Tensor b = Tensor.allocate(DType.I8, Shape.of(9))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.slice(0, 1, 9).viewAs(DType.F32, Shape.of(2)));
            assertTrue(e.getMessage().contains("not aligned"), e.getMessage());
            assertEquals(2, b.slice(0, 1, 9).viewAs(DType.FP4_E2M1, Shape.of(16)).offset());
        }
    }

    @Test
    void fp4ViewsMustStartOnAWholeByte() {
        try (Tensor t = Tensor.allocate(DType.FP4_E2M1, Shape.of(3, 6))) {
            assertThrows(IllegalArgumentException.class, () -> t.slice(1, 1, 4));
            assertThrows(IllegalArgumentException.class, () -> t.slice(1, 2, 5));
            assertEquals(1, t.slice(1, 2, 4).byteOffset());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.select(1, 3));
            assertTrue(e.getMessage().contains("whole byte"), e.getMessage());
            assertEquals(3, t.select(1, 2).shape().numel());
            assertThrows(IllegalArgumentException.class, () -> t.transpose(0, 1).select(0, 1));
            assertThrows(IllegalArgumentException.class, () -> t.reshape(18, 1));
            assertThrows(IllegalArgumentException.class, () -> Tensor.allocate(DType.FP4_E2M1, Shape.of(2, 3)));
            assertThrows(IllegalArgumentException.class, () -> Tensor.allocate(DType.FP4_E2M1, Shape.of(3)));
        }
    }

    private static float[] filled(long n, float value) {
        float[] a = new float[Math.toIntExact(n)];
        java.util.Arrays.fill(a, value);
        return a;
    }
}

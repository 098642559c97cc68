package io.github.ds4j.internal.cpu;

import java.util.Arrays;

/**
 * Top-k selection in O(cols log k) with a min-heap of packed keys. A key orders elements exactly
 * as {@link ScalarOps#ranksAbove} with ties to the lower index: the value's rank in the high 32
 * bits (NaN lowest, -0 equal to +0), the complemented index in the low 32 bits. Every key of a row
 * is distinct, so the selected set and its order equal the scalar reference's.
 */
final class RowsTopK {
    private RowsTopK() {
    }

    /** The packed key of element {@code index} with value {@code v}; larger keys rank higher. */
    static long key(float v, int index) {
        int rank;
        if (Float.isNaN(v)) {
            rank = Integer.MIN_VALUE;
        } else if (v == 0f) {
            rank = 0; // -0 ties with +0
        } else {
            int bits = Float.floatToRawIntBits(v);
            rank = bits ^ ((bits >> 31) & 0x7FFF_FFFF); // negative floats: flip so the order is numeric
        }
        return ((long) rank << 32) | (~index & 0xFFFF_FFFFL);
    }

    /** The element index of a key. */
    static int index(long key) {
        return ~(int) key;
    }

    static void select(float[] row, int cols, int k, long[] heap, int[] best) {
        fill(row, k, heap);
        for (int c = k; c < cols; c++) {
            offer(heap, k, row[c], c);
        }
        finish(heap, k, best);
    }

    /** Puts the first k elements into the heap. */
    static void fill(float[] row, int k, long[] heap) {
        for (int i = 0; i < k; i++) {
            heap[i] = key(row[i], i);
        }
        for (int i = k / 2 - 1; i >= 0; i--) {
            siftDown(heap, k, i);
        }
    }

    /** Replaces the heap's lowest key with element c's if that ranks higher. */
    static void offer(long[] heap, int k, float v, int c) {
        long kc = key(v, c);
        if (kc > heap[0]) {
            heap[0] = kc;
            siftDown(heap, k, 0);
        }
    }

    /** The heap's indexes, best first. */
    static void finish(long[] heap, int k, int[] best) {
        Arrays.sort(heap, 0, k);
        for (int i = 0; i < k; i++) {
            best[i] = index(heap[k - 1 - i]);
        }
    }

    private static void siftDown(long[] heap, int n, int i) {
        long v = heap[i];
        while (true) {
            int child = 2 * i + 1;
            if (child >= n) {
                break;
            }
            if (child + 1 < n && heap[child + 1] < heap[child]) {
                child++;
            }
            if (heap[child] >= v) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = v;
    }
}

package io.github.ds4j.internal.cpu;

/**
 * The k best of the first n scores of a row, in descending order: ties go to the lower index and
 * NaN ranks below every number (the order of {@link ScalarOps#topK}). A min-heap of the k best
 * so far keeps long rows at n log k.
 */
final class AttentionTopK {
    private AttentionTopK() {
    }

    /** Writes the best min(k, n) indexes of {@code scores[0..n)} into {@code best}; returns how many. */
    static int select(float[] scores, int n, int[] best) {
        int k = best.length;
        int size = 0;
        for (int j = 0; j < n; j++) {
            if (size < k) {
                best[size] = j;
                siftUp(scores, best, size++);
            } else if (k > 0 && above(scores, j, best[0])) {
                best[0] = j;
                siftDown(scores, best, size);
            }
        }
        // Heap sort in place: repeatedly move the worst to the end, leaving the best first.
        for (int end = size - 1; end > 0; end--) {
            int t = best[0];
            best[0] = best[end];
            best[end] = t;
            siftDown(scores, best, end);
        }
        return size;
    }

    /** True when entry a ranks strictly above entry b. */
    static boolean above(float[] s, int a, int b) {
        float x = s[a];
        float y = s[b];
        if (Float.isNaN(x) || Float.isNaN(y)) {
            if (Float.isNaN(x) && Float.isNaN(y)) {
                return a < b;
            }
            return Float.isNaN(y);
        }
        return x > y || (x == y && a < b);
    }

    /** Min-heap on rank: the root is the worst kept entry. */
    private static void siftUp(float[] s, int[] heap, int i) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (!above(s, heap[parent], heap[i])) {
                break;
            }
            int t = heap[parent];
            heap[parent] = heap[i];
            heap[i] = t;
            i = parent;
        }
    }

    private static void siftDown(float[] s, int[] heap, int size) {
        int i = 0;
        while (true) {
            int l = 2 * i + 1;
            if (l >= size) {
                return;
            }
            int worst = l;
            if (l + 1 < size && above(s, heap[l], heap[l + 1])) {
                worst = l + 1;
            }
            if (!above(s, heap[i], heap[worst])) {
                return;
            }
            int t = heap[worst];
            heap[worst] = heap[i];
            heap[i] = t;
            i = worst;
        }
    }
}

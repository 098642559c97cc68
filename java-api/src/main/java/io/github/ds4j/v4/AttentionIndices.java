package io.github.ds4j.v4;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;

/**
 * The index lists that depend only on positions, built on the host: the sliding window and the
 * HCA layers' "every complete entry". Rows are numbered across the attention's sources: the
 * window ring (W rows, position p in row p mod W), then the S rows of the current block, then the
 * compressed entries.
 */
final class AttentionIndices {
    private AttentionIndices() {
    }

    /**
     * I32 [B, S, W]: for the token at {@code p = start + s}, positions max(origin, p−W+1)..p, oldest
     * first; earlier positions come from the ring, the block's own from row W + (q − start); the
     * remaining slots are −1. {@code origin} is the cache's first position (0 unless it began later).
     */
    static Tensor window(int batch, int seq, long start, int window, long origin) {
        long[] idx = new long[Math.multiplyExact(Math.multiplyExact(batch, seq), window)];
        for (int s = 0; s < seq; s++) {
            long p = start + s;
            int k = 0;
            for (long q = Math.max(origin, p - window + 1); q <= p; q++) {
                idx[s * window + k++] = q >= start ? window + (q - start) : Math.floorMod(q, window);
            }
            while (k < window) {
                idx[s * window + k++] = -1;
            }
        }
        return Tensor.fromLongs(repeat(idx, seq * window, batch), DType.I32, Shape.of(batch, seq, window));
    }

    /**
     * I32 [B, S, N] with {@code N = floor((start+S)/ratio) − first}: for the token at p, the
     * complete entries {@code first <= j < floor((p+1)/ratio)} as {@code offset + j}, then −1.
     * {@code first} is the cache's first entry (0 unless it began later; earlier ones do not exist).
     */
    static Tensor allCompressed(int batch, int seq, long start, int ratio, long offset, long first) {
        int n = Math.toIntExact((start + seq) / ratio - first);
        long[] idx = new long[Math.multiplyExact(Math.multiplyExact(batch, seq), n)];
        for (int s = 0; s < seq; s++) {
            long complete = (start + s + 1) / ratio;
            for (int j = 0; j < n; j++) {
                idx[s * n + j] = first + j < complete ? offset + first + j : -1;
            }
        }
        return Tensor.fromLongs(repeat(idx, seq * n, batch), DType.I32, Shape.of(batch, seq, n));
    }

    private static long[] repeat(long[] idx, int per, int batch) {
        for (int b = 1; b < batch; b++) {
            System.arraycopy(idx, 0, idx, b * per, per);
        }
        return idx;
    }
}

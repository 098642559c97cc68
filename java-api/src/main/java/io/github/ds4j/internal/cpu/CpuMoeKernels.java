package io.github.ds4j.internal.cpu;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.DType;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.HostMemory;
import io.github.ds4j.spi.MoeKernels;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The CPU implementation of {@link MoeKernels}: plain loops over tokens, rows or experts, split
 * over the cores. The expert GEMMs go through the owning backend's {@code fp4Gemm}/{@code fp8Gemm},
 * so they take its fast path when it has one.
 */
final class CpuMoeKernels implements MoeKernels {
    /** softplus(z) is z itself above this, as torch's default threshold has it. */
    private static final float SOFTPLUS_THRESHOLD = 20f;

    private final CpuBackend backend;

    CpuMoeKernels(CpuBackend backend) {
        this.backend = backend;
    }

    @Override
    public void routerScores(Tensor x, Tensor w, Tensor scores) {
        if (backend.isFast()) {
            // The gate GEMV through the fast linear (f32 sums in another order), then the
            // activation in place: the weights are streamed once, not copied to f32 first.
            backend.linear(x, w, scores);
            MemorySegment out = scores.storage().segment();
            long base = scores.offset();
            long n = scores.numel();
            for (long i = 0; i < n; i++) {
                out.setAtIndex(HostMemory.F32, base + i, sqrtSoftplus(out.getAtIndex(HostMemory.F32, base + i)));
            }
            return;
        }
        RowAccess xs = new RowAccess(x);
        RowAccess ws = new RowAccess(w);
        int tokens = Math.toIntExact(xs.rows);
        int experts = Math.toIntExact(ws.rows);
        int d = xs.cols;
        float[] xAll = readAll(xs);
        float[] wAll = readAll(ws);
        MemorySegment out = scores.storage().segment();
        long base = scores.offset();
        Parallel.forRange((long) tokens * experts, 64, (from, to) -> {
            for (long i = from; i < to; i++) {
                int t = (int) (i / experts);
                int e = (int) (i % experts);
                double acc = 0;
                for (int c = 0, xo = t * d, wo = e * d; c < d; c++) {
                    acc += (double) xAll[xo + c] * wAll[wo + c];
                }
                out.setAtIndex(HostMemory.F32, base + i, sqrtSoftplus((float) acc));
            }
        });
    }

    /** sqrt(softplus(z)) in f32. */
    static float sqrtSoftplus(float z) {
        float sp = z > SOFTPLUS_THRESHOLD ? z : (float) Math.log1p(Math.exp(z));
        return (float) Math.sqrt(sp);
    }

    @Override
    public void route(Tensor scores, Tensor bias, float scale, Tensor weights, Tensor indices) {
        int tokens = Math.toIntExact(scores.dim(0));
        int experts = Math.toIntExact(scores.dim(1));
        int k = Math.toIntExact(indices.dim(-1));
        float[] b = bias == null ? new float[experts] : bias.toFloatArray();
        MemorySegment s = scores.storage().segment();
        Parallel.forRange(tokens, 16, (from, to) -> {
            float[] row = new float[experts];
            float[] biased = new float[experts];
            int[] sel = new int[k];
            for (long t = from; t < to; t++) {
                MemorySegment.copy(s, HostMemory.F32, (scores.offset() + t * experts) * 4, row, 0, experts);
                for (int e = 0; e < experts; e++) {
                    biased[e] = row[e] + b[e];
                }
                topK(biased, sel);
                writeRouting(row, sel, scale, weights, indices, t);
            }
        });
    }

    @Override
    public void routeByHash(Tensor scores, Tensor tid2eid, Tensor ids, float scale, Tensor weights, Tensor indices) {
        int tokens = Math.toIntExact(scores.dim(0));
        int experts = Math.toIntExact(scores.dim(1));
        int k = Math.toIntExact(indices.dim(-1));
        long vocab = tid2eid.dim(0);
        MemorySegment s = scores.storage().segment();
        MemorySegment table = tid2eid.storage().segment();
        MemorySegment idSeg = ids.storage().segment();
        // Look everything up first, on this thread, so a bad id fails with its own message.
        int[] sel = new int[tokens * k];
        for (int t = 0; t < tokens; t++) {
            long id = HostMemory.getLong(idSeg, ids.dtype(), ids.offset() + t);
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("inputIds: token id " + id + " at position " + t
                        + " is outside the vocabulary [0, " + vocab + ") of tid2eid");
            }
            for (int j = 0; j < k; j++) {
                long e = HostMemory.getLong(table, tid2eid.dtype(), tid2eid.offset() + id * k + j);
                if (e < 0 || e >= experts) {
                    throw new IllegalArgumentException("tid2eid: row " + id + " names expert " + e
                            + ", outside [0, " + experts + ")");
                }
                sel[t * k + j] = (int) e;
            }
        }
        Parallel.forRange(tokens, 16, (from, to) -> {
            float[] row = new float[experts];
            int[] one = new int[k];
            for (long t = from; t < to; t++) {
                System.arraycopy(sel, (int) t * k, one, 0, k);
                MemorySegment.copy(s, HostMemory.F32, (scores.offset() + t * experts) * 4, row, 0, experts);
                writeRouting(row, one, scale, weights, indices, t);
            }
        });
    }

    /** Indices of the sel.length largest values, descending, ties to the lower index, NaN last. */
    private static void topK(float[] v, int[] sel) {
        int k = sel.length;
        int filled = 0;
        for (int c = 0; c < v.length; c++) {
            int at = filled;
            while (at > 0 && ScalarOps.ranksAbove(v[c], v[sel[at - 1]])) {
                at--;
            }
            if (at < k) {
                int last = Math.min(filled, k - 1);
                System.arraycopy(sel, at, sel, at + 1, last - at);
                sel[at] = c;
                filled = Math.min(filled + 1, k);
            }
        }
    }

    /** weights = scores[sel] / sum(scores[sel]) * scale, all f32; writes token t's row. */
    private static void writeRouting(float[] scores, int[] sel, float scale, Tensor weights, Tensor indices, long t) {
        int k = sel.length;
        float sum = 0;
        for (int j = 0; j < k; j++) {
            sum += scores[sel[j]];
        }
        MemorySegment ws = weights.storage().segment();
        MemorySegment is = indices.storage().segment();
        for (int j = 0; j < k; j++) {
            ws.setAtIndex(HostMemory.F32, weights.offset() + t * k + j, scores[sel[j]] / sum * scale);
            is.setAtIndex(HostMemory.I32, indices.offset() + t * k + j, sel[j]);
        }
    }

    @Override
    public void dispatch(Tensor indices, int tile, Tensor counts, Tensor offsets, Tensor permutation, Tensor rowOf) {
        int pairs = Math.toIntExact(indices.numel());
        int experts = Math.toIntExact(counts.numel());
        int[] idx = readInts(indices);
        int[] count = new int[experts];
        for (int p = 0; p < pairs; p++) {
            int e = idx[p];
            if (e < 0 || e >= experts) {
                throw new IllegalArgumentException("indices: pair " + p + " names expert " + e + ", outside [0, " + experts + ")");
            }
            count[e]++;
        }
        int[] off = new int[experts + 1];
        for (int e = 0; e < experts; e++) {
            off[e + 1] = off[e] + (count[e] + tile - 1) / tile * tile;
        }
        long capacity = permutation.numel();
        if (off[experts] > capacity) {
            throw new IllegalArgumentException("permutation: " + off[experts] + " dispatched rows do not fit its " + capacity);
        }
        int[] perm = new int[(int) capacity];
        Arrays.fill(perm, -1);
        int[] rows = new int[pairs];
        int[] cursor = off.clone();
        for (int p = 0; p < pairs; p++) {
            int r = cursor[idx[p]]++;
            perm[r] = p;
            rows[p] = r;
        }
        writeInts(counts, count);
        writeInts(offsets, off);
        writeInts(permutation, perm);
        writeInts(rowOf, rows);
    }

    @Override
    public void gatherRows(Tensor src, Tensor permutation, int k, Tensor dst) {
        long rows = dst.shape().rows();
        long rowBytes = dst.dtype().byteSize(dst.shape().last());
        long srcRowBytes = src.dtype().byteSize(src.rowStride());
        long srcStart = src.byteOffset();
        long dstStart = dst.byteOffset();
        MemorySegment from = src.storage().segment();
        MemorySegment to = dst.storage().segment();
        int[] perm = readInts(permutation);
        Parallel.forRange(rows, 256, (lo, hi) -> {
            for (long r = lo; r < hi; r++) {
                int p = perm[(int) r];
                long at = dstStart + r * rowBytes;
                if (p < 0) {
                    to.asSlice(at, rowBytes).fill((byte) 0);
                } else {
                    MemorySegment.copy(from, srcStart + (p / k) * srcRowBytes, to, at, rowBytes);
                }
            }
        });
    }

    @Override
    public void groupedGemm(BlockScaled a, List<BlockScaled> weights, Tensor offsets, Tensor y) {
        int[] off = readInts(offsets);
        List<Integer> busy = new ArrayList<>();
        for (int e = 0; e + 1 < off.length; e++) {
            if (off[e + 1] > off[e]) {
                if (weights.get(e) == null) {
                    throw new IllegalArgumentException("weights: expert " + e + " has " + (off[e + 1] - off[e])
                            + " rows but no weight");
                }
                busy.add(e);
            }
        }
        // Experts are independent: run them side by side (each GEMM may split further).
        Parallel.forRange(busy.size(), 1, (lo, hi) -> {
            for (long i = lo; i < hi; i++) {
                int e = busy.get((int) i);
                BlockScaled w = weights.get(e);
                BlockScaled part = new BlockScaled(a.values().slice(0, off[e], off[e + 1]),
                        a.scales().slice(0, off[e], off[e + 1]), a.blockRows(), a.blockCols());
                Tensor out = y.slice(0, off[e], off[e + 1]);
                if (w.values().dtype() == DType.FP4_E2M1) {
                    backend.fp4Gemm(part, w, out);
                } else {
                    backend.fp8Gemm(part, w, out);
                }
            }
        });
    }

    @Override
    public void weightedSwiglu(Tensor gate, Tensor up, float limit, Tensor weights, Tensor permutation, Tensor y) {
        RowAccess g = new RowAccess(gate);
        RowAccess u = new RowAccess(up);
        RowAccess out = new RowAccess(y);
        int[] perm = readInts(permutation);
        float[] w = weights.toFloatArray();
        int cols = g.cols;
        Parallel.forRange(g.rows, 8, (lo, hi) -> {
            float[] gr = new float[cols];
            float[] ur = new float[cols];
            for (long r = lo; r < hi; r++) {
                int p = perm[(int) r];
                if (p < 0) {
                    Arrays.fill(gr, 0f);
                } else {
                    g.read(r, gr);
                    u.read(r, ur);
                    float wp = w[p];
                    for (int c = 0; c < cols; c++) {
                        gr[c] = wp * ScalarOps.swiglu(gr[c], ur[c], limit);
                    }
                }
                out.write(r, gr);
            }
        });
    }

    @Override
    public void combine(Tensor expertOut, Tensor indices, Tensor rowOf, Tensor shared, Tensor y) {
        RowAccess outs = new RowAccess(expertOut);
        RowAccess sh = shared == null ? null : new RowAccess(shared);
        RowAccess ys = new RowAccess(y);
        int k = Math.toIntExact(indices.dim(-1));
        int[] idx = readInts(indices);
        int[] rows = readInts(rowOf);
        int d = ys.cols;
        Parallel.forRange(ys.rows, 4, (lo, hi) -> {
            float[] acc = new float[d];
            float[] row = new float[d];
            int[] order = new int[k];
            for (long t = lo; t < hi; t++) {
                int base = (int) t * k;
                // ascending expert id, then slot: the order of a loop over experts
                for (int j = 0; j < k; j++) {
                    int at = j;
                    while (at > 0 && idx[base + order[at - 1]] > idx[base + j]) {
                        order[at] = order[at - 1];
                        at--;
                    }
                    order[at] = j;
                }
                Arrays.fill(acc, 0f);
                for (int j = 0; j < k; j++) {
                    outs.read(rows[base + order[j]], row);
                    for (int c = 0; c < d; c++) {
                        acc[c] += row[c];
                    }
                }
                if (sh != null) {
                    sh.read(t, row);
                    for (int c = 0; c < d; c++) {
                        acc[c] += row[c];
                    }
                }
                ys.write(t, acc);
            }
        });
    }

    // ---- helpers ----

    private static float[] readAll(RowAccess a) {
        float[] all = new float[Math.toIntExact(a.rows * a.cols)];
        float[] row = new float[a.cols];
        for (long r = 0; r < a.rows; r++) {
            System.arraycopy(a.read(r, row), 0, all, (int) (r * a.cols), a.cols);
        }
        return all;
    }

    /** The values of a contiguous I32 tensor. */
    static int[] readInts(Tensor t) {
        int[] out = new int[Math.toIntExact(t.numel())];
        MemorySegment.copy(t.storage().segment(), HostMemory.I32, t.offset() * 4, out, 0, out.length);
        return out;
    }

    /** Overwrites a contiguous I32 tensor. */
    static void writeInts(Tensor t, int[] values) {
        MemorySegment.copy(values, 0, t.storage().segment(), HostMemory.I32, t.offset() * 4, values.length);
    }
}

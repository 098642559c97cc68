package io.github.ds4j.internal.cpu;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Tensor;
import io.github.ds4j.internal.HostMemory;
import io.github.ds4j.spi.AttentionKernels;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

/**
 * The CPU implementation of {@link AttentionKernels}: the contracts written out plainly in f32,
 * parallel over tokens (or over heads when there are few tokens). On the fast path sparse
 * attention and the indexer scores run as Vector API kernels ({@link AttentionSimd}).
 */
final class CpuAttentionKernels implements AttentionKernels {
    private final boolean fast;
    private final boolean simd;

    /** @param fast true for the fast paths (SIMD when the Vector API is there), false for the plain loops */
    CpuAttentionKernels(boolean fast) {
        this.fast = fast;
        this.simd = fast && CpuPath.simd();
    }

    @Override
    public void sparseAttention(Tensor q, List<KvRows> sources, List<Tensor> indices, Tensor sink, float scale, Tensor out) {
        if (simd) {
            sparseAttentionSimd(q, sources, indices, sink, scale, out);
            return;
        }
        int batch = Math.toIntExact(q.dim(0));
        int seq = Math.toIntExact(q.dim(1));
        int heads = Math.toIntExact(q.dim(2));
        int dim = Math.toIntExact(q.dim(3));
        AttentionRows qs = new AttentionRows(q);
        AttentionRows os = new AttentionRows(out);
        float[] sinks = sink.toFloatArray();
        Selection sel = new Selection(sources, indices);
        int width = sel.width();
        int tokens = batch * seq;
        if (tokens < Parallel.THREADS && heads > 1) {
            // Few tokens (decode): gather each token's rows once and split its heads.
            for (int t = 0; t < tokens; t++) {
                int token = t;
                Gathered g = gather(sel, token, seq, dim);
                Parallel.forRange(heads, 1, (h0, h1) -> attendHeads(g, qs, os, sinks, scale, token, (int) h0, (int) h1, heads, dim));
            }
            return;
        }
        Parallel.forRange(tokens, 1, (a, z) -> {
            for (int t = (int) a; t < z; t++) {
                Gathered g = gather(sel, t, seq, dim);
                attendHeads(g, qs, os, sinks, scale, t, 0, heads, heads, dim);
            }
        });
    }

    /**
     * The fast path: each query's selected rows gathered once as f32, then {@link AttentionSimd}
     * over blocks of heads; a decode step (fewer tokens than threads) splits its heads over the
     * cores, a longer block its tokens.
     */
    private static void sparseAttentionSimd(Tensor q, List<KvRows> sources, List<Tensor> indices, Tensor sink, float scale,
                                            Tensor out) {
        int batch = Math.toIntExact(q.dim(0));
        int seq = Math.toIntExact(q.dim(1));
        int heads = Math.toIntExact(q.dim(2));
        int dim = Math.toIntExact(q.dim(3));
        AttentionRows qs = new AttentionRows(q);
        AttentionRows os = new AttentionRows(out);
        float[] sinks = sink.toFloatArray();
        Selection sel = new Selection(sources, indices);
        int width = sel.width();
        int tokens = batch * seq;
        int rowFloats = Math.max(1, width) * dim;
        if (tokens < Parallel.THREADS && heads > AttentionSimd.HEADS) {
            float[] rows = new float[rowFloats];
            float[] qt = new float[heads * dim];
            float[] o = new float[heads * dim];
            int blocks = (heads + AttentionSimd.HEADS - 1) / AttentionSimd.HEADS;
            for (int t = 0; t < tokens; t++) {
                int token = t;
                int n = sel.gather(token, seq, dim, rows, true);
                readHeads(qs, token, heads, dim, qt);
                Parallel.forRange(blocks, 1, (b0, b1) -> {
                    float[] s = new float[AttentionSimd.HEADS * Math.max(1, n)];
                    AttentionSimd.attend(rows, n, dim, qt, (int) b0 * AttentionSimd.HEADS,
                            (int) Math.min(heads, b1 * AttentionSimd.HEADS), sinks, scale, o, s);
                });
                writeHeads(os, token, heads, dim, o);
            }
            return;
        }
        Parallel.forRange(tokens, 1, (a, z) -> {
            float[] rows = new float[rowFloats];
            float[] qt = new float[heads * dim];
            float[] o = new float[heads * dim];
            float[] s = new float[AttentionSimd.HEADS * Math.max(1, width)];
            for (int t = (int) a; t < z; t++) {
                int n = sel.gather(t, seq, dim, rows, true);
                readHeads(qs, t, heads, dim, qt);
                AttentionSimd.attend(rows, n, dim, qt, 0, heads, sinks, scale, o, s);
                writeHeads(os, t, heads, dim, o);
            }
        });
    }

    private static void readHeads(AttentionRows qs, int token, int heads, int dim, float[] dst) {
        for (int h = 0; h < heads; h++) {
            AttentionSimd.read(qs, (long) token * heads + h, dst, h * dim);
        }
    }

    private static void writeHeads(AttentionRows os, int token, int heads, int dim, float[] src) {
        for (int h = 0; h < heads; h++) {
            AttentionSimd.write(os, (long) token * heads + h, src, h * dim);
        }
    }

    /** The selected rows of one query token, decoded to f32. */
    private record Gathered(float[] rows, int count) {
    }

    private static Gathered gather(Selection sel, int token, int seq, int dim) {
        float[] rows = new float[Math.max(1, sel.width()) * dim];
        return new Gathered(rows, sel.gather(token, seq, dim, rows, false));
    }

    /** The KV rows of every source, as one numbering, and the index lists that select from them. */
    private static final class Selection {
        private final AttentionKvCodec[] codecs;
        /** firstRow[i] is the number of source i's first row; the last element is the total. */
        private final long[] firstRow;
        private final int[][] lists;
        private final int[] perToken;
        private final int width;

        Selection(List<KvRows> sources, List<Tensor> indices) {
            codecs = new AttentionKvCodec[sources.size()];
            firstRow = new long[sources.size() + 1];
            for (int i = 0; i < codecs.length; i++) {
                codecs[i] = new AttentionKvCodec(sources.get(i));
                firstRow[i + 1] = firstRow[i] + codecs[i].rows();
            }
            lists = new int[indices.size()][];
            perToken = new int[indices.size()];
            int total = 0;
            for (int i = 0; i < lists.length; i++) {
                lists[i] = readInts(indices.get(i));
                perToken[i] = Math.toIntExact(indices.get(i).dim(2));
                total += perToken[i];
            }
            width = total;
        }

        /** The most rows one token can select (the sum of the lists' widths). */
        int width() {
            return width;
        }

        /**
         * Token t's selected rows into rows[0..n*dim) as f32, skipping -1 entries; returns n.
         * {@code vectorReads} widens BF16 rows with vectors (the same values).
         */
        int gather(int token, int seq, int dim, float[] rows, boolean vectorReads) {
            int b = token / seq;
            long total = firstRow[firstRow.length - 1];
            int n = 0;
            for (int l = 0; l < lists.length; l++) {
                int k = perToken[l];
                int base = token * k;
                for (int i = 0; i < k; i++) {
                    int j = lists[l][base + i];
                    if (j == -1) {
                        continue;
                    }
                    if (j < 0 || j >= total) {
                        throw new IndexOutOfBoundsException("sparse attention: index " + j + " of list " + l
                                + " outside the " + total + " rows of the sources");
                    }
                    int src = 0;
                    while (j >= firstRow[src + 1]) {
                        src++;
                    }
                    AttentionRows real = vectorReads ? codecs[src].realRows() : null;
                    if (real != null) {
                        AttentionSimd.read(real, codecs[src].realRow(b, j - firstRow[src]), rows, n * dim);
                    } else {
                        codecs[src].read(b, j - firstRow[src], rows, n * dim);
                    }
                    n++;
                }
            }
            return n;
        }
    }

    private static void attendHeads(Gathered g, AttentionRows qs, AttentionRows os, float[] sinks, float scale,
                                    int token, int h0, int h1, int heads, int dim) {
        float[] q = new float[dim];
        float[] o = new float[dim];
        float[] s = new float[Math.max(1, g.count())];
        for (int h = h0; h < h1; h++) {
            long row = (long) token * heads + h;
            qs.read(row, q, 0);
            Arrays.fill(o, 0f);
            if (g.count() > 0) {
                float m = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < g.count(); j++) {
                    float acc = 0;
                    int at = j * dim;
                    for (int c = 0; c < dim; c++) {
                        acc += q[c] * g.rows()[at + c];
                    }
                    s[j] = acc * scale;
                    m = Math.max(m, s[j]);
                }
                float sum = 0;
                for (int j = 0; j < g.count(); j++) {
                    s[j] = (float) Math.exp(s[j] - m);
                    sum += s[j];
                }
                // The sink is one more logit in the denominator only.
                float inv = 1f / (sum + (float) Math.exp(sinks[h] - m));
                for (int j = 0; j < g.count(); j++) {
                    float p = s[j] * inv;
                    int at = j * dim;
                    for (int c = 0; c < dim; c++) {
                        o[c] += p * g.rows()[at + c];
                    }
                }
            }
            os.write(row, o, 0);
        }
    }

    @Override
    public void groupedProjection(Tensor o, BlockScaled w, int groups, Tensor z) {
        GroupedProjection.run(o, w, groups, z, fast);
    }

    @Override
    public void storeKv(Tensor rows, KvRows dst, long firstRow, long modulus) {
        AttentionRows src = new AttentionRows(rows);
        AttentionKvCodec out = new AttentionKvCodec(dst);
        long batch = rows.dim(0);
        long n = rows.dim(1);
        Parallel.forRange(batch * n, 16, (a, z) -> {
            float[] row = new float[src.cols];
            for (long r = a; r < z; r++) {
                long b = r / n;
                long i = r % n;
                src.read(r, row, 0);
                out.write(b, Math.floorMod(firstRow + i, modulus), row, 0);
            }
        });
    }

    @Override
    public void compressorPool(Tensor kv, Tensor gate, Tensor ape, int ratio, boolean overlap, long startPos,
                               Tensor kvState, Tensor scoreState, Tensor out) {
        int batch = Math.toIntExact(kv.dim(0));
        int seq = Math.toIntExact(kv.dim(1));
        int width = Math.toIntExact(kv.dim(2));
        int c = overlap ? 2 : 1;
        int d = width / c;
        int window = c * ratio;
        long end = startPos + seq;
        long firstEntry = Math.floorDiv(startPos, ratio);
        int entries = Math.toIntExact(Math.floorDiv(end, ratio) - firstEntry);
        AttentionRows kvs = new AttentionRows(kv);
        AttentionRows gates = new AttentionRows(gate);
        AttentionRows kvSt = new AttentionRows(kvState);
        AttentionRows scSt = new AttentionRows(scoreState);
        AttentionRows outs = new AttentionRows(out);
        float[] apes = ape.toFloatArray();
        Parallel.forRange((long) batch * entries, 1, (a, z) -> {
            float[][] slotKv = new float[window][width];
            float[][] slotScore = new float[window][width];
            boolean[] present = new boolean[window];
            float[] pooled = new float[d];
            for (long r = a; r < z; r++) {
                int b = (int) (r / entries);
                long e = firstEntry + r % entries;
                // Slot i of entry e is position (e - c + 1) * ratio + i: block e-1 then block e with overlap.
                long first = (e - c + 1) * ratio;
                for (int i = 0; i < window; i++) {
                    long p = first + i;
                    present[i] = p >= 0;
                    if (present[i]) {
                        token(p, b, startPos, seq, ratio, window, width, apes, kvs, gates, kvSt, scSt, slotKv[i], slotScore[i]);
                    }
                }
                for (int ch = 0; ch < d; ch++) {
                    float m = Float.NEGATIVE_INFINITY;
                    for (int i = 0; i < window; i++) {
                        if (present[i]) {
                            m = Math.max(m, slotScore[i][channel(i, ch, ratio, d)]);
                        }
                    }
                    double sum = 0;
                    double acc = 0;
                    for (int i = 0; i < window; i++) {
                        if (present[i]) {
                            int k = channel(i, ch, ratio, d);
                            double w = Math.exp(slotScore[i][k] - m);
                            sum += w;
                            acc += w * slotKv[i][k];
                        }
                    }
                    pooled[ch] = (float) (acc / sum);
                }
                outs.write((long) b * entries + (e - firstEntry), pooled, 0);
            }
        });
        // Only now overwrite the state: the entries above may have read positions before startPos.
        long keepFrom = Math.max(startPos, end - window);
        float[] row = new float[width];
        for (int b = 0; b < batch; b++) {
            for (long p = keepFrom; p < end; p++) {
                long src = (long) b * seq + (p - startPos);
                long slot = (long) b * window + Math.floorMod(p, window);
                kvs.read(src, row, 0);
                kvSt.write(slot, row, 0);
                gates.read(src, row, 0);
                addApe(row, apes, Math.floorMod(p, ratio), width);
                scSt.write(slot, row, 0);
            }
        }
    }

    /** Channel of slot i's value for output channel ch: the second half for block e's slots with overlap. */
    private static int channel(int slot, int ch, int ratio, int d) {
        return slot < ratio ? ch : ch + d;
    }

    private static void token(long p, int b, long startPos, int seq, int ratio, int window, int width, float[] apes,
                              AttentionRows kvs, AttentionRows gates, AttentionRows kvSt, AttentionRows scSt,
                              float[] kvOut, float[] scoreOut) {
        if (p >= startPos) {
            long src = (long) b * seq + (p - startPos);
            kvs.read(src, kvOut, 0);
            gates.read(src, scoreOut, 0);
            addApe(scoreOut, apes, Math.floorMod(p, ratio), width);
        } else {
            long slot = (long) b * window + Math.floorMod(p, window);
            kvSt.read(slot, kvOut, 0);
            scSt.read(slot, scoreOut, 0);
        }
    }

    private static void addApe(float[] score, float[] apes, int slot, int width) {
        for (int k = 0; k < width; k++) {
            score[k] += apes[slot * width + k];
        }
    }

    @Override
    public void indexerScores(Tensor q, Tensor keys, Tensor weights, float weightScale, int ratio, long startPos, Tensor scores) {
        int batch = Math.toIntExact(q.dim(0));
        int seq = Math.toIntExact(q.dim(1));
        int heads = Math.toIntExact(q.dim(2));
        int dim = Math.toIntExact(q.dim(3));
        int n = Math.toIntExact(keys.dim(1));
        AttentionRows qs = new AttentionRows(q);
        AttentionRows ks = new AttentionRows(keys);
        AttentionRows ws = new AttentionRows(weights);
        MemorySegment out = scores.storage().segment();
        long outOffset = scores.offset();
        if (simd) {
            indexerScoresSimd(qs, ks, ws, weightScale, ratio, startPos, batch, seq, heads, dim, n, out, outOffset);
            return;
        }
        Parallel.forRange((long) batch * seq, 1, (a, z) -> {
            float[] qr = new float[heads * dim];
            float[] w = new float[heads];
            float[] k = new float[dim];
            for (long t = a; t < z; t++) {
                long b = t / seq;
                long p = startPos + t % seq;
                long complete = Math.min(n, Math.floorDiv(p + 1, ratio));
                for (int h = 0; h < heads; h++) {
                    qs.read(t * heads + h, qr, h * dim);
                }
                ws.read(t, w, 0);
                for (int j = 0; j < n; j++) {
                    float score = Float.NEGATIVE_INFINITY;
                    if (j < complete) {
                        ks.read(b * n + j, k, 0);
                        score = 0;
                        for (int h = 0; h < heads; h++) {
                            float dot = 0;
                            for (int c = 0; c < dim; c++) {
                                dot += qr[h * dim + c] * k[c];
                            }
                            score += Math.max(dot, 0f) * (w[h] * weightScale);
                        }
                    }
                    out.setAtIndex(HostMemory.F32, outOffset + t * n + j, score);
                }
            }
        });
    }

    /**
     * The fast path of the indexer scores: pieces of {@link AttentionSimd#KEYS} keys of one query,
     * spread over the cores (a decode step has one query and a thousand keys), each piece's keys
     * widened to f32 and transposed once. Gives the plain loops' bits.
     */
    private static void indexerScoresSimd(AttentionRows qs, AttentionRows ks, AttentionRows ws, float weightScale, int ratio,
                                          long startPos, int batch, int seq, int heads, int dim, int n, MemorySegment out,
                                          long outOffset) {
        int block = AttentionSimd.KEYS;
        int pieces = (n + block - 1) / block;
        Parallel.forRange((long) batch * seq * pieces, 1, (a, z) -> {
            float[] qr = new float[heads * dim];
            float[] w = new float[heads];
            float[] key = new float[dim];
            float[] keysT = new float[block * dim];
            float[] sc = new float[block];
            long loaded = -1;
            for (long i = a; i < z; i++) {
                long t = i / pieces;
                int j0 = (int) (i % pieces) * block;
                int j1 = Math.min(n, j0 + block);
                long b = t / seq;
                long p = startPos + t % seq;
                int complete = (int) Math.min(j1, Math.max(j0, Math.floorDiv(p + 1, ratio)));
                if (t != loaded) {
                    for (int h = 0; h < heads; h++) {
                        AttentionSimd.read(qs, t * heads + h, qr, h * dim);
                    }
                    ws.read(t, w, 0);
                    for (int h = 0; h < heads; h++) {
                        w[h] *= weightScale;
                    }
                    loaded = t;
                }
                if (complete > j0) {
                    java.util.Arrays.fill(keysT, 0f);
                    for (int j = j0; j < complete; j++) {
                        AttentionSimd.read(ks, b * n + j, key, 0);
                        for (int c = 0; c < dim; c++) {
                            keysT[c * block + (j - j0)] = key[c];
                        }
                    }
                    AttentionSimd.indexerScores(qr, heads, dim, w, keysT, sc);
                }
                for (int j = complete; j < j1; j++) {
                    sc[j - j0] = Float.NEGATIVE_INFINITY;
                }
                MemorySegment.copy(sc, 0, out, HostMemory.F32, (outOffset + t * n + j0) * 4, j1 - j0);
            }
        });
    }

    @Override
    public void indexerTopK(Tensor scores, int ratio, long startPos, int offset, Tensor indices) {
        int seq = Math.toIntExact(scores.dim(1));
        int n = Math.toIntExact(scores.dim(2));
        int k = Math.toIntExact(indices.dim(2));
        long tokens = scores.dim(0) * scores.dim(1);
        AttentionRows ss = new AttentionRows(scores);
        MemorySegment out = indices.storage().segment();
        long outOffset = indices.offset();
        Parallel.forRange(tokens, 1, (a, z) -> {
            float[] row = new float[n];
            int[] best = new int[k];
            for (long t = a; t < z; t++) {
                long p = startPos + t % seq;
                int complete = (int) Math.min(n, Math.floorDiv(p + 1, ratio));
                ss.read(t, row, 0);
                int found = AttentionTopK.select(row, complete, best);
                for (int i = 0; i < k; i++) {
                    out.setAtIndex(HostMemory.I32, outOffset + t * k + i, i < found ? best[i] + offset : -1);
                }
            }
        });
    }

    @Override
    public void rope(Tensor x, Tensor y, RopeSpec rope, long firstPos, long posStride, boolean inverse) {
        RowAccess in = new RowAccess(x);
        RowAccess out = new RowAccess(y);
        float[] f = rope.frequencies();
        long rowsPerPos = x.dim(0) == 0 ? 1 : in.rows / x.dim(0);
        Parallel.forRange(in.rows, 64, (a, z) -> {
            float[] row = new float[in.cols];
            for (long r = a; r < z; r++) {
                in.read(r, row);
                long pos = firstPos + (r / rowsPerPos) * posStride;
                for (int i = 0; i < in.cols / 2; i++) {
                    double angle = RopeSpec.angle(pos, f[i]);
                    float cos = (float) Math.cos(angle);
                    float sin = inverse ? -(float) Math.sin(angle) : (float) Math.sin(angle);
                    float re = row[2 * i];
                    float im = row[2 * i + 1];
                    row[2 * i] = re * cos - im * sin;
                    row[2 * i + 1] = re * sin + im * cos;
                }
                out.write(r, row);
            }
        });
    }

    private static int[] readInts(Tensor t) {
        int n = Math.toIntExact(t.numel());
        int[] out = new int[n];
        MemorySegment s = t.storage().segment();
        long at = t.offset();
        for (int i = 0; i < n; i++) {
            out[i] = s.getAtIndex(HostMemory.I32, at + i);
        }
        return out;
    }
}

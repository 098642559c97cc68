package io.github.ds4j.internal.cpu;

import io.github.ds4j.format.BF16;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.format.UE8M0;
import io.github.ds4j.internal.HostMemory;
import io.github.ds4j.spi.AttentionKernels.Fp8KvLayout;
import io.github.ds4j.spi.AttentionKernels.KvRows;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Reads and writes token rows of a {@link KvRows} store on the host, real or FP8. */
final class AttentionKvCodec {
    private final KvRows store;
    private final AttentionRows real;
    private final MemorySegment bytes;
    private final long byteOffset;
    private final long sequenceBytes;
    private final Fp8KvLayout layout;

    AttentionKvCodec(KvRows store) {
        this.store = store;
        this.layout = store.fp8();
        if (layout == null) {
            this.real = new AttentionRows(store.data());
            this.bytes = null;
            this.byteOffset = 0;
            this.sequenceBytes = 0;
        } else {
            this.real = null;
            this.bytes = store.data().storage().segment();
            this.byteOffset = store.data().offset();
            this.sequenceBytes = store.data().strides()[0];
        }
    }

    /** The real rows, or null for the FP8 layout. */
    AttentionRows realRows() {
        return real;
    }

    /** The {@link #realRows()} row number of row {@code row} of sequence {@code b}. */
    long realRow(long b, long row) {
        return b * store.data().dim(1) + row;
    }

    /** Rows indexable per sequence. */
    long rows() {
        return store.rows();
    }

    /** Row {@code row} of sequence {@code b} into {@code dst[at .. at+headDim)}. */
    void read(long b, long row, float[] dst, int at) {
        if (layout == null) {
            real.read(realRow(b, row), dst, at);
            return;
        }
        long base = byteOffset + b * sequenceBytes;
        long v = base + layout.valueOffset(row);
        long s = base + layout.scaleOffset(row);
        int nope = layout.nopeDim();
        for (int t = 0; t < layout.tiles(); t++) {
            float scale = UE8M0.decode(bytes.get(ValueLayout.JAVA_BYTE, s + t));
            for (int c = t * Fp8KvLayout.TILE; c < Math.min(nope, (t + 1) * Fp8KvLayout.TILE); c++) {
                dst[at + c] = E4M3.decode(bytes.get(ValueLayout.JAVA_BYTE, v + c)) * scale;
            }
        }
        for (int i = 0; i < layout.ropeDim(); i++) {
            dst[at + nope + i] = BF16.decode(bytes.get(HostMemory.I16, v + nope + 2L * i));
        }
    }

    /** {@code src[at .. at+headDim)} into row {@code row} of sequence {@code b}. */
    void write(long b, long row, float[] src, int at) {
        if (layout == null) {
            real.write(realRow(b, row), src, at);
            return;
        }
        long base = byteOffset + b * sequenceBytes;
        long v = base + layout.valueOffset(row);
        long s = base + layout.scaleOffset(row);
        int nope = layout.nopeDim();
        for (int t = 0; t < layout.tiles(); t++) {
            int c0 = t * Fp8KvLayout.TILE;
            int c1 = Math.min(nope, c0 + Fp8KvLayout.TILE);
            float amax = 0;
            for (int c = c0; c < c1; c++) {
                amax = Math.max(amax, Math.abs(src[at + c]));
            }
            int e = Math.max(-127, Math.min(127, ScalarOps.scaleExponent(amax, ScalarOps.FP8_AMAX_FLOOR, E4M3.MAX)));
            bytes.set(ValueLayout.JAVA_BYTE, s + t, UE8M0.fromExponent(e));
            float inv = Math.scalb(1f, -e);
            for (int c = c0; c < c1; c++) {
                bytes.set(ValueLayout.JAVA_BYTE, v + c, E4M3.encodeSaturating(src[at + c] * inv));
            }
        }
        bytes.set(ValueLayout.JAVA_BYTE, s + layout.tiles(), (byte) 0);
        for (int i = 0; i < layout.ropeDim(); i++) {
            bytes.set(HostMemory.I16, v + nope + 2L * i, BF16.encode(src[at + nope + i]));
        }
    }
}

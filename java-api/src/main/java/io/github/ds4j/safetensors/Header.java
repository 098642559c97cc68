package io.github.ds4j.safetensors;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.internal.json.Json;
import io.github.ds4j.internal.json.JsonException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed and validated header of a safetensors file: an 8-byte little-endian length N, N
 * bytes of UTF-8 JSON, then the data section. Every check happens here, before any tensor is
 * made, so a tensor view can never reach outside the data section.
 */
final class Header {
    /** Headers above this size are rejected: real ones are a few MB at most. */
    static final long MAX_HEADER_BYTES = 100L << 20;
    static final String METADATA_KEY = "__metadata__";

    private static final ValueLayout.OfLong LENGTH = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor's entry; offsets are relative to the start of the data section. */
    record Entry(String name, DType dtype, Shape shape, long begin, long end) {
        long byteSize() {
            return end - begin;
        }
    }

    final Map<String, Entry> entries;
    final Map<String, String> metadata;
    /** Byte offset of the data section from the start of the file. */
    final long dataStart;

    private Header(Map<String, Entry> entries, Map<String, String> metadata, long dataStart) {
        this.entries = Collections.unmodifiableMap(entries);
        this.metadata = Collections.unmodifiableMap(metadata);
        this.dataStart = dataStart;
    }

    /** Parses the header of {@code file} (named in messages) whose bytes are all of {@code whole}. */
    static Header parse(String file, MemorySegment whole) {
        long size = whole.byteSize();
        if (size < 8) {
            throw bad(file, "the file has " + size + " bytes, too short for the 8-byte header length");
        }
        long n = whole.get(LENGTH, 0);
        if (n < 2 || n > MAX_HEADER_BYTES) {
            throw bad(file, "header length " + n + " is out of range (expected 2.." + MAX_HEADER_BYTES + " bytes)");
        }
        if (n > size - 8) {
            throw bad(file, "header length " + n + " runs past the end of the file (" + size + " bytes)");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(whole.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw bad(file, "the header is not valid UTF-8");
        }
        Object root;
        try {
            root = Json.parse(text);
        } catch (JsonException e) {
            throw bad(file, "the header is not valid JSON: " + e.getMessage());
        }
        if (!(root instanceof Map<?, ?> map)) {
            throw bad(file, "the header must be a JSON object, got " + kind(root));
        }
        long dataStart = 8 + n;
        long dataSize = size - dataStart;
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = metadata(file, e.getValue());
            } else {
                entries.put(name, entry(file, name, e.getValue(), dataSize));
            }
        }
        checkNoOverlap(file, entries);
        return new Header(entries, metadata, dataStart);
    }

    private static Map<String, String> metadata(String file, Object v) {
        if (!(v instanceof Map<?, ?> m)) {
            throw bad(file, "\"" + METADATA_KEY + "\" must be an object of strings, got " + kind(v));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw bad(file, "\"" + METADATA_KEY + "\" value of \"" + e.getKey() + "\" must be a string, got " + kind(e.getValue()));
            }
            out.put((String) e.getKey(), s);
        }
        return out;
    }

    private static Entry entry(String file, String name, Object v, long dataSize) {
        String where = "tensor \"" + name + "\"";
        if (!(v instanceof Map<?, ?> m)) {
            throw bad(file, where + ": expected an object with dtype, shape and data_offsets, got " + kind(v));
        }
        Object dt = m.get("dtype");
        if (!(dt instanceof String dtName)) {
            throw bad(file, where + ": \"dtype\" must be a string, got " + kind(dt));
        }
        DType dtype;
        try {
            dtype = DType.fromSafetensorsName(dtName);
        } catch (IllegalArgumentException e) {
            throw bad(file, where + ": unsupported dtype \"" + dtName + "\" (ds4j reads F32, F16, BF16, F8_E4M3, F8_E5M2, "
                    + "F8_E8M0, I8, U8, I32, I64)");
        }
        if (!(m.get("shape") instanceof List<?> dims)) {
            throw bad(file, where + ": \"shape\" must be a list of integers, got " + kind(m.get("shape")));
        }
        long[] shape = new long[dims.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegative(file, where, "shape", dims.get(i));
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException e) {
                throw bad(file, where + ": shape " + dims + " has more elements than a long can count");
            }
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(numel, (long) (dtype.bits() / 8));
        } catch (ArithmeticException e) {
            throw bad(file, where + ": shape " + dims + " of " + dtName + " is too large");
        }
        if (!(m.get("data_offsets") instanceof List<?> offs) || offs.size() != 2) {
            throw bad(file, where + ": \"data_offsets\" must be a list [begin, end], got " + kind(m.get("data_offsets")));
        }
        long begin = nonNegative(file, where, "data_offsets", offs.get(0));
        long end = nonNegative(file, where, "data_offsets", offs.get(1));
        if (begin > end || end > dataSize) {
            throw bad(file, where + ": data_offsets [" + begin + ", " + end + "] are not inside the data section of "
                    + dataSize + " bytes");
        }
        if (end - begin != bytes) {
            throw bad(file, where + ": data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                    + " bytes, but " + dtName + " " + dims + " needs " + bytes);
        }
        return new Entry(name, dtype, Shape.of(shape), begin, end);
    }

    private static long nonNegative(String file, String where, String key, Object v) {
        if (v instanceof Long l && l >= 0) {
            return l;
        }
        throw bad(file, where + ": \"" + key + "\" must hold non-negative integers, got " + (v instanceof String ? "\"" + v + "\"" : v));
    }

    private static void checkNoOverlap(String file, Map<String, Entry> entries) {
        List<Entry> sorted = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.byteSize() > 0) {
                sorted.add(e);
            }
        }
        sorted.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry prev = sorted.get(i - 1);
            Entry cur = sorted.get(i);
            if (cur.begin() < prev.end()) {
                throw bad(file, "tensors \"" + prev.name() + "\" [" + prev.begin() + ", " + prev.end() + ") and \""
                        + cur.name() + "\" [" + cur.begin() + ", " + cur.end() + ") overlap");
            }
        }
    }

    private static String kind(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Map<?, ?>) {
            return "an object";
        }
        if (v instanceof List<?> l) {
            String t = l.toString();
            return "the list " + (t.length() > 60 ? t.substring(0, 60) + "...]" : t);
        }
        if (v instanceof String s) {
            return "the string \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
        }
        return v.toString();
    }

    private static SafeTensorsException bad(String file, String what) {
        return new SafeTensorsException(file + ": " + what);
    }
}

package io.github.ds4j.internal.json;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class JsonTest {
    /** The depth limit of the reader: this many arrays or objects may nest. */
    private static final int MAX_DEPTH = 64;

    @Test
    void parsesEveryKindOfValue() {
        Object v = Json.parse(" {\"a\" : [1, -2, 3.5, -0.25e2, 1E3, true, false, null, \"s\"],\n\t\"b\":{},\r\"c\":[] ,"
                + "\"d\":{\"e\":{\"f\":\"g\"}}} ");
        Map<String, Object> want = new LinkedHashMap<>();
        want.put("a", Arrays.asList(1L, -2L, 3.5, -25.0, 1000.0, true, false, null, "s"));
        want.put("b", Map.of());
        want.put("c", List.of());
        want.put("d", Map.of("e", Map.of("f", "g")));
        assertEquals(want, v);
        assertEquals(List.of("a", "b", "c", "d"), new ArrayList<>(((Map<?, ?>) v).keySet()), "key order is kept");
    }

    @Test
    void parsesTopLevelScalars() {
        assertEquals(0L, Json.parse("0"));
        assertEquals(-7L, Json.parse(" -7 "));
        assertEquals("x", Json.parse("\"x\""));
        assertEquals(true, Json.parse("true"));
        assertEquals(null, Json.parse("null"));
        assertEquals(1e-300, Json.parse("1e-300"));
        assertEquals(-0.0, Json.parse("-0.0"));
    }

    @Test
    void integersAreLongsWhileInRangeAndDoublesBeyond() {
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, Json.parse("-9223372036854775808"));
        assertEquals(9.223372036854775808e18, Json.parse("9223372036854775808"));
        assertInstanceOf(Double.class, Json.parse("-9223372036854775809"));
        assertEquals(1e20, Json.parse("100000000000000000000"));
        assertEquals(1.7976931348623157e308, Json.parse("1.7976931348623157e308"));
        assertInstanceOf(Double.class, Json.parse("2.0"));
    }

    @Test
    void decodesEveryEscape() {
        assertEquals("\"\\/\b\f\n\r\t", Json.parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""));
        assertEquals("\u0000\u00e9\uABCD\uabcd", Json.parse("\"\\u0000\\u00E9\\uABCD\\uabcd\""));
        assertEquals("\uD83D\uDE00", Json.parse("\"\\uD83D\\uDE00\""), "a surrogate pair stays a pair");
        assertEquals("\u00e9\u4e2d\uD83D\uDE00\u007f", Json.parse("\"\u00e9\u4e2d\uD83D\uDE00\u007f\""), "non-ASCII text passes unescaped");
    }

    @Test
    void nestingUpToTheLimitParsesAndOneMoreIsRejected() {
        String ok = "[".repeat(MAX_DEPTH) + "1" + "]".repeat(MAX_DEPTH);
        Object v = Json.parse(ok);
        for (int d = 0; d < MAX_DEPTH; d++) {
            v = ((List<?>) v).get(0);
        }
        assertEquals(1L, v);
        String objects = "{\"k\":".repeat(MAX_DEPTH) + "{}" + "}".repeat(MAX_DEPTH);
        assertRejected(objects, "nested");
        assertRejected("[".repeat(MAX_DEPTH + 1) + "]".repeat(MAX_DEPTH + 1), "nested");
        // far past the limit: must fail cleanly, never with a StackOverflowError
        assertRejected("[".repeat(100_000), "nested");
        assertRejected("{\"a\":".repeat(100_000), "nested");
    }

    @Test
    void truncatedDocumentsAreRejected() {
        String doc = "{\"a\":[1,2.5e-3,{\"b\":\"c\\u00e9\\n\"}],\"d\":true,\"e\":null,\"f\":false}";
        assertEquals(4, ((Map<?, ?>) Json.parse(doc)).size(), "the whole document parses");
        for (int n = 0; n < doc.length(); n++) {
            String cut = doc.substring(0, n);
            assertThrows(JsonException.class, () -> Json.parse(cut), () -> "prefix \"" + cut + "\" must be rejected");
        }
        for (String s : new String[] {"", " ", "[", "{", "\"", "\"abc", "\"\\", "\"\\u12", "tru", "nul", "fals", "-", "1.", "1e",
                "1e+", "[1,", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,"}) {
            assertThrows(JsonException.class, () -> Json.parse(s), () -> "\"" + s + "\" must be rejected");
        }
    }

    @Test
    void badEscapesAreRejected() {
        for (String esc : new String[] {"\\x", "\\U0041", "\\u12G4", "\\u+123", "\\u-123", "\\u 123", "\\u0x12", "\\'", "\\a",
                "\\0", "\\u\u0661\u0662\u0663\u0664"}) {
            assertRejected("\"a" + esc + "b\"", "escape");
        }
    }

    @Test
    void rawControlCharactersInStringsAreRejected() {
        for (char c = 0; c < 0x20; c++) {
            assertRejected("\"a" + c + "b\"", "control character");
        }
        assertEquals("a\u007fb", Json.parse("\"a\u007fb\""), "DEL is not a control character for JSON");
    }

    @Test
    void duplicateKeysAreRejectedAtEveryLevel() {
        assertRejected("{\"a\":1,\"a\":2}", "duplicate key \"a\"");
        assertRejected("{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", "duplicate key \"c\"");
        assertRejected("[{\"x\":null,\"y\":0,\"x\":null}]", "duplicate key \"x\"");
        assertRejected("{\"\\u0061\":1,\"a\":2}", "duplicate key \"a\"");
        assertEquals(Map.of("a", 1L, "A", 2L), Json.parse("{\"a\":1,\"A\":2}"));
    }

    @Test
    void badNumbersAreRejected() {
        for (String n : new String[] {"01", "-01", "00", "+1", ".5", "-.5", "1.", "1.e5", "1e", "1e+", "1E-", "0x10", "1_000",
                "NaN", "Infinity", "-Infinity", "--1", "- 1", "1.5.5", "1e5e5", "\u0661", "1\u0662", "-\u0663", "1.\u0664", "1e\u0665",
                "\uFF11"}) {
            assertThrows(JsonException.class, () -> Json.parse(n), () -> "\"" + n + "\" must be rejected");
            assertThrows(JsonException.class, () -> Json.parse("[" + n + "]"), () -> "[" + n + "] must be rejected");
        }
        for (String huge : new String[] {"1e309", "-1e400", "1" + "0".repeat(400), "-" + "9".repeat(400)}) {
            assertRejected(huge, "range");
        }
    }

    @Test
    void trailingGarbageAndBadStructureAreRejected() {
        for (String s : new String[] {"{} x", "1 2", "[1]]", "{}}", "nulll", "truex", "\"a\"\"b\"", "[1 2]", "{\"a\" 1}",
                "{1:2}", "{\"a\":1,}", "[1,]", "[,1]", "{,}", "'a'", "{a:1}", "[1]/*c*/", "//c\n1", "\uFEFF{}", "\u00a0{}",
                "\f{}", "[1;2]", "{\"a\":1;\"b\":2}", "{\"a\"::1}", "[\"a\":1]", "True", "NULL", "[1,,2]"}) {
            JsonException e = assertThrows(JsonException.class, () -> Json.parse(s), () -> "\"" + s + "\" must be rejected");
            assertTrue(e.getMessage().contains("offset"), e.getMessage());
        }
    }

    @Test
    void errorsGiveTheOffsetOfTheProblem() {
        assertEquals("bad JSON at offset 7: trailing characters after the JSON value",
                assertThrows(JsonException.class, () -> Json.parse("[1, 2] x")).getMessage());
        assertTrue(assertThrows(JsonException.class, () -> Json.parse("{\"k\": tru}")).getMessage().startsWith("bad JSON at offset 6:"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse(null));
    }

    @Test
    void writerOutputParsesBackToTheSameValueOnRandomDocuments() {
        long seed = System.nanoTime();
        System.out.println("JsonTest seed " + seed);
        Random rnd = new Random(seed);
        for (int doc = 0; doc < 300; doc++) {
            Object v = randomValue(rnd, 0);
            String text = Json.write(v);
            Object back;
            try {
                back = Json.parse(text);
            } catch (JsonException e) {
                throw new AssertionError("seed " + seed + ": writer output does not parse: " + text, e);
            }
            if (!Objects.equals(v, back)) {
                fail("seed " + seed + ": round trip changed " + v + " into " + back);
            }
            assertEquals(text, Json.write(back), "seed " + seed);
        }
    }

    @Test
    void writerEscapesEveryControlCharacterAndRejectsNonFiniteNumbers() {
        StringBuilder all = new StringBuilder();
        for (char c = 0; c < 0x80; c++) {
            all.append(c);
        }
        String text = Json.write(all.toString());
        for (int k = 1; k < text.length() - 1; k++) {
            assertTrue(text.charAt(k) >= 0x20, "raw control character in " + text);
        }
        assertEquals(all.toString(), Json.parse(text));
        assertEquals("{\"a\":[1,2.5,null,true,\"x\"]}", Json.write(Map.of("a", Arrays.asList(1, 2.5, null, true, "x"))));
        assertEquals("3", Json.write(3.0));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Json.write(List.of(Float.POSITIVE_INFINITY)));
        assertThrows(IllegalArgumentException.class, () -> Json.write(new Object()));
        assertEquals(0.1f, ((Double) Json.parse(Json.write(0.1f))).floatValue(), "floats come back exactly");
    }

    private static Object randomValue(Random rnd, int depth) {
        int kind = rnd.nextInt(depth > 5 ? 6 : 8);
        return switch (kind) {
            case 0 -> null;
            case 1 -> rnd.nextBoolean();
            case 2 -> rnd.nextInt(3) == 0 ? rnd.nextLong() : (long) rnd.nextInt(1000) - 500;
            case 3 -> randomDouble(rnd);
            case 4, 5 -> randomString(rnd);
            case 6 -> {
                List<Object> l = new ArrayList<>();
                for (int k = rnd.nextInt(5); k > 0; k--) {
                    l.add(randomValue(rnd, depth + 1));
                }
                yield l;
            }
            default -> {
                Map<String, Object> m = new LinkedHashMap<>();
                for (int k = rnd.nextInt(5); k > 0; k--) {
                    m.put(randomString(rnd), randomValue(rnd, depth + 1));
                }
                yield m;
            }
        };
    }

    /** A finite, non-integral double (integral ones come back as Long by design). */
    private static double randomDouble(Random rnd) {
        while (true) {
            double d = switch (rnd.nextInt(3)) {
                case 0 -> rnd.nextGaussian();
                case 1 -> Double.longBitsToDouble(rnd.nextLong());
                default -> (rnd.nextInt(2000) - 1000) / 8.0;
            };
            if (Double.isFinite(d) && d != Math.rint(d)) {
                return d;
            }
        }
    }

    private static String randomString(Random rnd) {
        StringBuilder b = new StringBuilder();
        for (int k = rnd.nextInt(8); k > 0; k--) {
            b.append(switch (rnd.nextInt(4)) {
                case 0 -> (char) rnd.nextInt(0x20);
                case 1 -> "\"\\/".charAt(rnd.nextInt(3));
                case 2 -> (char) (0x20 + rnd.nextInt(0x60));
                default -> (char) (0xA0 + rnd.nextInt(0xD000));
            });
        }
        return b.toString();
    }

    private static void assertRejected(String text, String messagePart) {
        JsonException e = assertThrows(JsonException.class, () -> Json.parse(text),
                () -> "\"" + (text.length() > 40 ? text.substring(0, 40) + "..." : text) + "\" must be rejected");
        assertTrue(e.getMessage().contains(messagePart), () -> "message \"" + e.getMessage() + "\" should mention " + messagePart);
        assertTrue(e.getMessage().startsWith("bad JSON at offset "), e.getMessage());
    }
}

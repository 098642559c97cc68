import io.github.ds4j.format.BF16;
import io.github.ds4j.format.E2M1;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.format.UE8M0;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Compares the output of formats_host.cpp (the CUDA format helpers built for the host) with
 * io.github.ds4j.format.*: usage {@code java -cp java-api/target/classes CheckFormats.java OUT}.
 */
public class CheckFormats {
    static long mix(long h, long v) {
        return (h ^ v) * 0x100000001B3L;
    }

    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Path.of(args[0]));
        int bad = 0;
        int checked = 0;
        for (String line : lines) {
            String[] f = line.split(" ");
            String expected;
            switch (f[0]) {
                case "e4m3_decode" -> expected = hex(E4M3.decode((byte) Integer.parseInt(f[1])));
                case "ue8m0_decode" -> expected = hex(UE8M0.decode((byte) Integer.parseInt(f[1])));
                case "e2m1_decode" -> expected = hex(E2M1.decode(Integer.parseInt(f[1])));
                case "exp2" -> expected = hex(Math.scalb(1f, Integer.parseInt(f[1])));
                case "ue8m0_from_exponent" -> expected = Integer.toString(
                        UE8M0.fromExponent(Math.max(-127, Math.min(127, Integer.parseInt(f[1])))) & 0xFF);
                case "chunk" -> expected = chunk(Integer.parseInt(f[1]));
                default -> throw new IllegalStateException("unknown line " + line);
            }
            String actual = line.substring(line.indexOf(' ', f[0].length() + 1) + 1);
            checked++;
            if (!expected.equals(actual)) {
                bad++;
                if (bad <= 20) {
                    System.out.println("MISMATCH " + f[0] + " " + f[1] + ": device " + actual + ", java " + expected);
                }
            }
        }
        System.out.println(bad == 0 ? "formats: all " + checked + " checks equal" : "formats: " + bad + " of " + checked + " checks differ");
        System.exit(bad == 0 ? 0 : 1);
    }

    static String hex(float v) {
        return String.format("%08x", Float.floatToRawIntBits(v));
    }

    static String chunk(int chunk) {
        long h8 = 0xCBF29CE484222325L, h8s = h8, h4 = h8, hb = h8, hl = h8;
        for (int lo = 0; lo < 65536; lo++) {
            int bits = (chunk << 16) | lo;
            float x = Float.intBitsToFloat(bits);
            h8 = mix(h8, E4M3.encode(x) & 0xFF);
            h8s = mix(h8s, E4M3.encodeSaturating(x) & 0xFF);
            h4 = mix(h4, E2M1.encode(Math.max(-E2M1.MAX, Math.min(E2M1.MAX, x))));
            hb = mix(hb, BF16.encode(x) & 0xFFFF);
            boolean positiveFinite = bits > 0 && bits < 0x7F80_0000;
            hl = mix(hl, positiveFinite ? UE8M0.ceilLog2(x) + 1000 : 0);
        }
        return String.format("%016x %016x %016x %016x %016x", h8, h8s, h4, hb, hl);
    }
}

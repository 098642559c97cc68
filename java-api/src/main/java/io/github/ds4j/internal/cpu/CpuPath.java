package io.github.ds4j.internal.cpu;

/**
 * Which CPU code path runs: SIMD through the Vector API when the incubator module
 * {@code jdk.incubator.vector} is in the boot layer (and not switched off with
 * {@code -Dds4j.cpu.simd=false}), else scalar loops; both use every core.
 */
public final class CpuPath {
    private static final boolean SIMD = detect();

    private CpuPath() {
    }

    /** True when the Vector API fast paths run. */
    public static boolean simd() {
        return SIMD;
    }

    /** Worker threads the fast paths use. */
    public static int threads() {
        return Parallel.THREADS;
    }

    /** Width in bits of the preferred vector species, or 0 when SIMD is off. */
    public static int vectorBits() {
        return SIMD ? SimdInfo.preferredBits() : 0;
    }

    /** One line for {@code ds4j info}. */
    public static String describe() {
        if (SIMD) {
            return "SIMD via the Vector API, " + vectorBits() + "-bit vectors (" + vectorBits() / 32 + " f32 lanes), "
                    + threads() + " threads";
        }
        String why = Boolean.getBoolean("ds4j.cpu.simd.off") || "false".equals(System.getProperty("ds4j.cpu.simd"))
                ? "switched off with -Dds4j.cpu.simd=false"
                : "jdk.incubator.vector is not loaded; add --add-modules jdk.incubator.vector to the JVM flags to enable SIMD";
        return "scalar loops (" + why + "), " + threads() + " threads";
    }

    private static boolean detect() {
        if ("false".equals(System.getProperty("ds4j.cpu.simd"))) {
            return false;
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return false;
        }
        try {
            return SimdInfo.preferredBits() >= 128;
        } catch (LinkageError e) {
            return false;
        }
    }
}

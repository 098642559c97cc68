package io.github.ds4j.cuda.internal;

import java.util.Locale;

/**
 * The GEMM kernels of fp8_gemm.cu and fp4_gemm.cu. {@code -Dds4j.cuda.gemm=<name>} forces one
 * (tests use it to cross-check them); the default, {@code auto}, lets {@link GemmKernels} choose.
 */
public enum GemmVariant {
    /** Reference-order FMA kernel, any GPU. */
    SIMPLE("simple"),
    /** bf16 mma.sync after exact decoding, sm_80 and newer. */
    MMA80("mma80"),
    /** Decode kernel for M <= 64: FP8 mma.sync, weights streamed once, sm_90 only. */
    SKINNY("skinny"),
    /** FP8 wgmma with a producer warpgroup, sm_90a only. */
    WGMMA("wgmma");

    /** The system property that forces a variant. */
    public static final String PROPERTY = "ds4j.cuda.gemm";

    private final String id;

    GemmVariant(String id) {
        this.id = id;
    }

    /** The name used in entry points ({@code ds4j_fp8_gemm_<id>...}) and in the property. */
    public String id() {
        return id;
    }

    /** The variant forced by {@link #PROPERTY}, or null for {@code auto} (or unset). */
    public static GemmVariant forced() {
        String v = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        if (v.isEmpty() || v.equals("auto")) {
            return null;
        }
        for (GemmVariant g : values()) {
            if (g.id.equals(v)) {
                return g;
            }
        }
        throw new IllegalArgumentException(PROPERTY + ": expected auto, simple, mma80, skinny or wgmma, got \"" + v + "\"");
    }
}

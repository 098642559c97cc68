package io.github.ds4j.internal.checkpoint;

import io.github.ds4j.DType;
import io.github.ds4j.Shape;
import io.github.ds4j.Tensor;
import io.github.ds4j.format.E2M1;
import io.github.ds4j.format.E4M3;
import io.github.ds4j.format.UE8M0;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Random weights in the dtypes and layouts V4 checkpoints ship: FP8 E4M3 with 128x128 UE8M0
 * scales, MXFP4 packed as I8 [out, in/2] with 1x32 UE8M0 scales, BF16 and F32. Values are
 * Gaussian with a chosen standard deviation (e.g. 1/sqrt(in) keeps activations in range), then
 * quantized with the same power-of-two scale rule as the activations.
 */
public final class RandomWeights {
    private final SplittableRandom rng;

    public RandomWeights(long seed) {
        this.rng = new SplittableRandom(seed);
    }

    /**
     * A generator for the tensor called {@code name}: seeded by the seed and the name (FNV-1a of
     * its UTF-8 bytes, then a SplitMix64 finalizer), so a tensor does not depend on which others
     * were generated before it.
     */
    public static RandomWeights forName(long seed, String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xFF)) * 0x100000001b3L;
        }
        long z = seed * 0x9E3779B97F4A7C15L + h;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return new RandomWeights(z ^ (z >>> 31));
    }

    /** A Gaussian sample. */
    public double gaussian() {
        return rng.nextGaussian();
    }

    /** A uniform sample in [lo, hi). */
    public double uniform(double lo, double hi) {
        return rng.nextDouble(lo, hi);
    }

    /** Gaussian values of {@code std} as f32. */
    public float[] gaussian(long n, double std) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rng.nextGaussian() * std);
        }
        return v;
    }

    /** A host tensor of Gaussian values rounded to {@code dtype} (F32, BF16 or F16). */
    public Tensor real(DType dtype, Shape shape, double std) {
        return Tensor.fromFloats(gaussian(shape.numel(), std), dtype, shape);
    }

    /**
     * An FP8 weight [out, in]: {@code [0]} E4M3 values, {@code [1]} F8_E8M0 scales
     * [ceil(out/128), ceil(in/128)]; each 128x128 block scaled so its amax maps near 448.
     */
    public Tensor[] fp8(int out, int in, double std) {
        float[] w = gaussian((long) out * in, std);
        int rb = (out + 127) / 128;
        int cb = (in + 127) / 128;
        byte[] codes = new byte[out * in];
        byte[] scales = new byte[rb * cb];
        for (int br = 0; br < rb; br++) {
            for (int bc = 0; bc < cb; bc++) {
                float amax = 0;
                for (int r = br * 128; r < Math.min(out, br * 128 + 128); r++) {
                    for (int c = bc * 128; c < Math.min(in, bc * 128 + 128); c++) {
                        amax = Math.max(amax, Math.abs(w[r * in + c]));
                    }
                }
                int e = UE8M0.ceilLog2(Math.max(amax, 1e-30f) / E4M3.MAX);
                scales[br * cb + bc] = UE8M0.fromExponent(e);
                float inv = Math.scalb(1f, -e);
                for (int r = br * 128; r < Math.min(out, br * 128 + 128); r++) {
                    for (int c = bc * 128; c < Math.min(in, bc * 128 + 128); c++) {
                        codes[r * in + c] = E4M3.encodeSaturating(w[r * in + c] * inv);
                    }
                }
            }
        }
        return new Tensor[] {
            Tensor.fromBytes(codes, DType.F8_E4M3, Shape.of(out, in)),
            Tensor.fromBytes(scales, DType.F8_E8M0, Shape.of(rb, cb)),
        };
    }

    /**
     * An MXFP4 weight [out, in] as checkpoints store it: {@code [0]} I8 [out, in/2] (element 2i in
     * the low nibble), {@code [1]} F8_E8M0 scales [out, in/32].
     */
    public Tensor[] mxfp4(int out, int in, double std) {
        if (in % 32 != 0) {
            throw new IllegalArgumentException("MXFP4 weights need in % 32 == 0, got " + in);
        }
        float[] w = gaussian((long) out * in, std);
        byte[] packed = new byte[out * in / 2];
        byte[] scales = new byte[out * in / 32];
        for (int r = 0; r < out; r++) {
            for (int b = 0; b < in / 32; b++) {
                float amax = 0;
                for (int c = b * 32; c < b * 32 + 32; c++) {
                    amax = Math.max(amax, Math.abs(w[r * in + c]));
                }
                int e = UE8M0.ceilLog2(Math.max(amax, 1e-30f) / E2M1.MAX);
                scales[r * (in / 32) + b] = UE8M0.fromExponent(e);
                float inv = Math.scalb(1f, -e);
                for (int c = b * 32; c < b * 32 + 32; c += 2) {
                    int lo = E2M1.encode(w[r * in + c] * inv);
                    int hi = E2M1.encode(w[r * in + c + 1] * inv);
                    packed[(r * in + c) / 2] = E2M1.pack(lo, hi);
                }
            }
        }
        return new Tensor[] {
            Tensor.fromBytes(packed, DType.I8, Shape.of(out, in / 2)),
            Tensor.fromBytes(scales, DType.F8_E8M0, Shape.of(out, in / 32)),
        };
    }
}

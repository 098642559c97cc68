package io.github.ds4j;

/**
 * Rotary embedding over the last {@code dims} values of a head (spec §6): interleaved pairs
 * (2i, 2i+1) rotate by angle {@code pos * f_i}, {@code f_i = base^(-2i/dims)}, optionally
 * stretched by YaRN. No magnitude (mscale) factor.
 *
 * @param dims rotated dimensions (even), 64 in V4
 * @param base frequency base: 10000 on window-only layers, 160000 on compressed ones
 * @param yarn YaRN stretching, or null for none
 */
public record RopeSpec(int dims, double base, Yarn yarn) {

    /**
     * YaRN parameters as config.json's {@code rope_scaling} gives them.
     *
     * @param factor stretch of the low frequencies (16 in V4)
     * @param originalMaxPositions the pre-training context (65536 in V4)
     * @param betaFast rotations bounding the unstretched high frequencies (32)
     * @param betaSlow rotations bounding the fully stretched low frequencies (1)
     */
    public record Yarn(double factor, long originalMaxPositions, double betaFast, double betaSlow) {
        public Yarn {
            if (!(factor > 0) || originalMaxPositions <= 0 || !(betaFast > 0) || !(betaSlow > 0)) {
                throw new IllegalArgumentException("bad YaRN parameters: factor " + factor + ", original "
                        + originalMaxPositions + ", beta_fast " + betaFast + ", beta_slow " + betaSlow);
            }
        }
    }

    public RopeSpec {
        if (dims <= 0 || (dims & 1) != 0) {
            throw new IllegalArgumentException("rope dims must be positive and even, got " + dims);
        }
        if (!(base > 1)) {
            throw new IllegalArgumentException("rope base must be > 1, got " + base);
        }
    }

    /** Plain RoPE without YaRN. */
    public static RopeSpec plain(int dims, double base) {
        return new RopeSpec(dims, base, null);
    }

    /**
     * The {@code dims/2} frequencies f_i as f32, computed as the reference does: the YaRN ramp
     * between {@code low = floor(corr(betaFast))} and {@code high = ceil(corr(betaSlow))}, both
     * clamped to [0, dims-1], with {@code corr(r) = dims*ln(orig/(r*2pi)) / (2 ln base)}.
     */
    public float[] frequencies() {
        int half = dims / 2;
        float[] f = new float[half];
        for (int i = 0; i < half; i++) {
            f[i] = (float) (1.0 / Math.pow(base, (2.0 * i) / dims));
        }
        if (yarn != null) {
            int low = (int) Math.floor(correctionDim(yarn.betaFast()));
            int high = (int) Math.ceil(correctionDim(yarn.betaSlow()));
            low = Math.max(low, 0);
            high = Math.min(high, dims - 1);
            float span = high == low ? 0.001f : high - low;
            for (int i = 0; i < half; i++) {
                float ramp = Math.min(1f, Math.max(0f, (i - low) / span));
                float smooth = 1f - ramp;
                f[i] = f[i] / (float) yarn.factor() * (1f - smooth) + f[i] * smooth;
            }
        }
        return f;
    }

    /**
     * cos and sin of the angle of pair {@code i} at {@code pos}: the angle is the f32 product
     * {@code (float) pos * f_i}, as the reference's f32 outer product gives it.
     */
    public static double angle(long pos, float frequency) {
        return (float) pos * frequency;
    }

    private double correctionDim(double rotations) {
        return dims * Math.log(yarn.originalMaxPositions() / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }
}

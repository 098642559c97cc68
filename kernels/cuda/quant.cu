// FP8 activation quantization and the FP8 / FP4 quantize-dequantize simulations (spec §2):
// Backend.quantizeActivations, fp8Simulate, fp4Simulate. Every code and value equals the CPU
// reference bit for bit: the block scale is an exact power of two, x * 2^-e is one correctly
// rounded f32 product, and the E4M3 / E2M1 roundings are the integer ones of ds4j_formats.cuh.
//
// Launch (QuantKernels.java): 1-D grid of QUANT_THREADS-thread blocks; one warp per
// (row, column block) group, groups numbered row-major. The last block of a row may be partial.
// A block holding a NaN or an infinity gets a NaN scale (UE8M0 0xFF / f32 NaN), NaN codes (0x7F)
// and NaN simulated values.
#include "ds4j_rows.cuh"

using namespace ds4j;

// Eight warps (eight column blocks) per thread block; a 1x128 block is 4 values per lane.
constexpr int QUANT_THREADS = 256;

// amax floors of the spec: 1e-4 for FP8, 6 * 2^-126 for FP4.
constexpr float FP8_AMAX_FLOOR = 1e-4f;
__device__ __forceinline__ float fp4_amax_floor() {
    return __uint_as_float(0x01C00000u); // 1.5 * 2^-124 = 6 * 2^-126
}

struct BlockMax {
    float amax;     // largest |x| over the finite values
    bool nonfinite; // a NaN or an infinity is in the block
};

// The warp's reduction over x[base .. base + len).
__device__ __forceinline__ BlockMax block_max(const void* x, int xdt, long long base, int len, int lane) {
    float m = 0.0f;
    bool bad = false;
    for (int c = lane; c < len; c += WARP_SIZE) {
        float a = fabsf(load_real(x, xdt, base + c));
        if (not_finite(a)) {
            bad = true;
        } else {
            m = fmaxf(m, a);
        }
    }
    BlockMax out;
    out.amax = warp_max_finite(m);
    out.nonfinite = __any_sync(FULL_MASK, bad) != 0;
    return out;
}

// ceil(log2(max(amax, floor) / qmax)): the exponent e of the block scale 2^e.
__device__ __forceinline__ int scale_exponent(float amax, float floor, float qmax) {
    return ceil_log2(__fdiv_rn(fmaxf(amax, floor), qmax));
}

extern "C" __global__ void __launch_bounds__(QUANT_THREADS)
ds4j_quant_act(const void* x, int xdt, long long x_stride,
               uint8_t* q, long long q_stride,
               void* scales, int scales_e8m0, long long s_stride,
               long long rows, int cols, int block) {
    const int lane = lane_id();
    const int groups = (cols + block - 1) / block;
    const long long items = rows * groups;
    for (long long w = global_warp(); w < items; w += warps_in_grid()) {
        const long long r = w / groups;
        const int g = static_cast<int>(w - r * groups);
        const int from = g * block;
        const int len = min(block, cols - from);
        const long long xb = r * x_stride + from;
        uint8_t* qrow = q + r * q_stride + from;
        const BlockMax bm = block_max(x, xdt, xb, len, lane);
        uint8_t code;
        if (bm.nonfinite) {
            for (int c = lane; c < len; c += WARP_SIZE) {
                qrow[c] = E4M3_NAN;
            }
            code = UE8M0_NAN;
        } else {
            const int e = scale_exponent(bm.amax, FP8_AMAX_FLOOR, E4M3_MAX);
            const float inv = exp2_exact(-e); // exact: x * 2^-e is x / s
            for (int c = lane; c < len; c += WARP_SIZE) {
                qrow[c] = e4m3_encode_saturating(__fmul_rn(load_real(x, xdt, xb + c), inv));
            }
            code = ue8m0_from_exponent(e);
        }
        if (lane == 0) {
            const long long at = r * s_stride + g;
            if (scales_e8m0) {
                static_cast<uint8_t*>(scales)[at] = code;
            } else {
                static_cast<float*>(scales)[at] = ue8m0_decode(code);
            }
        }
    }
}

template <bool FP4>
__device__ __forceinline__ void simulate_rows(const void* x, int xdt, long long x_stride,
                                              void* y, int ydt, long long y_stride,
                                              long long rows, int cols, int block) {
    const int lane = lane_id();
    const int groups = (cols + block - 1) / block;
    const long long items = rows * groups;
    for (long long w = global_warp(); w < items; w += warps_in_grid()) {
        const long long r = w / groups;
        const int g = static_cast<int>(w - r * groups);
        const int from = g * block;
        const int len = min(block, cols - from);
        const long long xb = r * x_stride + from;
        const long long yb = r * y_stride + from;
        // every lane has read its values of the block before any lane writes (y may be x)
        const BlockMax bm = block_max(x, xdt, xb, len, lane);
        if (bm.nonfinite) {
            for (int c = lane; c < len; c += WARP_SIZE) {
                store_real(y, ydt, yb + c, nan_f32());
            }
            continue;
        }
        const int e = FP4 ? scale_exponent(bm.amax, fp4_amax_floor(), E2M1_MAX)
                          : scale_exponent(bm.amax, FP8_AMAX_FLOOR, E4M3_MAX);
        const float s = exp2_exact(e);
        const float inv = exp2_exact(-e);
        for (int c = lane; c < len; c += WARP_SIZE) {
            const float v = __fmul_rn(load_real(x, xdt, xb + c), inv);
            const float q = FP4 ? e2m1_decode(e2m1_encode_clamped(v)) : e4m3_decode(e4m3_encode_saturating(v));
            store_real(y, ydt, yb + c, __fmul_rn(q, s));
        }
    }
}

extern "C" __global__ void __launch_bounds__(QUANT_THREADS)
ds4j_quant_fp8_sim(const void* x, int xdt, long long x_stride,
                   void* y, int ydt, long long y_stride,
                   long long rows, int cols, int block) {
    simulate_rows<false>(x, xdt, x_stride, y, ydt, y_stride, rows, cols, block);
}

extern "C" __global__ void __launch_bounds__(QUANT_THREADS)
ds4j_quant_fp4_sim(const void* x, int xdt, long long x_stride,
                   void* y, int ydt, long long y_stride,
                   long long rows, int cols, int block) {
    simulate_rows<true>(x, xdt, x_stride, y, ydt, y_stride, rows, cols, block);
}

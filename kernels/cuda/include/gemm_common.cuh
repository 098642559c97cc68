// Shared pieces of the block-scaled GEMM kernels (fp8_gemm.cu, fp4_gemm.cu): the kernel
// signature, number-format decoding, scale loads and output stores. Every GEMM entry point takes
//
//   (const uint8_t* a, const void* a_scale, const uint8_t* w, const void* w_scale, void* y,
//    int M, int N, int K, long long y_stride, int flags)
//
// a: E4M3 [M, K] row-major; a_scale [M, K/128]; w: E4M3 [N, K] (w_scale [ceil(N/128), K/128]) or
// packed E2M1 [N, K/2 bytes] (w_scale [N, K/32]); y [M, N] with y_stride elements between rows.
// K is a multiple of 128; M, N >= 1. flags: which scales are F32 (else UE8M0) and whether y is
// BF16 (else F32). GemmKernels.java mirrors the flag bits and every launch constant.
#pragma once

#include <cstdint>
#include <cuda_bf16.h>

namespace ds4j {
namespace gemm {

constexpr int FLAG_A_SCALE_F32 = 1;
constexpr int FLAG_W_SCALE_F32 = 2;
constexpr int FLAG_OUT_BF16 = 4;

// Columns per activation scale and per FP8 weight scale block.
constexpr int SCALE_BLOCK = 128;
// Columns per MXFP4 weight scale.
constexpr int FP4_SCALE_BLOCK = 32;

// UE8M0: 2^(e-127); code 0 is 2^-127 (an f32 subnormal) and 0xFF is NaN.
__device__ __forceinline__ float ue8m0_to_float(uint32_t e) {
    if (e == 0xFFu) {
        return __uint_as_float(0x7FC00000u);
    }
    return e == 0 ? __uint_as_float(0x00400000u) : __uint_as_float(e << 23);
}

__device__ __forceinline__ float load_scale(const void* p, size_t i, bool f32) {
    return f32 ? __ldg(static_cast<const float*>(p) + i)
               : ue8m0_to_float(__ldg(static_cast<const uint8_t*>(p) + i));
}

// Exact E4M3 ("fn") decode. The 7 magnitude bits shifted into an f32 exponent/mantissa give
// the value times 2^-120 (subnormal codes land on f32 subnormals), so one exact multiply by
// 2^120 finishes it; this needs the default non-flushing f32 multiply (no -ftz).
__device__ __forceinline__ float e4m3_to_float(uint32_t b) {
    uint32_t mag = b & 0x7Fu;
    float v = mag == 0x7Fu ? __uint_as_float(0x7FC00000u) : __uint_as_float(mag << 20) * 0x1p120f;
    return (b & 0x80u) ? -v : v;
}

// Exact E2M1 decode of the low nibble: magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}.
__device__ __forceinline__ float e2m1_to_float(uint32_t code) {
    uint32_t e = (code >> 1) & 3u;
    uint32_t m = code & 1u;
    float v = e == 0 ? 0.5f * static_cast<float>(m) : __uint_as_float(((e + 126u) << 23) | (m << 22));
    return (code & 8u) ? -v : v;
}

// Four E2M1 codes (the low 16 bits of `nib`, code i in bits 4i..4i+3) to four E4M3 bytes (byte i).
// Every E2M1 value is exact in E4M3: magnitudes go through a byte-permute table, signs move from
// bit 3 of each nibble to bit 7 of each byte.
__device__ __forceinline__ uint32_t e2m1x4_to_e4m3x4(uint32_t nib) {
    // E4M3 codes of 0, 0.5, 1, 1.5 (low word) and 2, 3, 4, 6 (high word).
    constexpr uint32_t kLow = 0x3C383000u;
    constexpr uint32_t kHigh = 0x4C484440u;
    uint32_t mag = __byte_perm(kLow, kHigh, nib & 0x7777u);
    // Sign of code 0 is bit 3 (bit 7 of nib << 4), of code 1 bit 7, of code 2 bit 11 (bit 15 of
    // nib << 4), of code 3 bit 15: pick those bytes in order and keep their top bits.
    uint32_t sign = __byte_perm(nib << 4, nib, 0x5140u) & 0x80808080u;
    return mag | sign;
}

// Eight packed E2M1 codes (one 32-bit word) to eight E4M3 bytes.
__device__ __forceinline__ uint2 e2m1x8_to_e4m3x8(uint32_t packed) {
    return make_uint2(e2m1x4_to_e4m3x4(packed & 0xFFFFu), e2m1x4_to_e4m3x4(packed >> 16));
}

// Two E4M3 bytes (bits 0-7 and 8-15) to a bf16x2 word (first value in the low half). Exact:
// every E4M3 value has a 4-bit significand and an exponent well inside bf16's range.
__device__ __forceinline__ uint32_t e4m3x2_to_bf16x2(uint32_t two) {
    __nv_bfloat162 h = __floats2bfloat162_rn(e4m3_to_float(two & 0xFFu), e4m3_to_float((two >> 8) & 0xFFu));
    return *reinterpret_cast<uint32_t*>(&h);
}

// y[i] = v as F32, or as BF16 rounded to nearest even.
__device__ __forceinline__ void store_out(void* y, size_t i, float v, bool bf16) {
    if (bf16) {
        static_cast<__nv_bfloat16*>(y)[i] = __float2bfloat16_rn(v);
    } else {
        static_cast<float*>(y)[i] = v;
    }
}

// The wgmma epilogue: a thread's 64 accumulators of an m64n128 tile (rows r0 and r1 = r0 + 8,
// columns n0 + 8j + 2t and the one after, j < 16) to y, skipping rows and columns past M and N.
__device__ __forceinline__ void store_wgmma_tile(void* y, long long y_stride, int M, int N, int r0, int r1, int n0,
                                                 int t, const float (&acc)[64], bool bf16) {
#pragma unroll
    for (int j = 0; j < 16; j++) {
        const int n = n0 + 8 * j + 2 * t;
        if (r0 < M) {
            if (n < N) store_out(y, static_cast<size_t>(r0) * y_stride + n, acc[4 * j + 0], bf16);
            if (n + 1 < N) store_out(y, static_cast<size_t>(r0) * y_stride + n + 1, acc[4 * j + 1], bf16);
        }
        if (r1 < M) {
            if (n < N) store_out(y, static_cast<size_t>(r1) * y_stride + n, acc[4 * j + 2], bf16);
            if (n + 1 < N) store_out(y, static_cast<size_t>(r1) * y_stride + n + 1, acc[4 * j + 3], bf16);
        }
    }
}

__device__ __forceinline__ uint4 ldg16(const void* p) {
    return __ldg(static_cast<const uint4*>(p));
}

// ---- tile rasterization shared by the tiled kernels ----

// Maps a linear tile id to (tile_m, tile_n) so that consecutive CTAs sweep GROUP_M tiles along M
// before moving along N: a wave then reuses a few A row-blocks and W column-blocks from L2
// instead of streaming all of W for every row-block.
template <int GROUP_M>
__device__ __forceinline__ void grouped_tile(int id, int tiles_m, int tiles_n, int& tm, int& tn) {
    int per_group = GROUP_M * tiles_n;
    int group = id / per_group;
    int first_m = group * GROUP_M;
    int size_m = min(tiles_m - first_m, GROUP_M);
    int in_group = id - group * per_group;
    tm = first_m + in_group % size_m;
    tn = in_group / size_m;
}

}  // namespace gemm
}  // namespace ds4j

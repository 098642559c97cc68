// The sm_80 GEMM: FP8 (and FP4) operands are decoded to bf16 on their way into shared memory
// (E4M3 and E2M1 values are exact in bf16) and multiplied with mma.sync m16n8k16 (bf16 in, f32
// accumulate), since sm_80 has no FP8 tensor cores. Two-level accumulation as the spec asks: a
// block accumulator holds one scale block's dot products (128 columns of K for FP8 weights, 32 for
// MXFP4 weights), which is then scaled and added into the main f32 accumulator.
//
// Also compiled into the sm_90a code, where -Dds4j.cuda.gemm=mma80 runs it; a Hopper machine
// tests the real sm_80 build by loading the compute_80 PTX (KernelLauncher.sm80Mode()).
//
// Launch contract: grid (ceil(N/128), ceil(M/128)), block 256, dynamic shared memory SMEM_BYTES.
// Needs a and w 16-byte aligned.
#pragma once

#include "gemm_common.cuh"
#include "gemm_mma.cuh"

namespace ds4j {
namespace gemm {
namespace mma80 {

constexpr int BM = 128;       // output tile rows (of a / y)
constexpr int BN = 128;       // output tile columns (rows of w); one FP8 weight scale block
constexpr int BK = 64;        // K columns per pipeline step: 2 steps per 128-column scale block
constexpr int THREADS = 256;  // 8 warps: 2 along M x 4 along N, 64x32 outputs each
constexpr int PITCH = BK + 8;  // bf16 per shared row; the 16-byte pad makes fragment loads conflict-free
constexpr int SMEM_BYTES = 2 * (BM + BN) * PITCH * 2;  // double-buffered bf16 A and W tiles

__device__ __forceinline__ uint32_t lds32(const uint16_t* p) {
    return *reinterpret_cast<const uint32_t*>(p);
}

// 16 E4M3 bytes -> 16 bf16 at dst (16-byte aligned).
__device__ __forceinline__ void store_e4m3x16_as_bf16(uint16_t* dst, uint4 v) {
    uint4 lo = make_uint4(e4m3x2_to_bf16x2(v.x & 0xFFFFu), e4m3x2_to_bf16x2(v.x >> 16),
                          e4m3x2_to_bf16x2(v.y & 0xFFFFu), e4m3x2_to_bf16x2(v.y >> 16));
    uint4 hi = make_uint4(e4m3x2_to_bf16x2(v.z & 0xFFFFu), e4m3x2_to_bf16x2(v.z >> 16),
                          e4m3x2_to_bf16x2(v.w & 0xFFFFu), e4m3x2_to_bf16x2(v.w >> 16));
    reinterpret_cast<uint4*>(dst)[0] = lo;
    reinterpret_cast<uint4*>(dst)[1] = hi;
}

template <bool FP4>
__device__ __forceinline__ void gemm(const uint8_t* __restrict__ a, const void* __restrict__ a_scale,
                                     const uint8_t* __restrict__ w, const void* __restrict__ w_scale,
                                     void* __restrict__ y, int M, int N, int K, long long y_stride, int flags) {
    extern __shared__ uint4 smem_u4[];
    uint16_t* const a_tile = reinterpret_cast<uint16_t*>(smem_u4);  // [2][BM][PITCH]
    uint16_t* const w_tile = a_tile + 2 * BM * PITCH;               // [2][BN][PITCH]
    const bool a_f32 = flags & FLAG_A_SCALE_F32;
    const bool w_f32 = flags & FLAG_W_SCALE_F32;

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int wm = warp >> 2;  // 0..1: 64-row half of the tile
    const int wn = warp & 3;   // 0..3: 32-column quarter
    const int m0 = blockIdx.y * BM;
    const int n0 = blockIdx.x * BN;
    const int steps = K / BK;
    const int kb_count = K / SCALE_BLOCK;
    const int w_scale_cols = FP4 ? K / FP4_SCALE_BLOCK : kb_count;

    // Global -> register staging: A (and FP8 W) as 512 chunks of 16 bytes (row c/4, K offset
    // 16*(c%4)), two per thread; FP4 W as 256 chunks of 16 packed bytes (row c/2, K offset 32*(c%2)).
    uint4 ra[2];
    uint4 rw[FP4 ? 1 : 2];
    auto load = [&](int step) {
#pragma unroll
        for (int i = 0; i < 2; i++) {
            int c = tid + THREADS * i;
            int row = c >> 2;
            int gm = m0 + row;
            ra[i] = gm < M ? ldg16(a + static_cast<size_t>(gm) * K + step * BK + (c & 3) * 16) : make_uint4(0, 0, 0, 0);
        }
        if (FP4) {
            int gn = n0 + (tid >> 1);
            rw[0] = gn < N ? ldg16(w + static_cast<size_t>(gn) * (K / 2) + step * (BK / 2) + (tid & 1) * 16)
                           : make_uint4(0, 0, 0, 0);
        } else {
#pragma unroll
            for (int i = 0; i < (FP4 ? 1 : 2); i++) {
                int c = tid + THREADS * i;
                int gn = n0 + (c >> 2);
                rw[i] = gn < N ? ldg16(w + static_cast<size_t>(gn) * K + step * BK + (c & 3) * 16) : make_uint4(0, 0, 0, 0);
            }
        }
    };
    auto store = [&](int buf) {
        uint16_t* at = a_tile + buf * BM * PITCH;
        uint16_t* wt = w_tile + buf * BN * PITCH;
#pragma unroll
        for (int i = 0; i < 2; i++) {
            int c = tid + THREADS * i;
            store_e4m3x16_as_bf16(at + (c >> 2) * PITCH + (c & 3) * 16, ra[i]);
        }
        if (FP4) {
            uint16_t* dst = wt + (tid >> 1) * PITCH + (tid & 1) * 32;
            uint32_t words[4] = {rw[0].x, rw[0].y, rw[0].z, rw[0].w};
#pragma unroll
            for (int h = 0; h < 4; h++) {
                uint2 e = e2m1x8_to_e4m3x8(words[h]);  // 8 values as E4M3, then exactly to bf16
                reinterpret_cast<uint4*>(dst)[h] =
                    make_uint4(e4m3x2_to_bf16x2(e.x & 0xFFFFu), e4m3x2_to_bf16x2(e.x >> 16),
                               e4m3x2_to_bf16x2(e.y & 0xFFFFu), e4m3x2_to_bf16x2(e.y >> 16));
            }
        } else {
#pragma unroll
            for (int i = 0; i < (FP4 ? 1 : 2); i++) {
                int c = tid + THREADS * i;
                store_e4m3x16_as_bf16(wt + (c >> 2) * PITCH + (c & 3) * 16, rw[i]);
            }
        }
    };

    float acc[4][4][4];    // main accumulator [m16 tile][n8 tile][fragment]
    float block[4][4][4];  // one scale block's dot products
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) {
                acc[i][j][r] = 0.0f;
                block[i][j][r] = 0.0f;
            }

    // This thread's output rows (i, h) -> m0 + 64wm + 16i + g + 8h and columns (j, e) -> n0 + 32wn + 8j + 2t + e.
    const int row_base = m0 + wm * 64 + g;
    const int col_base = n0 + wn * 32 + 2 * t;

    load(0);
    store(0);
    __syncthreads();
    for (int step = 0; step < steps; step++) {
        const int cur = step & 1;
        if (step + 1 < steps) {
            load(step + 1);
        }
        // Scales this step promotes with, fetched before the math so their latency hides behind it.
        float sa[4][2];
        float sw[2][4][2];  // FP8 uses sw[0][0][0] only
        const bool promote128 = !FP4 && (step & 1);
        const int kb = step * BK / SCALE_BLOCK;
        if (FP4 || promote128) {
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    int r = row_base + 16 * i + 8 * h;
                    sa[i][h] = r < M ? load_scale(a_scale, static_cast<size_t>(r) * kb_count + kb, a_f32) : 0.0f;
                }
        }
        if (FP4) {
#pragma unroll
            for (int half = 0; half < 2; half++)
#pragma unroll
                for (int j = 0; j < 4; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        int n = col_base + 8 * j + e;
                        sw[half][j][e] = n < N ? load_scale(w_scale, static_cast<size_t>(n) * w_scale_cols + step * 2 + half, w_f32)
                                               : 0.0f;
                    }
        } else if (promote128) {
            sw[0][0][0] = load_scale(w_scale, static_cast<size_t>(blockIdx.x) * w_scale_cols + kb, w_f32);
        }

        const uint16_t* at = a_tile + cur * BM * PITCH;
        const uint16_t* wt = w_tile + cur * BN * PITCH;
#pragma unroll
        for (int kk = 0; kk < BK / 16; kk++) {
            uint32_t af[4][4];
            uint32_t bf[4][2];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const uint16_t* p = at + (wm * 64 + 16 * i + g) * PITCH + kk * 16 + 2 * t;
                af[i][0] = lds32(p);
                af[i][1] = lds32(p + 8 * PITCH);
                af[i][2] = lds32(p + 8);
                af[i][3] = lds32(p + 8 * PITCH + 8);
            }
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const uint16_t* p = wt + (wn * 32 + 8 * j + g) * PITCH + kk * 16 + 2 * t;
                bf[j][0] = lds32(p);
                bf[j][1] = lds32(p + 8);
            }
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    mma_bf16_16816(block[i][j], af[i], bf[j][0], bf[j][1]);
                }
            if (FP4 && (kk & 1)) {
                // End of a 32-column block: acc += (dot * sA[row]) * sW[col].
                const int half = kk >> 1;
#pragma unroll
                for (int i = 0; i < 4; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++)
#pragma unroll
                        for (int r = 0; r < 4; r++) {
                            acc[i][j][r] = fmaf(block[i][j][r] * sa[i][r >> 1], sw[half][j][r & 1], acc[i][j][r]);
                            block[i][j][r] = 0.0f;
                        }
            }
        }
        if (promote128) {
            // End of a 128-column block: acc += dot * (sA[row] * sW[block]).
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
#pragma unroll
                    for (int r = 0; r < 4; r++) {
                        acc[i][j][r] = fmaf(block[i][j][r], sa[i][r >> 1] * sw[0][0][0], acc[i][j][r]);
                        block[i][j][r] = 0.0f;
                    }
        }
        if (step + 1 < steps) {
            store(cur ^ 1);
        }
        __syncthreads();
    }

    const bool bf16 = flags & FLAG_OUT_BF16;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int r = row_base + 16 * i + 8 * h;
            if (r >= M) {
                continue;
            }
#pragma unroll
            for (int j = 0; j < 4; j++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    int n = col_base + 8 * j + e;
                    if (n < N) {
                        store_out(y, static_cast<size_t>(r) * y_stride + n, acc[i][j][2 * h + e], bf16);
                    }
                }
        }
}

}  // namespace mma80
}  // namespace gemm
}  // namespace ds4j

// The plain GEMM: one thread per output, 16x16 outputs per block, K walked in 32-column slices
// decoded to f32 in shared memory. It follows the CPU reference (ScalarOps.fp8Gemm/fp4Gemm)
// operation by operation, with explicitly rounded multiplies and adds (no fused multiply-add),
// so its F32 result is the reference's bit for bit. Tests use it to cross-check the fast kernels
// on a GPU; -Dds4j.cuda.gemm=simple selects it. Runs on every architecture.
//
// Launch contract: grid (ceil(N/16), ceil(M/16)), block (16, 16), no dynamic shared memory.
#pragma once

#include "gemm_common.cuh"

namespace ds4j {
namespace gemm {
namespace simple {

constexpr int TILE = 16;   // outputs per block side
constexpr int SLICE = 32;  // K columns decoded per step (one MXFP4 scale block)

template <bool FP4>
__device__ __forceinline__ void gemm(const uint8_t* __restrict__ a, const void* __restrict__ a_scale,
                                     const uint8_t* __restrict__ w, const void* __restrict__ w_scale,
                                     void* __restrict__ y, int M, int N, int K, long long y_stride, int flags) {
    __shared__ float as[TILE][SLICE + 1];
    __shared__ float ws[TILE][SLICE + 1];
    const bool a_f32 = flags & FLAG_A_SCALE_F32;
    const bool w_f32 = flags & FLAG_W_SCALE_F32;
    const int tx = threadIdx.x;
    const int ty = threadIdx.y;
    const int m0 = blockIdx.y * TILE;
    const int n0 = blockIdx.x * TILE;
    const int m = m0 + ty;  // this thread's output row
    const int n = n0 + tx;  // and column
    const int kb_count = K / SCALE_BLOCK;
    const int w_scale_cols = FP4 ? K / FP4_SCALE_BLOCK : kb_count;
    const int load_m = m0 + ty;  // the rows this thread decodes into shared memory
    const int load_n = n0 + ty;

    float acc = 0.0f;
    for (int kb = 0; kb < kb_count; kb++) {
        float part = 0.0f;  // FP8: the dot of this 128-column block, summed in order
        for (int slice = 0; slice < SCALE_BLOCK / SLICE; slice++) {
            const int k0 = kb * SCALE_BLOCK + slice * SLICE;
            for (int c = tx; c < SLICE; c += TILE) {
                as[ty][c] = load_m < M ? e4m3_to_float(a[static_cast<size_t>(load_m) * K + k0 + c]) : 0.0f;
                float wv = 0.0f;
                if (load_n < N) {
                    if (FP4) {
                        size_t e = static_cast<size_t>(load_n) * K + k0 + c;
                        uint32_t byte = w[e >> 1];
                        wv = e2m1_to_float((e & 1) ? byte >> 4 : byte & 0xFu);
                    } else {
                        wv = e4m3_to_float(w[static_cast<size_t>(load_n) * K + k0 + c]);
                    }
                }
                ws[ty][c] = wv;
            }
            __syncthreads();
            if (FP4) {
                float p = 0.0f;
                for (int c = 0; c < SLICE; c++) {
                    p = __fadd_rn(p, __fmul_rn(as[ty][c], ws[tx][c]));
                }
                if (m < M && n < N) {
                    float sa = load_scale(a_scale, static_cast<size_t>(m) * kb_count + kb, a_f32);
                    float sw = load_scale(w_scale, static_cast<size_t>(n) * w_scale_cols + kb * 4 + slice, w_f32);
                    acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(p, sa), sw));
                }
            } else {
                for (int c = 0; c < SLICE; c++) {
                    part = __fadd_rn(part, __fmul_rn(as[ty][c], ws[tx][c]));
                }
            }
            __syncthreads();
        }
        if (!FP4 && m < M && n < N) {
            float sa = load_scale(a_scale, static_cast<size_t>(m) * kb_count + kb, a_f32);
            float sw = load_scale(w_scale, static_cast<size_t>(n / SCALE_BLOCK) * w_scale_cols + kb, w_f32);
            acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(part, sa), sw));
        }
    }
    if (m < M && n < N) {
        store_out(y, static_cast<size_t>(m) * y_stride + n, acc, flags & FLAG_OUT_BF16);
    }
}

}  // namespace simple
}  // namespace gemm
}  // namespace ds4j

// The decode GEMM for M <= 64 on sm_90: bandwidth-bound, every weight byte is read once with
// 16-byte loads straight into registers, and the products run on the FP8 tensor cores through
// mma.sync m16n8k32 (weights as the 16-row A operand, activations as the 8-column B operand), so
// the arithmetic stays far below the time the weight stream takes even at M = 64.
//
// Work split: a CTA of 4 warps owns 64 weight rows (16 per warp) and a K range; CS CTAs of one
// cluster split K and add their partial sums through distributed shared memory (in rank order,
// so results do not depend on timing). The 4 warps walk the same K blocks together, so the
// activations they all need come from L1 after the first warp.
//
// Operand mapping per 128-column scale block (the dot over a block is order-free, so A and B only
// need the same permutation of K inside a scale block):
//  - FP8: lane (g, t) loads bytes 32t..32t+31 of the block for its rows g and g+8 (two 16-byte
//    loads each) and of activation row g of each m-tile; mma step s (0..3) uses bytes
//    32t+8s..32t+8s+7 of those (the first 4 as k 4t..4t+3, the next 4 as k 16+4t..16+4t+3).
//  - FP4 (a scale per 32 columns): mma step s must cover exactly 32-column block s, so lane
//    (g, t) needs columns 32s+8t..32s+8t+7 of every block s. It loads 16 packed bytes (block t)
//    per row and a 4x4 word transpose across the 4 lanes of its group hands each lane its
//    4-byte piece of every block; those 8 codes are expanded to E4M3 in registers.
//
// Launch contract: grid (ceil(N/64), CS), block 128, static shared memory only; the entry point
// ds4j_<family>_skinny_m<8*MT>_c<CS> is compiled with cluster dims (1, CS, 1). Needs a, w 16-byte
// aligned and, for FP4, F32 weight scales 4-byte aligned.
#pragma once

#include "gemm_common.cuh"
#include "gemm_mma.cuh"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#include <cooperative_groups.h>
#define DS4J_GEMM_SKINNY 1
#endif

// The cluster attribute only exists for sm_90 code; the sm_80 build gets a stub entry.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define DS4J_SKINNY_CLUSTER(cs)
#else
#define DS4J_SKINNY_CLUSTER(cs) __cluster_dims__(1, cs, 1)
#endif

namespace ds4j {
namespace gemm {
namespace skinny {

constexpr int WARPS = 4;
constexpr int THREADS = WARPS * 32;
constexpr int ROWS = WARPS * 16;  // weight rows (outputs along N) per CTA
constexpr int RED_PITCH = ROWS + 1;  // floats per row of the reduction buffer; +1 spreads banks
// K blocks of weights in flight per lane beyond the one being multiplied. Up to M = 16 a block is
// multiplied quickly, and 2 keep about 30 KB per multiprocessor in flight at the grid sizes
// GemmKernels picks, near what the HBM latency-bandwidth product asks of each multiprocessor; at
// larger M the math per block covers more latency and the registers go to the accumulators.
template <int MT>
__host__ __device__ constexpr int prefetch_blocks() {
    return MT <= 2 ? 2 : 1;
}

#ifdef DS4J_GEMM_SKINNY

// Lane t of each 4-lane group ends with word s = word t of lane s's `in` (a 4x4 transpose of
// 32-bit words across the group). Three xor-shuffles; the per-lane word choices are selects.
__device__ __forceinline__ uint4 quad_transpose(uint4 in, int t) {
    uint32_t v[4] = {in.x, in.y, in.z, in.w};
    uint32_t out[4] = {0, 0, 0, 0};
#pragma unroll
    for (int s = 0; s < 4; s++) {
        out[s] = (s == t) ? v[s] : out[s];
    }
#pragma unroll
    for (int r = 1; r < 4; r++) {
        const int partner = t ^ r;  // lane of the group this round exchanges with
        uint32_t send = v[0];
#pragma unroll
        for (int s = 1; s < 4; s++) {
            send = (s == partner) ? v[s] : send;
        }
        uint32_t got = __shfl_xor_sync(0xFFFFFFFFu, send, r);  // = word t of the partner's input
#pragma unroll
        for (int s = 0; s < 4; s++) {
            out[s] = (s == partner) ? got : out[s];
        }
    }
    return make_uint4(out[0], out[1], out[2], out[3]);
}

template <int MT, int CS, bool FP4>
__device__ __forceinline__ void gemm(const uint8_t* __restrict__ a, const void* __restrict__ a_scale,
                                     const uint8_t* __restrict__ w, const void* __restrict__ w_scale,
                                     void* __restrict__ y, int M, int N, int K, long long y_stride, int flags) {
    constexpr int MPAD = 8 * MT;  // activation rows covered: MT n8 tiles
    constexpr int PREFETCH = prefetch_blocks<MT>();
    __shared__ float red[MPAD * RED_PITCH];
    const bool a_f32 = flags & FLAG_A_SCALE_F32;
    const bool w_f32 = flags & FLAG_W_SCALE_F32;

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int n_cta = blockIdx.x * ROWS;
    const int n_warp = n_cta + warp * 16;
    const int row0 = n_warp + g;  // weight rows of this lane (A-operand rows g and g+8)
    const int row1 = row0 + 8;
    const bool ok0 = row0 < N;
    const bool ok1 = row1 < N;
    const int kb_count = K / SCALE_BLOCK;
    const int rank = blockIdx.y;  // == rank in the (1, CS, 1) cluster
    const int kb_begin = static_cast<int>(static_cast<long long>(kb_count) * rank / CS);
    const int kb_end = static_cast<int>(static_cast<long long>(kb_count) * (rank + 1) / CS);
    const uint4 zero = make_uint4(0, 0, 0, 0);

    float acc[MT][4];
#pragma unroll
    for (int j = 0; j < MT; j++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
            acc[j][r] = 0.0f;
        }

    if (!FP4) {
        const size_t w_row_bytes = static_cast<size_t>(K);
        const uint8_t* w0 = w + static_cast<size_t>(ok0 ? row0 : 0) * w_row_bytes + 32 * t;
        const uint8_t* w1 = w + static_cast<size_t>(ok1 ? row1 : 0) * w_row_bytes + 32 * t;
        uint4 ring[PREFETCH][4];  // blocks kb .. kb + PREFETCH - 1 of rows row0 (0, 1) and row1 (2, 3)
        auto load_w = [&](uint4 (&dst)[4], int kb) {
            size_t o = static_cast<size_t>(kb) * SCALE_BLOCK;
            dst[0] = ok0 ? ldg16(w0 + o) : zero;
            dst[1] = ok0 ? ldg16(w0 + o + 16) : zero;
            dst[2] = ok1 ? ldg16(w1 + o) : zero;
            dst[3] = ok1 ? ldg16(w1 + o + 16) : zero;
        };
#pragma unroll
        for (int d = 0; d < PREFETCH; d++) {
            if (kb_begin + d < kb_end) {
                load_w(ring[d], kb_begin + d);
            }
        }
        for (int kb = kb_begin; kb < kb_end; kb++) {
            const uint4 (&cur)[4] = ring[0];
            const uint32_t r0[8] = {cur[0].x, cur[0].y, cur[0].z, cur[0].w, cur[1].x, cur[1].y, cur[1].z, cur[1].w};
            const uint32_t r1[8] = {cur[2].x, cur[2].y, cur[2].z, cur[2].w, cur[3].x, cur[3].y, cur[3].z, cur[3].w};
#pragma unroll
            for (int d = 0; d + 1 < PREFETCH; d++) {
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    ring[d][i] = ring[d + 1][i];
                }
            }
            if (kb + PREFETCH < kb_end) {
                load_w(ring[PREFETCH - 1], kb + PREFETCH);  // streams in while this block is multiplied
            }
            const float sw = n_warp < N ? load_scale(w_scale, static_cast<size_t>(n_warp / SCALE_BLOCK) * kb_count + kb, w_f32) : 0.0f;
#pragma unroll
            for (int j = 0; j < MT; j++) {
                const int m = 8 * j + g;  // activation row this lane feeds as B column g
                const uint8_t* ap = a + static_cast<size_t>(m) * K + static_cast<size_t>(kb) * SCALE_BLOCK + 32 * t;
                const uint4 x0 = m < M ? ldg16(ap) : zero;
                const uint4 x1 = m < M ? ldg16(ap + 16) : zero;
                const uint32_t b[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
                const int mc = 8 * j + 2 * t;  // output columns (activation rows) of c0/c2 and c1/c3
                const float sa0 = mc < M ? load_scale(a_scale, static_cast<size_t>(mc) * kb_count + kb, a_f32) : 0.0f;
                const float sa1 = mc + 1 < M ? load_scale(a_scale, static_cast<size_t>(mc + 1) * kb_count + kb, a_f32) : 0.0f;
                float part[4];
                mma_e4m3_16832_fresh(part, r0[0], r1[0], r0[1], r1[1], b[0], b[1]);
#pragma unroll
                for (int s = 1; s < 4; s++) {
                    mma_e4m3_16832(part, r0[2 * s], r1[2 * s], r0[2 * s + 1], r1[2 * s + 1], b[2 * s], b[2 * s + 1]);
                }
                const float f0 = sa0 * sw;
                const float f1 = sa1 * sw;
                acc[j][0] = fmaf(part[0], f0, acc[j][0]);
                acc[j][1] = fmaf(part[1], f1, acc[j][1]);
                acc[j][2] = fmaf(part[2], f0, acc[j][2]);
                acc[j][3] = fmaf(part[3], f1, acc[j][3]);
            }
        }
    } else {
        const size_t w_row_bytes = static_cast<size_t>(K) / 2;
        const int ws_cols = K / FP4_SCALE_BLOCK;
        const uint8_t* w0 = w + static_cast<size_t>(ok0 ? row0 : 0) * w_row_bytes + 16 * t;
        const uint8_t* w1 = w + static_cast<size_t>(ok1 ? row1 : 0) * w_row_bytes + 16 * t;
        uint4 ring[PREFETCH][2];  // blocks kb .. kb + PREFETCH - 1 of rows row0 and row1
        auto load_w = [&](uint4 (&dst)[2], int kb) {
            size_t o = static_cast<size_t>(kb) * (SCALE_BLOCK / 2);
            dst[0] = ok0 ? ldg16(w0 + o) : zero;
            dst[1] = ok1 ? ldg16(w1 + o) : zero;
        };
#pragma unroll
        for (int d = 0; d < PREFETCH; d++) {
            if (kb_begin + d < kb_end) {
                load_w(ring[d], kb_begin + d);
            }
        }
        for (int kb = kb_begin; kb < kb_end; kb++) {
            // Word s of q0/q1 = packed codes of columns 32s+8t..32s+8t+7 of rows row0/row1.
            const uint4 q0 = quad_transpose(ring[0][0], t);
            const uint4 q1 = quad_transpose(ring[0][1], t);
#pragma unroll
            for (int d = 0; d + 1 < PREFETCH; d++) {
                ring[d][0] = ring[d + 1][0];
                ring[d][1] = ring[d + 1][1];
            }
            if (kb + PREFETCH < kb_end) {
                load_w(ring[PREFETCH - 1], kb + PREFETCH);
            }
            const uint32_t p0[4] = {q0.x, q0.y, q0.z, q0.w};
            const uint32_t p1[4] = {q1.x, q1.y, q1.z, q1.w};
            float sa[MT][2];  // activation scales of this lane's output columns 8j+2t, 8j+2t+1
#pragma unroll
            for (int j = 0; j < MT; j++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int mc = 8 * j + 2 * t + e;
                    sa[j][e] = mc < M ? load_scale(a_scale, static_cast<size_t>(mc) * kb_count + kb, a_f32) : 0.0f;
                }
#pragma unroll
            for (int s = 0; s < 4; s++) {
                const uint2 e0 = e2m1x8_to_e4m3x8(p0[s]);
                const uint2 e1 = e2m1x8_to_e4m3x8(p1[s]);
                const size_t kb32 = static_cast<size_t>(kb) * 4 + s;
                const float sw0 = ok0 ? load_scale(w_scale, static_cast<size_t>(row0) * ws_cols + kb32, w_f32) : 0.0f;
                const float sw1 = ok1 ? load_scale(w_scale, static_cast<size_t>(row1) * ws_cols + kb32, w_f32) : 0.0f;
#pragma unroll
                for (int j = 0; j < MT; j++) {
                    const int m = 8 * j + g;
                    uint2 x = make_uint2(0, 0);
                    if (m < M) {
                        x = __ldg(reinterpret_cast<const uint2*>(a + static_cast<size_t>(m) * K + kb * SCALE_BLOCK + 32 * s + 8 * t));
                    }
                    float part[4];
                    mma_e4m3_16832_fresh(part, e0.x, e1.x, e0.y, e1.y, x.x, x.y);
                    // acc += (dot * sA[m]) * sW[row], the reference's order.
                    acc[j][0] = fmaf(part[0] * sa[j][0], sw0, acc[j][0]);
                    acc[j][1] = fmaf(part[1] * sa[j][1], sw0, acc[j][1]);
                    acc[j][2] = fmaf(part[2] * sa[j][0], sw1, acc[j][2]);
                    acc[j][3] = fmaf(part[3] * sa[j][1], sw1, acc[j][3]);
                }
            }
        }
    }

    // Partial sums -> shared memory as red[m][row in CTA].
#pragma unroll
    for (int j = 0; j < MT; j++) {
        const int mc = 8 * j + 2 * t;
        const int nl = warp * 16 + g;
        red[mc * RED_PITCH + nl] = acc[j][0];
        red[(mc + 1) * RED_PITCH + nl] = acc[j][1];
        red[mc * RED_PITCH + nl + 8] = acc[j][2];
        red[(mc + 1) * RED_PITCH + nl + 8] = acc[j][3];
    }
    const bool bf16 = flags & FLAG_OUT_BF16;
    if constexpr (CS == 1) {
        __syncthreads();
        for (int e = tid; e < MPAD * ROWS; e += THREADS) {
            const int m = e / ROWS;
            const int n = n_cta + e % ROWS;
            if (m < M && n < N) {
                store_out(y, static_cast<size_t>(m) * y_stride + n, red[m * RED_PITCH + e % ROWS], bf16);
            }
        }
    } else {
        namespace cg = cooperative_groups;
        cg::cluster_group cluster = cg::this_cluster();
        cluster.sync();  // every rank's partials are in its shared memory
        for (int e = rank * THREADS + tid; e < MPAD * ROWS; e += CS * THREADS) {
            const int m = e / ROWS;
            const int n = n_cta + e % ROWS;
            const int idx = m * RED_PITCH + e % ROWS;
            float s = 0.0f;
#pragma unroll
            for (int q = 0; q < CS; q++) {
                s += cluster.map_shared_rank(red, q)[idx];
            }
            if (m < M && n < N) {
                store_out(y, static_cast<size_t>(m) * y_stride + n, s, bf16);
            }
        }
        cluster.sync();  // keep this CTA's shared memory alive until the other ranks have read it
    }
}

#endif  // DS4J_GEMM_SKINNY

}  // namespace skinny
}  // namespace gemm
}  // namespace ds4j

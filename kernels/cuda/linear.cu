// y = x @ w^T with f32 accumulation (Backend.linear): x [M, K], w [N, K], y [M, N], each F32 or
// BF16 (F16 also loads), row-strided. Ragged M, N and K are zero-padded in shared memory.
//
// Two kernels, chosen by LinearKernels.java:
//  - ds4j_linear_bf16_mma when x and w are both BF16: tensor-core mma.sync m16n8k16 (bf16 in, f32
//    accumulate; products of bf16 values are exact in f32), 128x128 output tile per block;
//  - ds4j_linear_fma otherwise: an f32 FMA tiling, 64x64 output tile per block. F32 operands stay
//    f32 (the tensor cores would round them to bf16 or tf32).
// Grid: x = ceil(N / BN) column tiles, y = min(ceil(M / BM), 65535) row tiles with a stride loop.
#include "ds4j_rows.cuh"

using namespace ds4j;

// ---- FMA tiling ----

// 64x64 outputs per block, 16x16 threads with 4x4 outputs each: 16 FMAs per 8 shared-memory
// loads per k, with tiles small enough for ragged and skinny (decode) shapes.
constexpr int FMA_BM = 64;
constexpr int FMA_BN = 64;
// 16 k per stage: 2 x 64 x 16 floats = 8 KiB of shared memory; each thread loads 4 + 4 values.
constexpr int FMA_BK = 16;
constexpr int FMA_THREADS = 256;
// Rows of the k-major tiles padded by 4 floats: keeps 16-byte alignment for vector loads and
// spreads the transposing stores over more banks.
constexpr int FMA_PAD = 4;

extern "C" __global__ void __launch_bounds__(FMA_THREADS)
ds4j_linear_fma(const void* x, int xdt, long long x_stride,
                const void* w, int wdt, long long w_stride,
                void* y, int ydt, long long y_stride,
                long long m_rows, int n_cols, int k_dim) {
    __shared__ __align__(16) float xs[FMA_BK][FMA_BM + FMA_PAD];
    __shared__ __align__(16) float ws[FMA_BK][FMA_BN + FMA_PAD];
    const int tid = static_cast<int>(threadIdx.x);
    const int tx = tid % 16; // output columns tx*4 .. tx*4+3; k of the loads
    const int ty = tid / 16; // output rows ty*4 .. ty*4+3; row of the loads
    const int n0 = static_cast<int>(blockIdx.x) * FMA_BN;
    const long long m_tiles = (m_rows + FMA_BM - 1) / FMA_BM;
    for (long long mt = blockIdx.y; mt < m_tiles; mt += gridDim.y) {
        const long long m0 = mt * FMA_BM;
        float acc[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                acc[i][j] = 0.0f;
            }
        }
        for (int k0 = 0; k0 < k_dim; k0 += FMA_BK) {
            const int gk = k0 + tx;
#pragma unroll
            for (int pass = 0; pass < 4; ++pass) {
                const int rr = pass * 16 + ty;
                const long long gm = m0 + rr;
                const int gn = n0 + rr;
                xs[tx][rr] = (gm < m_rows && gk < k_dim) ? load_real(x, xdt, gm * x_stride + gk) : 0.0f;
                ws[tx][rr] = (gn < n_cols && gk < k_dim) ? load_real(w, wdt, gn * w_stride + gk) : 0.0f;
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < FMA_BK; ++kk) {
                float a[4];
                float b[4];
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    a[i] = xs[kk][ty * 4 + i];
                    b[i] = ws[kk][tx * 4 + i];
                }
#pragma unroll
                for (int i = 0; i < 4; ++i) {
#pragma unroll
                    for (int j = 0; j < 4; ++j) {
                        acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
                    }
                }
            }
            __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const long long gm = m0 + ty * 4 + i;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int gn = n0 + tx * 4 + j;
                if (gm < m_rows && gn < n_cols) {
                    store_real(y, ydt, gm * y_stride + gn, acc[i][j]);
                }
            }
        }
    }
}

// ---- BF16 tensor cores (mma.sync, sm_80 and newer) ----

// 128x128 outputs per block: 8 warps as 2 (m) x 4 (n), each warp 64x32 = 4x4 mma tiles of 16x8,
// 64 f32 accumulators per thread.
constexpr int MMA_BM = 128;
constexpr int MMA_BN = 128;
// 32 k per stage (two k16 steps): 2 x 128 x 32 bf16 = 16 KiB of shared memory (plus padding).
constexpr int MMA_BK = 32;
constexpr int MMA_THREADS = 256;
// Rows padded by 8 bf16 (16 bytes) to 80 bytes: the fragment loads of a warp (8 rows x 4 words)
// then hit 32 different banks.
constexpr int MMA_PAD = 8;

__device__ __forceinline__ uint32_t load_pair(const uint16_t* p) {
    return *reinterpret_cast<const uint32_t*>(p); // two bf16, the lower k in the low half
}

// d += a (16x16, row-major fragment) * b (16x8, column-major fragment), f32 accumulators.
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

extern "C" __global__ void __launch_bounds__(MMA_THREADS)
ds4j_linear_bf16_mma(const uint16_t* x, long long x_stride,
                     const uint16_t* w, long long w_stride,
                     void* y, int ydt, long long y_stride,
                     long long m_rows, int n_cols, int k_dim) {
    __shared__ __align__(16) uint16_t xs[MMA_BM][MMA_BK + MMA_PAD];
    __shared__ __align__(16) uint16_t ws[MMA_BN][MMA_BK + MMA_PAD];
    const int tid = static_cast<int>(threadIdx.x);
    const int lane = tid % WARP_SIZE;
    const int warp = tid / WARP_SIZE;
    const int wm = (warp / 4) * 64; // the warp's rows in the tile
    const int wn = (warp % 4) * 32; // the warp's columns in the tile
    const int group = lane / 4;     // fragment row (A, C) or column (B)
    const int quad = lane % 4;      // fragment k pair (A, B) or column pair (C)
    const int n0 = static_cast<int>(blockIdx.x) * MMA_BN;
    const long long m_tiles = (m_rows + MMA_BM - 1) / MMA_BM;
    for (long long mt = blockIdx.y; mt < m_tiles; mt += gridDim.y) {
        const long long m0 = mt * MMA_BM;
        float acc[4][4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
            for (int j = 0; j < 4; ++j) {
#pragma unroll
                for (int c = 0; c < 4; ++c) {
                    acc[i][j][c] = 0.0f;
                }
            }
        }
        for (int k0 = 0; k0 < k_dim; k0 += MMA_BK) {
            // a warp loads one 32-wide k row of the tile per step: 64 contiguous bytes
            const int kk = tid % MMA_BK;
            const int gk = k0 + kk;
#pragma unroll 4
            for (int i = 0; i < MMA_BM / 8; ++i) {
                const int rr = i * 8 + tid / MMA_BK;
                const long long gm = m0 + rr;
                const int gn = n0 + rr;
                xs[rr][kk] = (gm < m_rows && gk < k_dim) ? x[gm * x_stride + gk] : static_cast<uint16_t>(0);
                ws[rr][kk] = (gn < n_cols && gk < k_dim) ? w[gn * w_stride + gk] : static_cast<uint16_t>(0);
            }
            __syncthreads();
#pragma unroll
            for (int ks = 0; ks < MMA_BK; ks += 16) {
                uint32_t a[4][4];
                uint32_t b[4][2];
#pragma unroll
                for (int mi = 0; mi < 4; ++mi) {
                    const int r = wm + mi * 16 + group;
                    a[mi][0] = load_pair(&xs[r][ks + 2 * quad]);
                    a[mi][1] = load_pair(&xs[r + 8][ks + 2 * quad]);
                    a[mi][2] = load_pair(&xs[r][ks + 2 * quad + 8]);
                    a[mi][3] = load_pair(&xs[r + 8][ks + 2 * quad + 8]);
                }
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) {
                    const int c = wn + ni * 8 + group;
                    b[ni][0] = load_pair(&ws[c][ks + 2 * quad]);
                    b[ni][1] = load_pair(&ws[c][ks + 2 * quad + 8]);
                }
#pragma unroll
                for (int mi = 0; mi < 4; ++mi) {
#pragma unroll
                    for (int ni = 0; ni < 4; ++ni) {
                        mma_bf16_16816(acc[mi][ni], a[mi], b[ni]);
                    }
                }
            }
            __syncthreads();
        }
        // C fragment: c0, c1 at (group, 2*quad + 0/1), c2, c3 at (group + 8, ...)
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) {
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const long long gm = m0 + wm + mi * 16 + group + half * 8;
                if (gm >= m_rows) {
                    continue;
                }
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) {
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        const int gn = n0 + wn + ni * 8 + 2 * quad + e;
                        if (gn < n_cols) {
                            store_real(y, ydt, gm * y_stride + gn, acc[mi][ni][half * 2 + e]);
                        }
                    }
                }
            }
        }
    }
}

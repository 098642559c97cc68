// FP8-activation x MXFP4-weight GEMM (spec §2 "GEMM semantics"):
//   y[m, n] = sum over 32-column blocks kb of (dot of the values in the block, f32)
//             * a_scale[m, kb / 4] * w_scale[n, kb]
// a: E4M3 [M, K] with 1x128 scales, w: packed E2M1 [N, K] (element 2i in the low nibble of byte i)
// with 1x32 scales, y: F32 or BF16 [M, N] (row stride y_stride). Hopper has no FP4 math: the
// fast kernels expand E2M1 to E4M3 (every E2M1 value is exact in E4M3) and use the FP8 tensor
// cores; the weight scale changes every 32 columns, so each 32-column step gets its own fresh
// accumulator (one k32 MMA) before it is scaled and added. Signature and flags:
// include/gemm_common.cuh. GemmKernels.java mirrors every launch constant below.
//
// Entry points (grid / block / dynamic shared memory):
//   ds4j_fp4_gemm_simple          any GPU; reference-order FMA kernel   (N/16, M/16) / (16,16) / 0
//   ds4j_fp4_gemm_mma80           sm_80+: bf16 mma.sync                  (N/128, M/128) / 256 / mma80::SMEM_BYTES
//   ds4j_fp4_gemm_wgmma           sm_90a: FP8 wgmma, M > 64              tiles / 384 / wgmma_fp4::SMEM_BYTES
//   ds4j_fp4_gemm_skinny_m<R>_c<C> sm_90: decode, M <= R                  (N/64, C) / 128 / 0
// (divisions round up; "tiles" = ceil(M/128) * ceil(N/128)).
#include "gemm_common.cuh"
#include "gemm_mma80.cuh"
#include "gemm_simple.cuh"
#include "gemm_skinny.cuh"
#include "gemm_sm90.cuh"

namespace ds4j {
namespace gemm {
namespace wgmma_fp4 {

// Hopper FP4-weight GEMM: the FP8 kernel's structure (producer warpgroup + two consumer
// warpgroups of 64 rows, 128x128 tiles, cp.async into 128B-swizzled tiles) with two changes.
// The producer loads the packed weights and their scales into a raw staging area, and once its
// own copies of a stage have landed it expands its chunks to E4M3 in the swizzled B tile and its
// row's four scales to f32, then fences and marks the stage full. The consumers promote after
// every k32 wgmma: acc += (dot * a_scale[m]) * w_scale[n, kb32].
//
// Launch contract: grid ceil(M/128) * ceil(N/128) (1-D, grouped along M), block 384, dynamic
// shared memory SMEM_BYTES. Needs a, w 16-byte aligned and F32 weight scales 16-byte aligned.
[[maybe_unused]] constexpr int BM = 128;
[[maybe_unused]] constexpr int BN = 128;
[[maybe_unused]] constexpr int BK = 128;             // K per stage: 4 weight scale blocks, one activation scale block
[[maybe_unused]] constexpr int STAGES = 5;           // 5 x 44 KB fits the 227 KB a block may use
[[maybe_unused]] constexpr int LAG = STAGES - 2;
[[maybe_unused]] constexpr int THREADS = 384;
[[maybe_unused]] constexpr int GROUP_M = 8;
[[maybe_unused]] constexpr int TILE_BYTES = BM * BK;           // A tile; the expanded B tile has the same size
[[maybe_unused]] constexpr int RAW_W_BYTES = BN * BK / 2;      // packed E2M1 rows of 64 bytes
[[maybe_unused]] constexpr int RAW_SCALE_BYTES = BN * 16;      // 4 scales per row (F32: 16 bytes, UE8M0: first 4)
[[maybe_unused]] constexpr int SCALE_BYTES = 4 * BN * 4;       // f32 scales [4][BN]
[[maybe_unused]] constexpr int OFF_B = TILE_BYTES;
[[maybe_unused]] constexpr int OFF_RAW_W = 2 * TILE_BYTES;
[[maybe_unused]] constexpr int OFF_RAW_SCALE = OFF_RAW_W + RAW_W_BYTES;
[[maybe_unused]] constexpr int OFF_SCALE = OFF_RAW_SCALE + RAW_SCALE_BYTES;
[[maybe_unused]] constexpr int STAGE_BYTES = OFF_SCALE + SCALE_BYTES;  // 45056, a multiple of 1024
[[maybe_unused]] constexpr int SMEM_BYTES = 1024 + STAGES * STAGE_BYTES + 2 * STAGES * 8;
static_assert(STAGE_BYTES % 1024 == 0, "every stage's tiles must stay 1024-byte aligned");
static_assert(SMEM_BYTES <= 227 * 1024, "exceeds the opt-in shared memory of one sm_90 block");

__device__ __forceinline__ void gemm(const uint8_t* __restrict__ a, const void* __restrict__ a_scale,
                                     const uint8_t* __restrict__ w, const void* __restrict__ w_scale,
                                     void* __restrict__ y, int M, int N, int K, long long y_stride, int flags) {
#ifdef DS4J_GEMM_SM90A
    using namespace sm90;
    extern __shared__ uint8_t smem_raw[];
    const uint32_t raw = smem_addr(smem_raw);
    const uint32_t base = (raw + 1023u) & ~1023u;
    uint8_t* const gbase = smem_raw + (base - raw);  // the same bytes through a generic pointer
    const uint32_t bars = base + STAGES * STAGE_BYTES;
    auto full = [&](int s) { return bars + 8u * s; };
    auto empty = [&](int s) { return bars + 8u * (STAGES + s); };

    const int tid = threadIdx.x;
    const int tiles_m = (M + BM - 1) / BM;
    const int tiles_n = (N + BN - 1) / BN;
    int tm, tn;
    grouped_tile<GROUP_M>(blockIdx.x, tiles_m, tiles_n, tm, tn);
    const int m0 = tm * BM;
    const int n0 = tn * BN;
    const int kb_count = K / BK;
    const int w_scale_cols = K / FP4_SCALE_BLOCK;
    const bool a_f32 = flags & FLAG_A_SCALE_F32;
    const bool w_f32 = flags & FLAG_W_SCALE_F32;

    if (tid == 0) {
        for (int s = 0; s < STAGES; s++) {
            mbar_init(full(s), 128);
            mbar_init(empty(s), 256);
        }
    }
    __syncthreads();

    if (tid < 128) {
        // Producer. Per stage and thread: 8 A chunks, 4 packed-W chunks (row c/4, 16 bytes at
        // 16*(c%4), c = tid + 128i) and the 4 scales of weight row tid.
        const int chunk = tid & 7;
        const int gn_scale = n0 + tid;
        // Expands the weights and scales this thread copied for stage kb.
        auto expand = [&](int kb) {
            uint8_t* st = gbase + (kb % STAGES) * STAGE_BYTES;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const int c = tid + 128 * i;
                const int row = c >> 2;
                const int q = c & 3;  // codes 32q..32q+31 of the row
                const uint4 v = *reinterpret_cast<const uint4*>(st + OFF_RAW_W + row * 64 + q * 16);
                const uint2 e0 = e2m1x8_to_e4m3x8(v.x);
                const uint2 e1 = e2m1x8_to_e4m3x8(v.y);
                const uint2 e2 = e2m1x8_to_e4m3x8(v.z);
                const uint2 e3 = e2m1x8_to_e4m3x8(v.w);
                *reinterpret_cast<uint4*>(st + OFF_B + swizzled_offset(row, 2 * q)) = make_uint4(e0.x, e0.y, e1.x, e1.y);
                *reinterpret_cast<uint4*>(st + OFF_B + swizzled_offset(row, 2 * q + 1)) = make_uint4(e2.x, e2.y, e3.x, e3.y);
            }
            float* sc = reinterpret_cast<float*>(st + OFF_SCALE);
            const uint8_t* rs = st + OFF_RAW_SCALE + tid * 16;
            if (w_f32) {
                const float4 f = *reinterpret_cast<const float4*>(rs);
                sc[0 * BN + tid] = f.x;
                sc[1 * BN + tid] = f.y;
                sc[2 * BN + tid] = f.z;
                sc[3 * BN + tid] = f.w;
            } else {
                const uint32_t codes = *reinterpret_cast<const uint32_t*>(rs);
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    sc[j * BN + tid] = ue8m0_to_float((codes >> (8 * j)) & 0xFFu);
                }
            }
        };
        for (int kb = 0; kb < kb_count; kb++) {
            const int s = kb % STAGES;
            if (kb >= STAGES) {
                mbar_wait(empty(s), ((kb / STAGES) - 1) & 1);
            }
            const uint32_t st = base + s * STAGE_BYTES;
            const size_t koff = static_cast<size_t>(kb) * BK + chunk * 16;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const int row = (tid >> 3) + 16 * i;
                const int gm = m0 + row;
                cp_async16(st + swizzled_offset(row, chunk), a + static_cast<size_t>(gm < M ? gm : 0) * K + koff,
                           gm < M ? 16u : 0u);
            }
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const int c = tid + 128 * i;
                const int row = c >> 2;
                const int gn = n0 + row;
                const uint8_t* src = w + static_cast<size_t>(gn < N ? gn : 0) * (K / 2) + static_cast<size_t>(kb) * (BK / 2) + (c & 3) * 16;
                cp_async16(st + OFF_RAW_W + row * 64 + (c & 3) * 16, src, gn < N ? 16u : 0u);
            }
            {
                const size_t si = static_cast<size_t>(gn_scale < N ? gn_scale : 0) * w_scale_cols + static_cast<size_t>(kb) * 4;
                const uint32_t dst = st + OFF_RAW_SCALE + tid * 16;
                if (w_f32) {
                    cp_async16(dst, static_cast<const float*>(w_scale) + si, gn_scale < N ? 16u : 0u);
                } else {
                    cp_async4(dst, static_cast<const uint8_t*>(w_scale) + si, gn_scale < N ? 4u : 0u);
                }
            }
            cp_async_commit();
            if (kb >= LAG) {
                cp_async_wait<LAG>();
                expand(kb - LAG);
                fence_proxy_async();
                mbar_arrive(full((kb - LAG) % STAGES));
            }
        }
        cp_async_wait<0>();
        for (int kb = kb_count > LAG ? kb_count - LAG : 0; kb < kb_count; kb++) {
            expand(kb);
            fence_proxy_async();
            mbar_arrive(full(kb % STAGES));
        }
        return;
    }

    // Consumers.
    const int wg = (tid >> 7) - 1;
    const int lane = tid & 31;
    const int warp = (tid >> 5) & 3;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int r0 = m0 + wg * 64 + warp * 16 + g;
    const int r1 = r0 + 8;

    float acc[64];
    float part[64];
#pragma unroll
    for (int i = 0; i < 64; i++) {
        acc[i] = 0.0f;
        part[i] = 0.0f;
    }
    for (int kb = 0; kb < kb_count; kb++) {
        const int s = kb % STAGES;
        const float sa0 = r0 < M ? load_scale(a_scale, static_cast<size_t>(r0) * kb_count + kb, a_f32) : 0.0f;
        const float sa1 = r1 < M ? load_scale(a_scale, static_cast<size_t>(r1) * kb_count + kb, a_f32) : 0.0f;
        mbar_wait(full(s), (kb / STAGES) & 1);
        const uint64_t da = sw128_descriptor(base + s * STAGE_BYTES + wg * 64 * 128);
        const uint64_t db = sw128_descriptor(base + s * STAGE_BYTES + OFF_B);
        const float* sc = reinterpret_cast<const float*>(gbase + s * STAGE_BYTES + OFF_SCALE);
#pragma unroll
        for (int k = 0; k < BK / 32; k++) {
            wgmma_fence();
            fence_operands(part);
            wgmma_m64n128k32_e4m3(part, da + 2 * k, db + 2 * k, 0u);
            wgmma_commit();
            wgmma_wait<0>();
            fence_operands(part);
#pragma unroll
            for (int j = 0; j < 16; j++) {
                // Columns 8j + 2t and 8j + 2t + 1 of the tile.
                const float2 sw = *reinterpret_cast<const float2*>(sc + k * BN + 8 * j + 2 * t);
                acc[4 * j + 0] = fmaf(part[4 * j + 0] * sa0, sw.x, acc[4 * j + 0]);
                acc[4 * j + 1] = fmaf(part[4 * j + 1] * sa0, sw.y, acc[4 * j + 1]);
                acc[4 * j + 2] = fmaf(part[4 * j + 2] * sa1, sw.x, acc[4 * j + 2]);
                acc[4 * j + 3] = fmaf(part[4 * j + 3] * sa1, sw.y, acc[4 * j + 3]);
            }
        }
        mbar_arrive(empty(s));
    }

    store_wgmma_tile(y, y_stride, M, N, r0, r1, n0, t, acc, flags & FLAG_OUT_BF16);
#else
    __trap();  // sm_90a only; GemmKernels never launches it elsewhere
#endif
}

}  // namespace wgmma_fp4
}  // namespace gemm
}  // namespace ds4j

// The kernels the Java side launches (GemmKernels), one set per format.
#define DS4J_GEMM_FORMAT fp4
#define DS4J_GEMM_FP4 true
#define DS4J_GEMM_WGMMA wgmma_fp4
#include "gemm_entries.cuh"

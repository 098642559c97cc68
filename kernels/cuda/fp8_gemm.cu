// FP8 x FP8 block-scaled GEMM (spec §2 "GEMM semantics"):
//   y[m, n] = sum over 128-column blocks kb of (dot of the E4M3 values in the block, f32)
//             * a_scale[m, kb] * w_scale[n / 128, kb]
// a: E4M3 [M, K] with 1x128 scales, w: E4M3 [N, K] with 128x128 scales, y: F32 or BF16 [M, N]
// (row stride y_stride). Signature and flags: include/gemm_common.cuh. GemmKernels.java picks
// the entry point and mirrors every launch constant below.
//
// Entry points (grid / block / dynamic shared memory):
//   ds4j_fp8_gemm_simple          any GPU; reference-order FMA kernel   (N/16, M/16) / (16,16) / 0
//   ds4j_fp8_gemm_mma80           sm_80+: bf16 mma.sync                  (N/128, M/128) / 256 / mma80::SMEM_BYTES
//   ds4j_fp8_gemm_wgmma           sm_90a: FP8 wgmma, M > 64              tiles / 384 / wgmma_fp8::SMEM_BYTES
//   ds4j_fp8_gemm_skinny_m<R>_c<C> sm_90: decode, M <= R                  (N/64, C) / 128 / 0
// (divisions round up; "tiles" = ceil(M/128) * ceil(N/128)).
#include "gemm_common.cuh"
#include "gemm_mma80.cuh"
#include "gemm_simple.cuh"
#include "gemm_skinny.cuh"
#include "gemm_sm90.cuh"

namespace ds4j {
namespace gemm {
namespace wgmma_fp8 {

// Hopper FP8 GEMM. A CTA computes a 128x128 tile of y: warpgroup 0 is the producer (cp.async of
// 16-byte chunks into 128B-swizzled shared tiles, STAGES deep), warpgroups 1 and 2 each own 64
// rows and issue m64n128k32 wgmma. Two-level accumulation: each 128-column K block is multiplied
// into a fresh f32 accumulator (4 wgmma), which is then scaled by a_scale[m, kb] * w_scale[n/128, kb]
// and added to the main accumulator on the CUDA cores, as the spec requires.
//
// Pipeline: the producer issues stage kb, then waits for the cp.async group of stage kb - LAG,
// fences it into the async proxy and arrives on full[kb - LAG]; consumers arrive on empty[s] after
// their wgmma finished reading stage s. Launch contract: grid ceil(M/128) * ceil(N/128) (1-D,
// grouped along M, see grouped_tile), block 384, dynamic shared memory SMEM_BYTES. Needs a, w
// 16-byte aligned.
[[maybe_unused]] constexpr int BM = 128;            // tile rows: 2 consumer warpgroups x 64
[[maybe_unused]] constexpr int BN = 128;            // tile columns = one weight scale block, so one w_scale per K block
[[maybe_unused]] constexpr int BK = 128;            // K per stage = one scale block = one 128-byte swizzled row
[[maybe_unused]] constexpr int STAGES = 6;          // 6 x 32 KB: deep enough to cover DRAM latency at full tensor rate
[[maybe_unused]] constexpr int LAG = STAGES - 2;    // cp.async groups kept in flight behind the newest
[[maybe_unused]] constexpr int THREADS = 384;       // producer warpgroup + 2 consumer warpgroups
[[maybe_unused]] constexpr int GROUP_M = 8;         // tile rasterization group (L2 reuse)
[[maybe_unused]] constexpr int TILE_BYTES = BM * BK;  // == BN * BK
[[maybe_unused]] constexpr int STAGE_BYTES = 2 * TILE_BYTES;
[[maybe_unused]] constexpr int SMEM_BYTES = 1024 + STAGES * STAGE_BYTES + 2 * STAGES * 8;  // + alignment slack + barriers
static_assert(SMEM_BYTES <= 227 * 1024, "exceeds the opt-in shared memory of one sm_90 block");

__device__ __forceinline__ void gemm(const uint8_t* __restrict__ a, const void* __restrict__ a_scale,
                                     const uint8_t* __restrict__ w, const void* __restrict__ w_scale,
                                     void* __restrict__ y, int M, int N, int K, long long y_stride, int flags) {
#ifdef DS4J_GEMM_SM90A
    using namespace sm90;
    extern __shared__ uint8_t smem_raw[];
    const uint32_t raw = smem_addr(smem_raw);
    const uint32_t base = (raw + 1023u) & ~1023u;  // swizzle atoms need 1024-byte alignment
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

    if (tid == 0) {
        for (int s = 0; s < STAGES; s++) {
            mbar_init(full(s), 128);   // every producer thread arrives
            mbar_init(empty(s), 256);  // every consumer thread arrives
        }
    }
    __syncthreads();

    if (tid < 128) {
        // Producer: 8 A chunks and 8 W chunks of 16 bytes per thread and stage; 8 consecutive
        // threads read one 128-byte row segment.
        const int chunk = tid & 7;
        for (int kb = 0; kb < kb_count; kb++) {
            const int s = kb % STAGES;
            if (kb >= STAGES) {
                mbar_wait(empty(s), ((kb / STAGES) - 1) & 1);
            }
            const uint32_t sa = base + s * STAGE_BYTES;
            const uint32_t sb = sa + TILE_BYTES;
            const size_t koff = static_cast<size_t>(kb) * BK + chunk * 16;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const int row = (tid >> 3) + 16 * i;
                const uint32_t off = swizzled_offset(row, chunk);
                const int gm = m0 + row;
                const int gn = n0 + row;
                cp_async16(sa + off, a + static_cast<size_t>(gm < M ? gm : 0) * K + koff, gm < M ? 16u : 0u);
                cp_async16(sb + off, w + static_cast<size_t>(gn < N ? gn : 0) * K + koff, gn < N ? 16u : 0u);
            }
            cp_async_commit();
            if (kb >= LAG) {
                cp_async_wait<LAG>();
                fence_proxy_async();
                mbar_arrive(full((kb - LAG) % STAGES));
            }
        }
        cp_async_wait<0>();
        fence_proxy_async();
        for (int kb = kb_count > LAG ? kb_count - LAG : 0; kb < kb_count; kb++) {
            mbar_arrive(full(kb % STAGES));
        }
        return;
    }

    // Consumers.
    const int wg = (tid >> 7) - 1;  // 0 or 1: rows 64*wg..64*wg+63 of the tile
    const int lane = tid & 31;
    const int warp = (tid >> 5) & 3;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int r0 = m0 + wg * 64 + warp * 16 + g;  // accumulator rows of this thread
    const int r1 = r0 + 8;
    const bool a_f32 = flags & FLAG_A_SCALE_F32;
    const bool w_f32 = flags & FLAG_W_SCALE_F32;
    const size_t w_scale_row = static_cast<size_t>(n0 / SCALE_BLOCK) * kb_count;

    float acc[64];
    float part[64];
#pragma unroll
    for (int i = 0; i < 64; i++) {
        acc[i] = 0.0f;
        part[i] = 0.0f;
    }
    for (int kb = 0; kb < kb_count; kb++) {
        const int s = kb % STAGES;
        // Scales first: their global latency overlaps the barrier wait and the wgmma.
        const float sa0 = r0 < M ? load_scale(a_scale, static_cast<size_t>(r0) * kb_count + kb, a_f32) : 0.0f;
        const float sa1 = r1 < M ? load_scale(a_scale, static_cast<size_t>(r1) * kb_count + kb, a_f32) : 0.0f;
        const float sw = load_scale(w_scale, w_scale_row + kb, w_f32);
        mbar_wait(full(s), (kb / STAGES) & 1);
        const uint64_t da = sw128_descriptor(base + s * STAGE_BYTES + wg * 64 * 128);
        const uint64_t db = sw128_descriptor(base + s * STAGE_BYTES + TILE_BYTES);
        wgmma_fence();
        fence_operands(part);
#pragma unroll
        for (int k = 0; k < BK / 32; k++) {
            // +32 bytes along K per step: the descriptor holds the address in 16-byte units.
            wgmma_m64n128k32_e4m3(part, da + 2 * k, db + 2 * k, k > 0 ? 1u : 0u);
        }
        wgmma_commit();
        wgmma_wait<0>();
        fence_operands(part);
        mbar_arrive(empty(s));
        const float f0 = sa0 * sw;
        const float f1 = sa1 * sw;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            acc[4 * j + 0] = fmaf(part[4 * j + 0], f0, acc[4 * j + 0]);
            acc[4 * j + 1] = fmaf(part[4 * j + 1], f0, acc[4 * j + 1]);
            acc[4 * j + 2] = fmaf(part[4 * j + 2], f1, acc[4 * j + 2]);
            acc[4 * j + 3] = fmaf(part[4 * j + 3], f1, acc[4 * j + 3]);
        }
    }

    store_wgmma_tile(y, y_stride, M, N, r0, r1, n0, t, acc, flags & FLAG_OUT_BF16);
#else
    __trap();  // sm_90a only; GemmKernels never launches it elsewhere
#endif
}

}  // namespace wgmma_fp8
}  // namespace gemm
}  // namespace ds4j

// The kernels the Java side launches (GemmKernels), one set per format.
#define DS4J_GEMM_FORMAT fp8
#define DS4J_GEMM_FP4 false
#define DS4J_GEMM_WGMMA wgmma_fp8
#include "gemm_entries.cuh"

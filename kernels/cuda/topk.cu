// Top-k per row (Backend.topK): the k largest values, descending, ties to the lower index, NaN
// below every number (and -0 equal to +0), as the CPU reference orders them.
//
// One block per row (grid stride over rows):
//  1. radix select on a 32-bit key that orders floats that way: four 8-bit passes find the key T
//     of the k-th element and how many elements equal to T are needed;
//  2. compaction: every element above T, then the needed elements equal to T in index order
//     (a block-wide ordered scan), into a candidate list of exactly k;
//  3. each candidate's output position is the number of candidates before it in (key desc,
//     index asc) order, all distinct, so every slot of the output row is written once.
// Candidates live in shared memory up to SMEM_CANDIDATES, beyond that in a device scratch of
// gridDim.x * k keys and indices.
// Launch (TopKKernels.java): TOPK_THREADS threads per block, 1-D grid.
#include "ds4j_rows.cuh"

using namespace ds4j;

// 16 warps stream a long row; the ordered scan sums 16 warp counts.
constexpr int TOPK_THREADS = 512;
constexpr int TOPK_WARPS = TOPK_THREADS / WARP_SIZE;
// 8-bit digits: a 256-bin histogram per pass, four passes for a 32-bit key.
constexpr int RADIX_BINS = 256;
// 4096 (key, index) pairs = 32 KiB of shared memory: V4's top-k (6 experts, 512 or 1024
// compressed entries) stays on chip with room for the histogram under the 48 KiB static limit.
constexpr int SMEM_CANDIDATES = 4096;

// A key whose unsigned order is the reference's ranking: larger floats have larger keys, -0 and
// +0 share one key, and every NaN has key 0, below -infinity.
__device__ __forceinline__ uint32_t rank_key(float v) {
    uint32_t b = __float_as_uint(v);
    const uint32_t mag = b & 0x7FFFFFFFu;
    if (mag > 0x7F800000u) {
        return 0;
    }
    if (mag == 0) {
        b = 0;
    }
    return (b & 0x80000000u) != 0 ? ~b : (b | 0x80000000u);
}

extern "C" __global__ void __launch_bounds__(TOPK_THREADS)
ds4j_topk_rows(const void* x, int xdt, long long x_stride,
               long long rows, int cols, int k,
               float* values, long long v_stride,
               int* indices, long long i_stride,
               uint32_t* scratch_keys, int* scratch_indices) {
    __shared__ unsigned int hist[RADIX_BINS];
    __shared__ uint32_t s_keys[SMEM_CANDIDATES];
    __shared__ int s_indices[SMEM_CANDIDATES];
    __shared__ uint32_t s_prefix;
    __shared__ int s_need;
    __shared__ int s_above;
    __shared__ int s_warp_ties[TOPK_WARPS];

    const int tid = static_cast<int>(threadIdx.x);
    const int lane = tid & (WARP_SIZE - 1);
    const int warp = tid / WARP_SIZE;
    const int warps = static_cast<int>(blockDim.x) / WARP_SIZE;
    const bool on_chip = k <= SMEM_CANDIDATES;
    uint32_t* ckeys = on_chip ? s_keys : scratch_keys + static_cast<long long>(blockIdx.x) * k;
    int* cidx = on_chip ? s_indices : scratch_indices + static_cast<long long>(blockIdx.x) * k;

    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const long long xo = r * x_stride;

        // 1. radix select: after the passes, s_prefix = T and s_need = how many keys == T to take
        if (tid == 0) {
            s_prefix = 0;
            s_need = k;
        }
        uint32_t mask = 0;
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (int b = tid; b < RADIX_BINS; b += blockDim.x) {
                hist[b] = 0;
            }
            __syncthreads();
            const uint32_t prefix = s_prefix;
            for (int c = tid; c < cols; c += blockDim.x) {
                const uint32_t key = rank_key(load_real(x, xdt, xo + c));
                if ((key & mask) == prefix) {
                    atomicAdd(&hist[(key >> shift) & 0xFFu], 1u);
                }
            }
            __syncthreads();
            if (warp == 0) {
                // lane l owns bins 255-8l down to 248-8l; a scan from the top bin finds the digit
                const unsigned need = static_cast<unsigned>(s_need);
                unsigned cnt[8];
                unsigned sum = 0;
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    cnt[j] = hist[RADIX_BINS - 1 - 8 * lane - j];
                    sum += cnt[j];
                }
                unsigned incl = sum;
#pragma unroll
                for (int o = 1; o < WARP_SIZE; o <<= 1) {
                    const unsigned t = __shfl_up_sync(FULL_MASK, incl, o);
                    if (lane >= o) {
                        incl += t;
                    }
                }
                const unsigned excl = incl - sum;
                if (excl < need && need <= incl) { // exactly one lane
                    unsigned cum = excl;
#pragma unroll
                    for (int j = 0; j < 8; ++j) {
                        if (cum + cnt[j] >= need) {
                            const uint32_t digit = static_cast<uint32_t>(RADIX_BINS - 1 - 8 * lane - j);
                            s_prefix = prefix | (digit << shift);
                            s_need = static_cast<int>(need - cum);
                            break;
                        }
                        cum += cnt[j];
                    }
                }
            }
            mask |= 0xFFu << shift;
            __syncthreads();
        }
        const uint32_t threshold = s_prefix;
        const int need = s_need;
        const int above = k - need; // keys > T, all taken

        // 2. compaction into exactly k candidates
        if (tid == 0) {
            s_above = 0;
        }
        __syncthreads();
        int ties_before = 0; // ties with T seen in earlier chunks (same in every thread)
        for (int base = 0; base < cols; base += blockDim.x) {
            const int c = base + tid;
            const bool valid = c < cols;
            const uint32_t key = valid ? rank_key(load_real(x, xdt, xo + c)) : 0u;
            if (valid && key > threshold) {
                const int slot = atomicAdd(&s_above, 1);
                ckeys[slot] = key;
                cidx[slot] = c;
            }
            const bool tie = valid && key == threshold;
            const unsigned ballot = __ballot_sync(FULL_MASK, tie);
            if (lane == 0) {
                s_warp_ties[warp] = __popc(ballot);
            }
            __syncthreads();
            int before = ties_before + __popc(ballot & ((1u << lane) - 1u));
            int total = 0;
            for (int w = 0; w < warps; ++w) {
                const int n = s_warp_ties[w];
                before += w < warp ? n : 0;
                total += n;
            }
            if (tie && before < need) {
                ckeys[above + before] = key;
                cidx[above + before] = c;
            }
            ties_before += total;
            __syncthreads(); // s_warp_ties is rewritten by the next chunk
        }

        // 3. each candidate to its rank
        for (int i = tid; i < k; i += blockDim.x) {
            const uint32_t ki = ckeys[i];
            const int ii = cidx[i];
            int rank = 0;
            for (int j = 0; j < k; ++j) {
                const uint32_t kj = ckeys[j];
                rank += (kj > ki || (kj == ki && cidx[j] < ii)) ? 1 : 0;
            }
            values[r * v_stride + rank] = load_real(x, xdt, xo + ii);
            indices[r * i_stride + rank] = ii;
        }
        __syncthreads(); // the candidates and s_prefix are reused by the next row
    }
}

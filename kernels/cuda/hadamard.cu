// Normalized Walsh-Hadamard transform over the last dimension d (a power of two) (Backend.hadamard):
// log2(d) butterfly stages (a + b, a - b on pairs h apart, h = 1, 2, 4, ...) in f32, then one
// product by scale = f32(1 / sqrt(d)), computed on the host. The same additions in the same
// order as the CPU reference, so the results are equal bit for bit.
//
// Launch (HadamardKernels.java):
//  - ds4j_hadamard_rows: a row in shared memory (d floats of dynamic shared memory), one block per
//    row with a grid stride; for every d whose row fits the device's shared memory;
//  - beyond that, through an f32 scratch [rows, d] in device memory: ds4j_hadamard_load, one
//    ds4j_hadamard_stage per h, ds4j_hadamard_store; 1-D grids of FLAT_THREADS, grid-stride.
#include "ds4j_rows.cuh"

using namespace ds4j;

// Upper bound of the row kernel's block (the launcher uses min(d/2, 512), at least one warp):
// 512 threads keep a 32K-float row to 32 butterflies per thread per stage.
constexpr int ROW_MAX_THREADS = 512;
// Plain element-wise grid-stride kernels: 256 threads is the usual occupancy sweet spot.
constexpr int FLAT_THREADS = 256;

// Index of the first element of butterfly p at stage h = 2^log_h: pairs (i, i + h) with
// i = (p / h) * 2h + p % h.
__device__ __forceinline__ long long butterfly_first(long long p, int log_h) {
    const long long h = 1LL << log_h;
    return ((p >> log_h) << (log_h + 1)) | (p & (h - 1));
}

extern "C" __global__ void __launch_bounds__(ROW_MAX_THREADS)
ds4j_hadamard_rows(const void* x, int xdt, long long x_stride,
                   void* y, int ydt, long long y_stride,
                   long long rows, int d, int log_d, float scale) {
    extern __shared__ float row[];
    const int half = d >> 1;
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        for (int c = threadIdx.x; c < d; c += blockDim.x) {
            row[c] = load_real(x, xdt, r * x_stride + c);
        }
        __syncthreads();
        for (int log_h = 0; log_h < log_d; ++log_h) {
            const int h = 1 << log_h;
            for (int p = threadIdx.x; p < half; p += blockDim.x) {
                const int i = static_cast<int>(butterfly_first(p, log_h));
                const float a = row[i];
                const float b = row[i + h];
                row[i] = __fadd_rn(a, b);
                row[i + h] = __fsub_rn(a, b);
            }
            __syncthreads();
        }
        for (int c = threadIdx.x; c < d; c += blockDim.x) {
            store_real(y, ydt, r * y_stride + c, __fmul_rn(row[c], scale));
        }
        __syncthreads(); // the next row reuses the buffer
    }
}

extern "C" __global__ void __launch_bounds__(FLAT_THREADS)
ds4j_hadamard_load(const void* x, int xdt, long long x_stride,
                   float* tmp, long long rows, int log_d) {
    const long long n = rows << log_d;
    const long long mask = (1LL << log_d) - 1;
    for (long long e = global_thread(); e < n; e += threads_in_grid()) {
        tmp[e] = load_real(x, xdt, (e >> log_d) * x_stride + (e & mask));
    }
}

extern "C" __global__ void __launch_bounds__(FLAT_THREADS)
ds4j_hadamard_stage(float* tmp, long long rows, int log_d, int log_h) {
    const long long pairs = rows << (log_d - 1);
    const long long pair_mask = (1LL << (log_d - 1)) - 1;
    const long long h = 1LL << log_h;
    for (long long q = global_thread(); q < pairs; q += threads_in_grid()) {
        const long long base = (q >> (log_d - 1)) << log_d;
        const long long i = base + butterfly_first(q & pair_mask, log_h);
        const float a = tmp[i];
        const float b = tmp[i + h];
        tmp[i] = __fadd_rn(a, b);
        tmp[i + h] = __fsub_rn(a, b);
    }
}

extern "C" __global__ void __launch_bounds__(FLAT_THREADS)
ds4j_hadamard_store(const float* tmp, void* y, int ydt, long long y_stride,
                    long long rows, int log_d, float scale) {
    const long long n = rows << log_d;
    const long long mask = (1LL << log_d) - 1;
    for (long long e = global_thread(); e < n; e += threads_in_grid()) {
        store_real(y, ydt, (e >> log_d) * y_stride + (e & mask), __fmul_rn(tmp[e], scale));
    }
}

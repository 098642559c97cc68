// Softmax over the last dimension (Backend.softmax): m = max (NaN if any is NaN), e = exp(x - m)
// through f64 and rounded to f32, the sum of the e in f64, then e * f32(1 / sum). Only the order
// of the f64 sum differs from the CPU.
// Launch (SoftmaxKernels.java): 1-D grid of ROW_THREADS-thread blocks, one warp per row.
#include "ds4j_rows.cuh"

using namespace ds4j;

// Eight warps (rows) per block.
constexpr int ROW_THREADS = 256;

__device__ __forceinline__ float exp_shifted(float v, float m) {
    return __double2float_rn(exp(static_cast<double>(__fsub_rn(v, m))));
}

extern "C" __global__ void __launch_bounds__(ROW_THREADS)
ds4j_softmax_rows(const void* x, int xdt, long long x_stride,
                  void* y, int ydt, long long y_stride,
                  long long rows, int cols) {
    const int lane = lane_id();
    const float neg_inf = __uint_as_float(0xFF800000u);
    for (long long r = global_warp(); r < rows; r += warps_in_grid()) {
        const long long xo = r * x_stride;
        const long long yo = r * y_stride;
        float m = neg_inf;
        for (int c = lane; c < cols; c += WARP_SIZE) {
            m = java_max(m, load_real(x, xdt, xo + c));
        }
        m = warp_java_max(m);
        double sum = 0.0;
        for (int c = lane; c < cols; c += WARP_SIZE) {
            sum += exp_shifted(load_real(x, xdt, xo + c), m);
        }
        sum = warp_sum(sum);
        const float inv = __double2float_rn(1.0 / sum);
        // the reductions above made every lane read the whole row first (y may be x)
        for (int c = lane; c < cols; c += WARP_SIZE) {
            store_real(y, ydt, yo + c, __fmul_rn(exp_shifted(load_real(x, xdt, xo + c), m), inv));
        }
    }
}

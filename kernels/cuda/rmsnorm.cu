// RMSNorm over the last dimension: y = x * rsqrt(mean(x^2) + eps) * weight (Backend.rmsNorm).
// As the reference: the sum of squares in f64, mean and + eps in f32, rsqrt through f64, then
// two f32 products. Only the order of the f64 sum differs from the CPU.
// Launch (RmsNormKernels.java): 1-D grid of ROW_THREADS-thread blocks, one warp per row.
#include "ds4j_rows.cuh"

using namespace ds4j;

// Eight warps (rows) per block.
constexpr int ROW_THREADS = 256;

extern "C" __global__ void __launch_bounds__(ROW_THREADS)
ds4j_rmsnorm_rows(const void* x, int xdt, long long x_stride,
                  const void* weight, int wdt, float eps,
                  void* y, int ydt, long long y_stride,
                  long long rows, int cols) {
    const int lane = lane_id();
    for (long long r = global_warp(); r < rows; r += warps_in_grid()) {
        const long long xo = r * x_stride;
        const long long yo = r * y_stride;
        double ss = 0.0;
        for (int c = lane; c < cols; c += WARP_SIZE) {
            const double v = load_real(x, xdt, xo + c);
            ss += v * v; // exact square of an f32 in f64
        }
        ss = warp_sum(ss);
        const float mean = __double2float_rn(ss / static_cast<double>(cols));
        const float inv = __double2float_rn(1.0 / sqrt(static_cast<double>(__fadd_rn(mean, eps))));
        // all lanes hold the sum, so all have read the row before any writes it (y may be x)
        for (int c = lane; c < cols; c += WARP_SIZE) {
            float o = __fmul_rn(load_real(x, xdt, xo + c), inv);
            if (weight != nullptr) {
                o = __fmul_rn(o, load_real(weight, wdt, c));
            }
            store_real(y, ydt, yo + c, o);
        }
    }
}

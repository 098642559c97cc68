// Real dtype conversion (F32, BF16, F16) of row-strided tensors: Backend.convert.
// Launch (ConvertKernels.java): 1-D grid of ROW_THREADS-thread blocks, one warp per row.
#include "ds4j_rows.cuh"

using namespace ds4j;

// Eight warps per block: enough rows in flight per block; the grid supplies the rest.
constexpr int ROW_THREADS = 256;

extern "C" __global__ void __launch_bounds__(ROW_THREADS)
ds4j_convert_rows(const void* x, int xdt, long long x_stride,
                  void* y, int ydt, long long y_stride,
                  long long rows, int cols) {
    const int lane = lane_id();
    for (long long r = global_warp(); r < rows; r += warps_in_grid()) {
        const long long xo = r * x_stride;
        const long long yo = r * y_stride;
        for (int c = lane; c < cols; c += WARP_SIZE) {
            store_real(y, ydt, yo + c, load_real(x, xdt, xo + c));
        }
    }
}

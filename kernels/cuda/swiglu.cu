// SwiGLU with the V4 clamp (Backend.swiglu): y = silu(min(g, limit)) * clamp(u, -limit, limit),
// limit 0 = no clamp; silu(g) = g / (1 + f32(exp(-g))) with exp through f64, as the reference.
// Launch (SwigluKernels.java): 1-D grid of ROW_THREADS-thread blocks, one warp per row.
#include "ds4j_rows.cuh"

using namespace ds4j;

// Eight warps (rows) per block.
constexpr int ROW_THREADS = 256;

extern "C" __global__ void __launch_bounds__(ROW_THREADS)
ds4j_swiglu_rows(const void* gate, int gdt, long long g_stride,
                 const void* up, int udt, long long u_stride,
                 float limit,
                 void* y, int ydt, long long y_stride,
                 long long rows, int cols) {
    const int lane = lane_id();
    for (long long r = global_warp(); r < rows; r += warps_in_grid()) {
        const long long go = r * g_stride;
        const long long uo = r * u_stride;
        const long long yo = r * y_stride;
        for (int c = lane; c < cols; c += WARP_SIZE) {
            float g = load_real(gate, gdt, go + c);
            float u = load_real(up, udt, uo + c);
            if (limit > 0.0f) {
                g = java_min(g, limit);
                u = java_max(-limit, java_min(limit, u));
            }
            const float e = __double2float_rn(exp(static_cast<double>(-g)));
            const float silu = __fdiv_rn(g, __fadd_rn(1.0f, e));
            store_real(y, ydt, yo + c, __fmul_rn(silu, u));
        }
    }
}

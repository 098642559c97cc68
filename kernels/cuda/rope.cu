// Rotary embedding on interleaved pairs (Backend.rope): pair i of a row at position pos turns by
// the angle f32(pos) * f_i (an f32 product); cos and sin through f64 rounded to f32, negated sin
// for the inverse; then re*cos - im*sin and re*sin + im*cos in f32 without contraction.
// The f64 cos and sin reduce the angle by pi themselves (sincos_of_f32 below), which keeps the
// library's large-argument path and its local-memory stack out of the kernel.
// The frequencies f_i come from RopeSpec.frequencies() on the host (device buffer, pairs floats).
// Row r has position start_pos + r / rows_per_pos (x is [S, ..., R] read as rows).
// Launch (RopeKernels.java): 1-D grid of ROW_THREADS-thread blocks, one warp per row.
#include "ds4j_rows.cuh"

using namespace ds4j;

// Eight warps (rows) per block; V4's 32 pairs are one pair per lane.
constexpr int ROW_THREADS = 256;

// sin and cos of an f32 angle a in f64: a / pi = n + f with a double-double 1/pi (the f32 has
// 24 significant bits, so the product and its fma error term carry it exactly enough), |f| <= 1/2,
// then sincospi(f) and the sign of (-1)^n. Close to correctly rounded for the angles RoPE sees.
__device__ __forceinline__ void sincos_of_f32(float a, double* s, double* c) {
    const double inv_pi_hi = 0x1.45f306dc9c883p-2;
    const double inv_pi_lo = -0x1.6b01ec5417056p-56;
    const double ad = static_cast<double>(a);
    const double p = ad * inv_pi_hi;
    const double p_err = fma(ad, inv_pi_hi, -p); // exact rounding error of the product
    const double n = rint(p);
    const double f = (p - n) + fma(ad, inv_pi_lo, p_err); // p - n is exact
    double sp;
    double cp;
    sincospi(f, &sp, &cp);
    if ((static_cast<long long>(n) & 1) != 0) {
        sp = -sp;
        cp = -cp;
    }
    *s = sp;
    *c = cp;
}

extern "C" __global__ void __launch_bounds__(ROW_THREADS)
ds4j_rope_rows(const void* x, int xdt, long long x_stride,
               void* y, int ydt, long long y_stride,
               long long rows, int pairs, long long rows_per_pos, long long start_pos,
               const float* freqs, int inverse) {
    const int lane = lane_id();
    for (long long r = global_warp(); r < rows; r += warps_in_grid()) {
        const long long xo = r * x_stride;
        const long long yo = r * y_stride;
        const float pos = __ll2float_rn(start_pos + r / rows_per_pos);
        for (int i = lane; i < pairs; i += WARP_SIZE) {
            double s;
            double c;
            sincos_of_f32(__fmul_rn(pos, freqs[i]), &s, &c);
            const float cf = __double2float_rn(c);
            const float sf = inverse ? -__double2float_rn(s) : __double2float_rn(s);
            const float re = load_real(x, xdt, xo + 2 * i);
            const float im = load_real(x, xdt, xo + 2 * i + 1);
            store_real(y, ydt, yo + 2 * i, __fsub_rn(__fmul_rn(re, cf), __fmul_rn(im, sf)));
            store_real(y, ydt, yo + 2 * i + 1, __fadd_rn(__fmul_rn(re, sf), __fmul_rn(im, cf)));
        }
    }
}

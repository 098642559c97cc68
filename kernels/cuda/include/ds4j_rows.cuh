// Shared helpers of the per-row kernels: real-dtype loads and stores (F32, BF16, F16 by a runtime
// code), Java-compatible min/max, warp reductions and the warp-per-row iteration every row
// kernel uses. A tensor reaches a kernel as (base pointer, dtype code, row stride in elements):
// element (r, c) is at base[r * stride + c].
#pragma once

#include <cfloat>
#include <cstdint>
#include <cuda_fp16.h>

#include "ds4j_formats.cuh"

namespace ds4j {

// IEEE half, round to nearest even (the JDK's Float.floatToFloat16 rounds the same way; NaN
// payloads may differ).
__device__ __forceinline__ float f16_bits_to_float(uint16_t bits) {
    return __half2float(__ushort_as_half(bits));
}

__device__ __forceinline__ uint16_t float_to_f16_bits(float x) {
    return __half_as_ushort(__float2half_rn(x));
}

// dtype codes; io.github.ds4j.cuda.internal.DTypeCodes holds the same numbers
constexpr int DT_F32 = 0;
constexpr int DT_BF16 = 1;
constexpr int DT_F16 = 2;

constexpr int WARP_SIZE = 32;
constexpr unsigned FULL_MASK = 0xFFFFFFFFu;

__device__ __forceinline__ float load_real(const void* base, int dt, long long i) {
    if (dt == DT_F32) {
        return static_cast<const float*>(base)[i];
    }
    uint16_t bits = static_cast<const uint16_t*>(base)[i];
    return dt == DT_BF16 ? bf16_bits_to_float(bits) : f16_bits_to_float(bits);
}

__device__ __forceinline__ void store_real(void* base, int dt, long long i, float v) {
    if (dt == DT_F32) {
        static_cast<float*>(base)[i] = v;
    } else if (dt == DT_BF16) {
        static_cast<uint16_t*>(base)[i] = float_to_bf16_bits(v);
    } else {
        static_cast<uint16_t*>(base)[i] = float_to_f16_bits(v);
    }
}

__device__ __forceinline__ float nan_f32() {
    return __uint_as_float(0x7FC00000u);
}

// Java's Math.max / Math.min for floats: NaN when either operand is NaN (fmaxf would drop it).
__device__ __forceinline__ float java_max(float a, float b) {
    return (a != a || b != b) ? nan_f32() : fmaxf(a, b);
}

__device__ __forceinline__ float java_min(float a, float b) {
    return (a != a || b != b) ? nan_f32() : fminf(a, b);
}

// True for NaN and both infinities.
__device__ __forceinline__ bool not_finite(float v) {
    return !(fabsf(v) <= FLT_MAX);
}

__device__ __forceinline__ float warp_max_finite(float v) {
#pragma unroll
    for (int o = WARP_SIZE / 2; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    }
    return v;
}

__device__ __forceinline__ float warp_java_max(float v) {
#pragma unroll
    for (int o = WARP_SIZE / 2; o > 0; o >>= 1) {
        v = java_max(v, __shfl_xor_sync(FULL_MASK, v, o));
    }
    return v;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int o = WARP_SIZE / 2; o > 0; o >>= 1) {
        v += __shfl_xor_sync(FULL_MASK, v, o);
    }
    return v;
}

__device__ __forceinline__ int lane_id() {
    return static_cast<int>(threadIdx.x) & (WARP_SIZE - 1);
}

// The warps of a 1-D grid walk work items (rows, or (row, block) groups) with a grid stride.
__device__ __forceinline__ long long global_warp() {
    return (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / WARP_SIZE;
}

__device__ __forceinline__ long long warps_in_grid() {
    return static_cast<long long>(gridDim.x) * blockDim.x / WARP_SIZE;
}

// The threads of a 1-D grid walk [0, n) with a grid stride.
__device__ __forceinline__ long long global_thread() {
    return static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long threads_in_grid() {
    return static_cast<long long>(gridDim.x) * blockDim.x;
}

} // namespace ds4j

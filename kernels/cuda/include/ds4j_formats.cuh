// Number formats on the device, bit for bit as io.github.ds4j.format.* computes them on the CPU:
// BF16 rounding, FP8 E4M3 ("fn"), FP4 E2M1 and UE8M0 scale exponents. Every conversion
// here is exact integer or exactly-rounded float arithmetic, so a kernel that uses them produces
// the same codes as the Java reference.
#pragma once

// Only integer and f32 intrinsics are used here, so a host build with small shims can check the
// encoders against the Java classes (native/check-formats.sh).
#include <cstdint>

namespace ds4j {

// ---- BF16 ----

__device__ __forceinline__ float bf16_bits_to_float(uint16_t bits) {
    return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

// Round to nearest even; every NaN becomes 0x7FC0 (BF16.encode).
__device__ __forceinline__ uint16_t float_to_bf16_bits(float x) {
    uint32_t bits = __float_as_uint(x);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
        return 0x7FC0;
    }
    return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// ---- powers of two ----

// 2^e as an f32 for e in [-149, 127], exact (Math.scalb(1f, e)).
__device__ __forceinline__ float exp2_exact(int e) {
    if (e >= -126) {
        return __uint_as_float(static_cast<uint32_t>(e + 127) << 23);
    }
    return __uint_as_float(1u << (e + 149)); // subnormal
}

// ceil(log2(v)) for a positive finite f32, exact (UE8M0.ceilLog2): the exponent, plus one when
// any mantissa bit is set; subnormals through their leading bit.
__device__ __forceinline__ int ceil_log2(float v) {
    uint32_t bits = __float_as_uint(v);
    int exp = static_cast<int>(bits >> 23);
    uint32_t man = bits & 0x7FFFFFu;
    if (exp == 0) {
        int top = 31 - __clz(static_cast<int>(man));
        return -149 + top + ((man & (man - 1)) != 0 ? 1 : 0);
    }
    return exp - 127 + (man != 0 ? 1 : 0);
}

// ---- UE8M0 ----

constexpr uint8_t UE8M0_NAN = 0xFF;

// The code of 2^e with e clamped to [-127, 127] (UE8M0.fromExponent after the quantizer's clamp).
__device__ __forceinline__ uint8_t ue8m0_from_exponent(int e) {
    e = e < -127 ? -127 : (e > 127 ? 127 : e);
    return static_cast<uint8_t>(e + 127);
}

// The value of a UE8M0 code: 2^(code-127); code 0 is 2^-127 (an f32 subnormal), 0xFF is NaN.
__device__ __forceinline__ float ue8m0_decode(uint8_t code) {
    if (code == UE8M0_NAN) {
        return __uint_as_float(0x7FC00000u);
    }
    return code == 0 ? __uint_as_float(0x00400000u) : __uint_as_float(static_cast<uint32_t>(code) << 23);
}

// ---- FP8 E4M3 "fn": bias 7, no infinities, 0x7F/0xFF NaN, max 448 ----

constexpr float E4M3_MAX = 448.0f;
constexpr uint8_t E4M3_NAN = 0x7F;

// Nearest E4M3 value, ties to even; NaN, infinities and magnitudes that round past 448 give NaN
// (E4M3.encode, a non-saturating cast).
__device__ __forceinline__ uint8_t e4m3_encode(float x) {
    uint32_t bits = __float_as_uint(x);
    uint32_t sign = (bits >> 24) & 0x80u;
    uint32_t abs = bits & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u) {
        return static_cast<uint8_t>(sign | E4M3_NAN);
    }
    uint32_t code;
    if (abs < 0x3C800000u) {
        // below 2^-6 the grid is the subnormal step 2^-9; the product is exact, rintf ties to even
        code = static_cast<uint32_t>(rintf(__uint_as_float(abs) * 512.0f));
    } else {
        // round the 23-bit mantissa to 3 bits, ties to even; a carry moves into the exponent
        uint32_t rounded = abs + 0x7FFFFu + ((abs >> 20) & 1u);
        code = (rounded >> 20) - ((127u - 7u) << 3);
        if (code > 0x7Eu) {
            code = E4M3_NAN;
        }
    }
    return static_cast<uint8_t>(sign | code);
}

// Clamp to [-448, 448], then round (E4M3.encodeSaturating); NaN stays NaN.
__device__ __forceinline__ uint8_t e4m3_encode_saturating(float x) {
    // comparisons rather than fminf/fmaxf: those would turn NaN into the bound
    float c = x > E4M3_MAX ? E4M3_MAX : (x < -E4M3_MAX ? -E4M3_MAX : x);
    return e4m3_encode(c);
}

__device__ __forceinline__ float e4m3_decode(uint8_t code) {
    uint32_t exp = (code >> 3) & 0xFu;
    uint32_t man = code & 0x7u;
    uint32_t sign = static_cast<uint32_t>(code & 0x80u) << 24;
    if (exp == 0xFu && man == 0x7u) {
        return __uint_as_float(0x7FC00000u); // Float.NaN, as E4M3.decode returns
    }
    if (exp == 0) {
        float v = static_cast<float>(man) * 0.001953125f; // man * 2^-9, exact
        return __uint_as_float(sign | __float_as_uint(v));
    }
    return __uint_as_float(sign | ((exp - 7u + 127u) << 23) | (man << 20));
}

// ---- FP4 E2M1: magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}, no NaN ----

constexpr float E2M1_MAX = 6.0f;

// Nearest E2M1 code, ties to the even code; past 6 saturates, NaN gives +0 (E2M1.encode).
__device__ __forceinline__ uint32_t e2m1_encode(float x) {
    if (x != x) {
        return 0;
    }
    uint32_t sign = (__float_as_uint(x) >> 28) & 0x8u;
    float a = fabsf(x);
    uint32_t code;
    if (a <= 0.25f) {
        code = 0;
    } else if (a < 0.75f) {
        code = 1;
    } else if (a <= 1.25f) {
        code = 2;
    } else if (a < 1.75f) {
        code = 3;
    } else if (a <= 2.5f) {
        code = 4;
    } else if (a < 3.5f) {
        code = 5;
    } else if (a <= 5.0f) {
        code = 6;
    } else {
        code = 7;
    }
    return sign | code;
}

__device__ __forceinline__ float e2m1_decode(uint32_t code) {
    // magnitude code 0..7 -> {0, 0.5, 1, 1.5, 2, 3, 4, 6}: 0.5*m below 2, else 2^(m/2-1) * (1 + 0.5*(m&1))
    uint32_t m = code & 0x7u;
    float mag = m < 2 ? 0.5f * static_cast<float>(m)
                      : __uint_as_float(((m >> 1) - 1u + 127u) << 23) * (1.0f + 0.5f * static_cast<float>(m & 1u));
    uint32_t sign = (code & 0x8u) << 28;
    return __uint_as_float(sign | __float_as_uint(mag));
}

// Clamp to [-6, 6], then round (the reference clamps before the cast); NaN gives +0.
__device__ __forceinline__ uint32_t e2m1_encode_clamped(float x) {
    float c = x > E2M1_MAX ? E2M1_MAX : (x < -E2M1_MAX ? -E2M1_MAX : x);
    return e2m1_encode(c);
}

} // namespace ds4j

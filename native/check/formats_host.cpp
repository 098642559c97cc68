// Host build of kernels/cuda/include/ds4j_formats.cuh (the device intrinsics replaced by plain C++
// equivalents) that prints, for every f32 bit pattern in chunks of 2^16, a hash of each encoder's
// outputs, and every output of the small decoders. CheckFormats.java recomputes the same numbers
// with io.github.ds4j.format.* and reports any difference. Run by native/check-formats.sh.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

#define __device__
#define __forceinline__ inline

static inline uint32_t __float_as_uint(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
static inline float __uint_as_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
static inline int __clz(int x) {
    return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x));
}

#include "ds4j_formats.cuh"

using namespace ds4j;

static inline uint64_t mix(uint64_t h, uint64_t v) {
    return (h ^ v) * 0x100000001B3ULL;
}

int main() {
    // small decoders, every code
    for (int c = 0; c < 256; ++c) {
        std::printf("e4m3_decode %d %08x\n", c, __float_as_uint(e4m3_decode(static_cast<uint8_t>(c))));
        std::printf("ue8m0_decode %d %08x\n", c, __float_as_uint(ue8m0_decode(static_cast<uint8_t>(c))));
    }
    for (int c = 0; c < 16; ++c) {
        std::printf("e2m1_decode %d %08x\n", c, __float_as_uint(e2m1_decode(static_cast<uint32_t>(c))));
    }
    for (int e = -149; e <= 127; ++e) {
        std::printf("exp2 %d %08x\n", e, __float_as_uint(exp2_exact(e)));
    }
    for (int e = -140; e <= 140; ++e) {
        std::printf("ue8m0_from_exponent %d %d\n", e, ue8m0_from_exponent(e));
    }
    // encoders over all 2^32 bit patterns, one hash per 2^16 patterns
    for (uint32_t chunk = 0; chunk < 65536; ++chunk) {
        uint64_t h8 = 0xCBF29CE484222325ULL, h8s = h8, h4 = h8, hb = h8, hl = h8;
        for (uint32_t lo = 0; lo < 65536; ++lo) {
            const uint32_t bits = (chunk << 16) | lo;
            const float x = __uint_as_float(bits);
            h8 = mix(h8, e4m3_encode(x));
            h8s = mix(h8s, e4m3_encode_saturating(x));
            h4 = mix(h4, e2m1_encode_clamped(x));
            hb = mix(hb, float_to_bf16_bits(x));
            const bool positive_finite = bits > 0 && bits < 0x7F800000u;
            hl = mix(hl, positive_finite ? static_cast<uint64_t>(ceil_log2(x) + 1000) : 0);
        }
        std::printf("chunk %u %016llx %016llx %016llx %016llx %016llx\n", chunk,
                    static_cast<unsigned long long>(h8), static_cast<unsigned long long>(h8s),
                    static_cast<unsigned long long>(h4), static_cast<unsigned long long>(hb),
                    static_cast<unsigned long long>(hl));
    }
    return 0;
}

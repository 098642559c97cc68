// The extern "C" GEMM kernels of one weight format, as GemmKernels names and launches them:
// ds4j_<format>_gemm_{simple, mma80, wgmma, skinny_m<rows>_c<cluster>}. Included once at the end
// of fp8_gemm.cu and fp4_gemm.cu, after defining
//   DS4J_GEMM_FORMAT  fp8 or fp4 (the name part)
//   DS4J_GEMM_FP4     false or true (the template argument of the shared kernels)
//   DS4J_GEMM_WGMMA   the namespace of the format's sm_90a kernel
#pragma once

#define DS4J_CAT3(a, b, c) a##b##c
#define DS4J_NAME3(a, b, c) DS4J_CAT3(a, b, c)
#define DS4J_GEMM_NAME(variant) DS4J_NAME3(ds4j_, DS4J_GEMM_FORMAT, _gemm_##variant)

#define DS4J_GEMM_PARAMS                                                                                    \
    const uint8_t *__restrict__ a, const void *__restrict__ a_scale, const uint8_t *__restrict__ w,        \
        const void *__restrict__ w_scale, void *__restrict__ y, int M, int N, int K, long long y_stride, \
        int flags
#define DS4J_GEMM_ARGS a, a_scale, w, w_scale, y, M, N, K, y_stride, flags

extern "C" __global__ void __launch_bounds__(256) DS4J_GEMM_NAME(simple)(DS4J_GEMM_PARAMS) {
    ds4j::gemm::simple::gemm<DS4J_GEMM_FP4>(DS4J_GEMM_ARGS);
}

extern "C" __global__ void __launch_bounds__(ds4j::gemm::mma80::THREADS, 1) DS4J_GEMM_NAME(mma80)(DS4J_GEMM_PARAMS) {
    ds4j::gemm::mma80::gemm<DS4J_GEMM_FP4>(DS4J_GEMM_ARGS);
}

extern "C" __global__ void __launch_bounds__(ds4j::gemm::DS4J_GEMM_WGMMA::THREADS, 1)
    DS4J_GEMM_NAME(wgmma)(DS4J_GEMM_PARAMS) {
    ds4j::gemm::DS4J_GEMM_WGMMA::gemm(DS4J_GEMM_ARGS);
}

#ifdef DS4J_GEMM_SKINNY
#define DS4J_SKINNY_BODY(mt, cs) ds4j::gemm::skinny::gemm<mt, cs, DS4J_GEMM_FP4>(DS4J_GEMM_ARGS);
#else
#define DS4J_SKINNY_BODY(mt, cs) __trap();
#endif
#define DS4J_SKINNY_ENTRY(rows, mt, cs, cluster)                                         \
    extern "C" __global__ void cluster __launch_bounds__(ds4j::gemm::skinny::THREADS) \
        DS4J_GEMM_NAME(skinny_m##rows##_c##cs)(DS4J_GEMM_PARAMS) {                     \
        DS4J_SKINNY_BODY(mt, cs)                                                       \
    }
#define DS4J_SKINNY_ENTRIES(rows, mt)                      \
    DS4J_SKINNY_ENTRY(rows, mt, 1, )                       \
    DS4J_SKINNY_ENTRY(rows, mt, 2, DS4J_SKINNY_CLUSTER(2)) \
    DS4J_SKINNY_ENTRY(rows, mt, 4, DS4J_SKINNY_CLUSTER(4)) \
    DS4J_SKINNY_ENTRY(rows, mt, 8, DS4J_SKINNY_CLUSTER(8))

DS4J_SKINNY_ENTRIES(8, 1)
DS4J_SKINNY_ENTRIES(16, 2)
DS4J_SKINNY_ENTRIES(32, 4)
DS4J_SKINNY_ENTRIES(64, 8)

// <immintrin.h> for the files compiled with AVX-512 flags. GCC 12 warns
// inside avx512fintrin.h about the undefined pass-through value of unmasked
// intrinsics (GCC bug 105593, fixed in GCC 13): not our code, so those
// warnings are off for the header alone.
#ifndef RNNSERVE_MODEL_KERNELS_AVX512_INTRINSICS_H_
#define RNNSERVE_MODEL_KERNELS_AVX512_INTRINSICS_H_

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

#endif  // RNNSERVE_MODEL_KERNELS_AVX512_INTRINSICS_H_

// <immintrin.h> for the files compiled with AVX-512 flags, and what their
// kernels share. GCC 12 warns inside avx512fintrin.h about the undefined
// pass-through value of unmasked intrinsics (GCC bug 105593, fixed in GCC
// 13): not our code, so those warnings are off for the header alone.
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

#include <cstdint>

namespace rnnserve::model::internal {

// Lanes [0, left) of a 16-lane vector: a row's last, partial columns.
inline __mmask16 LaneMask16(int64_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
}

}  // namespace rnnserve::model::internal

#endif  // RNNSERVE_MODEL_KERNELS_AVX512_INTRINSICS_H_

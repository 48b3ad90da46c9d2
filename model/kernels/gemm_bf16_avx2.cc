// The bf16 GEMM kernel for AVX2: each 256-bit load holds a pair of weight
// rows (8 columns x 2), widened to two float vectors by a shift and a mask
// (a bf16 is the top half of a float32) and multiplied in float32, so x is
// used exactly, as gemm_bf16_avx512.cc does with twice the width. Tiles as
// gemm_avx2.cc's: one or two rows x 32 columns, 3 or 4 rows x 16 columns.
// One row keeps even and odd rows in separate accumulators (8 chains) so
// the FMA latency does not bound it. Compiled with AVX2 + FMA flags.
#include <immintrin.h>

#include <cstdint>

#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

struct Bf16Avx2Tiles {
  using Weight = uint32_t;
  static int64_t PanelElements(int64_t k) { return (k + 1) / 2 * kPanelWidth; }
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxSingleTileRows = 4;

  // Lanes [0, left) set; maskload/maskstore touch only those.
  static __m256i Mask(int left) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  // One pair of weight rows (w) times x[kk] and x[kk + 1] (x offset to kk;
  // x[kk + 1] only if has_odd) into the accumulators. One or two rows widen
  // a vector at a time (four vectors' even and odd halves would not fit 16
  // registers beside the accumulators); 3 and 4 rows widen both vectors
  // first and load each x once. Inlined, so the accumulators stay in
  // registers.
  template <int kRows, int kVectors, int kSets>
  __attribute__((always_inline)) static void Pair(const uint32_t* w, const float* x, int64_t ldx,
                                                  bool has_odd,
                                                  __m256 (&acc)[kSets][kRows][kVectors]) {
    const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
    if constexpr (kRows <= 2) {
      for (int j = 0; j < kVectors; ++j) {
        const __m256i pair = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 8 * j));
        const __m256 even = _mm256_castsi256_ps(_mm256_slli_epi32(pair, 16));
        const __m256 odd = _mm256_castsi256_ps(_mm256_and_si256(pair, high));
        for (int i = 0; i < kRows; ++i) {
          const __m256 x0 = _mm256_broadcast_ss(x + i * ldx);
          const __m256 x1 = has_odd ? _mm256_broadcast_ss(x + i * ldx + 1) : _mm256_setzero_ps();
          acc[0][i][j] = _mm256_fmadd_ps(x0, even, acc[0][i][j]);
          acc[kSets - 1][i][j] = _mm256_fmadd_ps(x1, odd, acc[kSets - 1][i][j]);
        }
      }
    } else {
      // Spelled out rather than loops over the vectors: GCC 12 then keeps
      // the accumulators in registers (with the loops it stores them every
      // pair, as gemm_avx2.cc found).
      static_assert(kVectors == 2);
      const __m256i pair0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w));
      const __m256i pair1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 8));
      const __m256 even0 = _mm256_castsi256_ps(_mm256_slli_epi32(pair0, 16));
      const __m256 odd0 = _mm256_castsi256_ps(_mm256_and_si256(pair0, high));
      const __m256 even1 = _mm256_castsi256_ps(_mm256_slli_epi32(pair1, 16));
      const __m256 odd1 = _mm256_castsi256_ps(_mm256_and_si256(pair1, high));
      for (int i = 0; i < kRows; ++i) {
        const __m256 x0 = _mm256_broadcast_ss(x + i * ldx);
        const __m256 x1 = has_odd ? _mm256_broadcast_ss(x + i * ldx + 1) : _mm256_setzero_ps();
        acc[0][i][0] = _mm256_fmadd_ps(x0, even0, acc[0][i][0]);
        acc[0][i][1] = _mm256_fmadd_ps(x0, even1, acc[0][i][1]);
        acc[0][i][0] = _mm256_fmadd_ps(x1, odd0, acc[0][i][0]);
        acc[0][i][1] = _mm256_fmadd_ps(x1, odd1, acc[0][i][1]);
      }
    }
  }

  // kRows rows x kVectors * 8 columns of `panel` (offset to the strip),
  // `cols` of them valid.
  template <int kRows, int kVectors, bool kStream>
  static void Strip(const uint32_t* panel, int64_t k, const float* x, int64_t ldx,
                    const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols) {
    constexpr int kSets = kRows == 1 ? 2 : 1;
    __m256 acc[kSets][kRows][kVectors];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < kVectors; ++j) {
        acc[0][i][j] = addend == nullptr
                           ? _mm256_setzero_ps()
                           : _mm256_maskload_ps(addend + i * ld_addend + 8 * j, Mask(cols - 8 * j));
        if constexpr (kSets == 2) acc[1][i][j] = _mm256_setzero_ps();
      }
    }
    // Whole pairs first, then an odd last row on its own (its pair's high
    // half is zeros and x's row may end there): no test in the loop, which
    // GCC 12 then keeps in registers.
    int64_t kk = 0;
    for (; kk + 1 < k; kk += 2) {
      const uint32_t* w = panel + kk / 2 * kPanelWidth;
      if (kStream) {
        // As gemm_avx2.cc: a streaming tile asks for its weights 1 KiB ahead.
        const char* ahead = reinterpret_cast<const char*>(w) + 1024;
        for (int line = 0; line * 16 < kVectors * 8; ++line) {
          _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
        }
      }
      Pair<kRows, kVectors, kSets>(w, x + kk, ldx, /*has_odd=*/true, acc);
    }
    if (kk < k) Pair<kRows, kVectors, kSets>(panel + kk / 2 * kPanelWidth, x + kk, ldx, false, acc);
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < kVectors; ++j) {
        __m256 sum = acc[0][i][j];
        if constexpr (kSets == 2) sum = _mm256_add_ps(sum, acc[1][i][j]);
        _mm256_maskstore_ps(c + i * ldc + 8 * j, Mask(cols - 8 * j), sum);
      }
    }
  }

  template <int kRows, bool kStream>
  static void Rows(const uint32_t* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols) {
    constexpr int kVectors = kRows <= 2 ? 4 : 2;
    constexpr int kWidth = 8 * kVectors;
    for (int col = 0; col < cols; col += kWidth) {
      Strip<kRows, kVectors, kStream>(panel + col, k, x, ldx,
                                      addend == nullptr ? nullptr : addend + col, ld_addend,
                                      c + col, ldc, cols - col);
    }
  }

  template <bool kStream>
  static void Run(int rows, const uint32_t* panel, int64_t k, const float* x, int64_t ldx,
                  const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols,
                  const float* /*scales*/) {
    using Fn = void (*)(const uint32_t*, int64_t, const float*, int64_t, const float*, int64_t,
                        float*, int64_t, int);
    static constexpr Fn kByRows[] = {Rows<1, kStream>, Rows<2, kStream>, Rows<3, kStream>,
                                     Rows<4, kStream>};
    kByRows[rows - 1](panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
  }
};

}  // namespace

void GemmBf16Avx2(const GemmArgs& args) { RunGemm<Bf16Avx2Tiles>(args); }

}  // namespace rnnserve::model::internal

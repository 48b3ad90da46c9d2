// The int8 GEMM kernel for AVX-512F with float32 activations: 16 weights a
// load, sign-extended and converted to float, multiplied by x exactly; each
// column's scale is applied once at the end, with the addend. Tiles of up
// to 6 rows x 64 columns or 7 to 12 rows x 32 columns (24 accumulators). Compiled with AVX-512
// flags; called only when the CPU has AVX-512.
#include <cstdint>

#include "model/kernels/avx512_intrinsics.h"
#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

// A quarter of fp32's bytes per row: four times the rows ahead.
constexpr int kPrefetch = 1024;

struct Int8Avx512Tiles {
  using Weight = int8_t;
  static int64_t PanelElements(int64_t k) { return k * kPanelWidth; }
  static constexpr int kMaxRows = 12;
  static constexpr int kMaxSingleTileRows = 12;

  static __mmask16 Mask(int64_t left) { return LaneMask16(left); }

  static __m512 Widen(const int8_t* w) {
    return _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(w))));
  }

  // kRows rows x kVectors * 16 columns of `panel` (offset to them), `cols`
  // of those valid; `scales` offset alike.
  template <int kRows, int kVectors, bool kStream>
  static void Tile(const int8_t* panel, int64_t k, const float* x, int64_t ldx, const float* addend,
                   int64_t ld_addend, float* c, int64_t ldc, int cols, const float* scales) {
    __mmask16 mask[kVectors];
    for (int j = 0; j < kVectors; ++j) mask[j] = Mask(cols - 16 * j);
    __m512 acc[kRows][kVectors];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < kVectors; ++j) acc[i][j] = _mm512_setzero_ps();
    }
    for (int64_t kk = 0; kk < k; ++kk) {
      const int8_t* w = panel + kk * kPanelWidth;
      if (kStream && (kk & 1) == 0) {
        _mm_prefetch(reinterpret_cast<const char*>(w) + kPrefetch, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(w) + kPrefetch + 64, _MM_HINT_T0);
      }
      __m512 wj[kVectors];
      for (int j = 0; j < kVectors; ++j) wj[j] = Widen(w + 16 * j);
      for (int i = 0; i < kRows; ++i) {
        const __m512 xi = _mm512_set1_ps(x[i * ldx + kk]);
        for (int j = 0; j < kVectors; ++j) acc[i][j] = _mm512_fmadd_ps(xi, wj[j], acc[i][j]);
      }
    }
    for (int j = 0; j < kVectors; ++j) {
      const __m512 scale = _mm512_maskz_loadu_ps(mask[j], scales + 16 * j);
      for (int i = 0; i < kRows; ++i) {
        const __m512 add = addend == nullptr
                               ? _mm512_setzero_ps()
                               : _mm512_maskz_loadu_ps(mask[j], addend + i * ld_addend + 16 * j);
        _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask[j],
                              _mm512_fmadd_ps(acc[i][j], scale, add));
      }
    }
  }

  // Up to 6 rows cover the whole panel; 7 to 12, its halves (24
  // accumulators either way), which widens each weight once for 12 rows.
  template <int kRows, bool kStream>
  static void Rows(const int8_t* panel, int64_t k, const float* x, int64_t ldx, const float* addend,
                   int64_t ld_addend, float* c, int64_t ldc, int cols, const float* scales) {
    if constexpr (kRows <= 6) {
      Tile<kRows, 4, kStream>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols, scales);
    } else {
      Tile<kRows, 2, kStream>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols, scales);
      if (cols > 32) {
        Tile<kRows, 2, kStream>(panel + 32, k, x, ldx, addend == nullptr ? nullptr : addend + 32,
                                ld_addend, c + 32, ldc, cols - 32, scales + 32);
      }
    }
  }

  template <bool kStream>
  static void Run(int rows, const int8_t* panel, int64_t k, const float* x, int64_t ldx,
                  const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols,
                  const float* scales) {
    using Fn = void (*)(const int8_t*, int64_t, const float*, int64_t, const float*, int64_t,
                        float*, int64_t, int, const float*);
    static constexpr Fn kByRows[] = {Rows<1, kStream>,  Rows<2, kStream>,  Rows<3, kStream>,
                                     Rows<4, kStream>,  Rows<5, kStream>,  Rows<6, kStream>,
                                     Rows<7, kStream>,  Rows<8, kStream>,  Rows<9, kStream>,
                                     Rows<10, kStream>, Rows<11, kStream>, Rows<12, kStream>};
    kByRows[rows - 1](panel, k, x, ldx, addend, ld_addend, c, ldc, cols, scales);
  }
};

}  // namespace

void GemmInt8Avx512(const GemmArgs& args) { RunGemm<Int8Avx512Tiles>(args); }

}  // namespace rnnserve::model::internal

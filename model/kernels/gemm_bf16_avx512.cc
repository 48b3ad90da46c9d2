// The bf16 GEMM kernel for AVX-512F without BF16: each 512-bit load holds a
// pair of weight rows (16 columns x 2), widened to two float vectors by a
// shift and a mask (a bf16 is the top half of a float32) and multiplied in
// float32, so x is used exactly. Tiles of up to 4 rows x 64 columns or 5 to
// 12 rows x 32 columns (a panel in two halves): at most 24 accumulators. One
// row keeps even and odd rows in separate accumulators (8 chains) so the FMA
// latency does not bound it.
// Compiled with AVX-512 flags; called only when the CPU has AVX-512.
#include "model/kernels/avx512_intrinsics.h"
#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

// As gemm_avx512.cc's full-row distance: half the bytes per row, so the
// same distance covers twice the rows.
constexpr int kPrefetch = 1024;

struct Bf16Avx512Tiles {
  using Weight = uint32_t;
  static int64_t PanelElements(int64_t k) { return (k + 1) / 2 * kPanelWidth; }
  static constexpr int kMaxRows = 12;
  static constexpr int kMaxSingleTileRows = 12;

  static __mmask16 Mask(int64_t left) { return LaneMask16(left); }

  // kRows rows x kVectors * 16 columns of `panel` (offset to them), `cols`
  // of those valid.
  template <int kRows, int kVectors, bool kStream>
  static void Tile(const uint32_t* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols) {
    // Two accumulator sets (even and odd rows) for one row; one otherwise.
    constexpr int kSets = kRows == 1 ? 2 : 1;
    __mmask16 mask[kVectors];
    for (int j = 0; j < kVectors; ++j) mask[j] = Mask(cols - 16 * j);
    __m512 acc[kSets][kRows][kVectors];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < kVectors; ++j) {
        acc[0][i][j] = addend == nullptr
                           ? _mm512_setzero_ps()
                           : _mm512_maskz_loadu_ps(mask[j], addend + i * ld_addend + 16 * j);
        if constexpr (kSets == 2) acc[1][i][j] = _mm512_setzero_ps();
      }
    }
    const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
    for (int64_t kk = 0; kk < k; kk += 2) {
      const uint32_t* w = panel + kk / 2 * kPanelWidth;
      if (kStream) {
        const char* ahead = reinterpret_cast<const char*>(w) + kPrefetch;
        for (int line = 0; line < kVectors; ++line) {
          _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
        }
      }
      __m512 even[kVectors], odd[kVectors];
      for (int j = 0; j < kVectors; ++j) {
        const __m512i pair = _mm512_load_si512(w + 16 * j);
        even[j] = _mm512_castsi512_ps(_mm512_slli_epi32(pair, 16));
        odd[j] = _mm512_castsi512_ps(_mm512_and_si512(pair, high));
      }
      // Past k the odd row is zeros: any finite x times zero adds nothing,
      // and x's row may end at kk.
      const bool has_odd = kk + 1 < k;
      for (int i = 0; i < kRows; ++i) {
        const __m512 x0 = _mm512_set1_ps(x[i * ldx + kk]);
        const __m512 x1 = _mm512_set1_ps(has_odd ? x[i * ldx + kk + 1] : 0.0f);
        for (int j = 0; j < kVectors; ++j) {
          acc[0][i][j] = _mm512_fmadd_ps(x0, even[j], acc[0][i][j]);
          acc[kSets - 1][i][j] = _mm512_fmadd_ps(x1, odd[j], acc[kSets - 1][i][j]);
        }
      }
    }
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < kVectors; ++j) {
        __m512 sum = acc[0][i][j];
        if constexpr (kSets == 2) sum = _mm512_add_ps(sum, acc[1][i][j]);
        _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask[j], sum);
      }
    }
  }

  // Up to 4 rows cover the whole panel; 5 to 12, its halves (24
  // accumulators either way), which widens each weight once for 12 rows.
  template <int kRows, bool kStream>
  static void Rows(const uint32_t* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols) {
    if constexpr (kRows <= 4) {
      Tile<kRows, 4, kStream>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
    } else {
      Tile<kRows, 2, kStream>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      if (cols > 32) {
        Tile<kRows, 2, kStream>(panel + 32, k, x, ldx, addend == nullptr ? nullptr : addend + 32,
                                ld_addend, c + 32, ldc, cols - 32);
      }
    }
  }

  template <bool kStream>
  static void Run(int rows, const uint32_t* panel, int64_t k, const float* x, int64_t ldx,
                  const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols,
                  const float* /*scales*/) {
    using Fn = void (*)(const uint32_t*, int64_t, const float*, int64_t, const float*, int64_t,
                        float*, int64_t, int);
    static constexpr Fn kByRows[] = {Rows<1, kStream>,  Rows<2, kStream>,  Rows<3, kStream>,
                                     Rows<4, kStream>,  Rows<5, kStream>,  Rows<6, kStream>,
                                     Rows<7, kStream>,  Rows<8, kStream>,  Rows<9, kStream>,
                                     Rows<10, kStream>, Rows<11, kStream>, Rows<12, kStream>};
    kByRows[rows - 1](panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
  }
};

}  // namespace

void GemmBf16Avx512(const GemmArgs& args) { RunGemm<Bf16Avx512Tiles>(args); }

}  // namespace rnnserve::model::internal

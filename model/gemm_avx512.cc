// The AVX-512 GEMM kernel: register tiles of up to 6 rows x 64 columns, or
// 7 to 12 rows x 32 columns (a panel in two halves) so that a batch of up to
// 12 streams the weights once; 24 accumulators either way. Compiled with
// AVX-512 flags (model/CMakeLists.txt); called only when the CPU has AVX-512.
#include <immintrin.h>

#include "model/gemm_driver.h"
#include "model/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

struct Avx512Tiles {
  static constexpr int kMaxRows = 6;
  static constexpr int kMaxSingleTileRows = 12;

  // Lanes [0, left) of a 16-lane vector.
  static __mmask16 Mask(int left) {
    return left >= 16 ? __mmask16(0xFFFF)
                      : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
  }

  template <int kRows>
  static void Tile(const float* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                   int cols) {
    __mmask16 mask[4];
    for (int j = 0; j < 4; ++j) mask[j] = Mask(cols - 16 * j);
    __m512 acc[kRows][4];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < 4; ++j) {
        acc[i][j] = addend == nullptr
                        ? _mm512_setzero_ps()
                        : _mm512_maskz_loadu_ps(mask[j], addend + i * ld_addend + 16 * j);
      }
    }
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* w = panel + kk * kPanelWidth;
      if (kRows <= 2) {
        // A row or two has too little arithmetic to hide L3 latency behind:
        // ask for the weights 1 KiB ahead (runs into the next panel, which
        // follows in memory). Measured ~10% off B = 1; no gain for bigger
        // tiles, whose panels come from L2.
        const char* ahead = reinterpret_cast<const char*>(w) + 1024;
        for (int line = 0; line < 4; ++line) _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
      }
      const __m512 w0 = _mm512_load_ps(w);
      const __m512 w1 = _mm512_load_ps(w + 16);
      const __m512 w2 = _mm512_load_ps(w + 32);
      const __m512 w3 = _mm512_load_ps(w + 48);
      for (int i = 0; i < kRows; ++i) {
        const __m512 xi = _mm512_set1_ps(x[i * ldx + kk]);
        acc[i][0] = _mm512_fmadd_ps(xi, w0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(xi, w1, acc[i][1]);
        acc[i][2] = _mm512_fmadd_ps(xi, w2, acc[i][2]);
        acc[i][3] = _mm512_fmadd_ps(xi, w3, acc[i][3]);
      }
    }
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < 4; ++j) {
        _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask[j], acc[i][j]);
      }
    }
  }

  // Columns [0, 32) of `panel` (already offset to the half), `cols` valid.
  template <int kRows>
  static void Half(const float* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                   int cols) {
    const __mmask16 mask[2] = {Mask(cols), Mask(cols - 16)};
    __m512 acc[kRows][2];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < 2; ++j) {
        acc[i][j] = addend == nullptr
                        ? _mm512_setzero_ps()
                        : _mm512_maskz_loadu_ps(mask[j], addend + i * ld_addend + 16 * j);
      }
    }
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* w = panel + kk * kPanelWidth;
      const __m512 w0 = _mm512_load_ps(w);
      const __m512 w1 = _mm512_load_ps(w + 16);
      for (int i = 0; i < kRows; ++i) {
        const __m512 xi = _mm512_set1_ps(x[i * ldx + kk]);
        acc[i][0] = _mm512_fmadd_ps(xi, w0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(xi, w1, acc[i][1]);
      }
    }
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < 2; ++j) {
        _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask[j], acc[i][j]);
      }
    }
  }

  template <int kRows>
  static void Halves(const float* panel, int64_t k, const float* x, int64_t ldx,
                     const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                     int cols) {
    Half<kRows>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
    if (cols > 32) {
      Half<kRows>(panel + 32, k, x, ldx, addend == nullptr ? nullptr : addend + 32,
                  ld_addend, c + 32, ldc, cols - 32);
    }
  }

  static void Run(int rows, const float* panel, int64_t k, const float* x, int64_t ldx,
                  const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                  int cols) {
    switch (rows) {
      case 1:
        return Tile<1>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 2:
        return Tile<2>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 3:
        return Tile<3>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 4:
        return Tile<4>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 5:
        return Tile<5>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 6:
        return Tile<6>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 7:
        return Halves<7>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 8:
        return Halves<8>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 9:
        return Halves<9>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 10:
        return Halves<10>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 11:
        return Halves<11>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      default:
        return Halves<12>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
    }
  }
};

}  // namespace

void GemmAvx512(const GemmArgs& args) { RunGemm<Avx512Tiles>(args); }

}  // namespace rnnserve::model::internal

// The AVX2 GEMM kernel: each 64-column panel as two halves of 32 columns,
// register tiles of up to 3 rows x 32 columns (12 of the 16 ymm registers as
// accumulators). Compiled with AVX2 + FMA flags; used when the CPU lacks
// AVX-512 (or RNNSERVE_KERNEL=avx2).
#include <immintrin.h>

#include "model/gemm_driver.h"
#include "model/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

struct Avx2Tiles {
  static constexpr int kMaxRows = 3;
  static constexpr int kMaxSingleTileRows = 3;

  // Lanes [0, left) set; maskload/maskstore touch only those.
  static __m256i Mask(int left) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  // Columns [0, 32) of `panel` (already offset to the half), `cols` of them
  // valid.
  template <int kRows>
  static void Half(const float* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                   int cols) {
    const bool full = cols >= 32;
    __m256i mask[4];
    for (int j = 0; j < 4; ++j) mask[j] = Mask(cols - 8 * j);
    __m256 acc[kRows][4];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < 4; ++j) {
        const float* a = addend + i * ld_addend + 8 * j;
        acc[i][j] = addend == nullptr ? _mm256_setzero_ps()
                    : full            ? _mm256_loadu_ps(a)
                                      : _mm256_maskload_ps(a, mask[j]);
      }
    }
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* w = panel + kk * kPanelWidth;
      const __m256 w0 = _mm256_load_ps(w);
      const __m256 w1 = _mm256_load_ps(w + 8);
      const __m256 w2 = _mm256_load_ps(w + 16);
      const __m256 w3 = _mm256_load_ps(w + 24);
      for (int i = 0; i < kRows; ++i) {
        const __m256 xi = _mm256_broadcast_ss(x + i * ldx + kk);
        acc[i][0] = _mm256_fmadd_ps(xi, w0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(xi, w1, acc[i][1]);
        acc[i][2] = _mm256_fmadd_ps(xi, w2, acc[i][2]);
        acc[i][3] = _mm256_fmadd_ps(xi, w3, acc[i][3]);
      }
    }
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < 4; ++j) {
        float* out = c + i * ldc + 8 * j;
        if (full) {
          _mm256_storeu_ps(out, acc[i][j]);
        } else {
          _mm256_maskstore_ps(out, mask[j], acc[i][j]);
        }
      }
    }
  }

  template <int kRows>
  static void Tile(const float* panel, int64_t k, const float* x, int64_t ldx,
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
      default:
        return Tile<3>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
    }
  }
};

}  // namespace

void GemmAvx2(const GemmArgs& args) { RunGemm<Avx2Tiles>(args); }

}  // namespace rnnserve::model::internal

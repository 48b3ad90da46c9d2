// The AVX2 GEMM kernel, for CPUs without AVX-512 (or RNNSERVE_KERNEL=avx2).
// With 16 ymm registers a tile is one or two rows x 32 columns (a panel in
// two halves; 4 accumulator chains a row hide the FMA latency when the
// weights stream at B = 1), or 3 or 4 rows x 16 columns (a panel in four
// quarters). Six rows would fit 16 registers on paper, but GCC 12 then keeps
// the accumulators in memory, storing them every iteration. Compiled with
// AVX2 + FMA flags.
#include <immintrin.h>

#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

struct Avx2Tiles {
  using Weight = float;
  static int64_t PanelElements(int64_t k) { return k * kPanelWidth; }
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxSingleTileRows = 4;

  // Lanes [0, left) set; maskload/maskstore touch only those.
  static __m256i Mask(int left) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  // kRows rows x kVectors * 8 columns of `panel` (offset to the strip),
  // `cols` of them valid.
  template <int kRows, int kVectors, bool kStream>
  static void Strip(const float* panel, int64_t k, const float* x, int64_t ldx,
                    const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                    int cols) {
    // Masked loads and stores even for full strips, the masks made again
    // after the loop rather than held in registers the loop needs.
    __m256 acc[kRows][kVectors];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < kVectors; ++j) {
        acc[i][j] = addend == nullptr ? _mm256_setzero_ps()
                                      : _mm256_maskload_ps(addend + i * ld_addend + 8 * j,
                                                           Mask(cols - 8 * j));
      }
    }
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* w = panel + kk * kPanelWidth;
      if (kStream) {
        // As gemm_avx512.cc: a streaming tile asks for its weights 1 KiB
        // ahead.
        const char* ahead = reinterpret_cast<const char*>(w) + 1024;
        for (int line = 0; line * 16 < kVectors * 8; ++line) {
          _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
        }
      }
      // Spelled out rather than a loop over j: GCC 12 then keeps the
      // accumulators in registers (with the loop it stores them every k).
      const __m256 w0 = _mm256_load_ps(w);
      const __m256 w1 = _mm256_load_ps(w + 8);
      const __m256 w2 = kVectors == 4 ? _mm256_load_ps(w + 16) : w0;
      const __m256 w3 = kVectors == 4 ? _mm256_load_ps(w + 24) : w1;
      for (int i = 0; i < kRows; ++i) {
        const __m256 xi = _mm256_broadcast_ss(x + i * ldx + kk);
        acc[i][0] = _mm256_fmadd_ps(xi, w0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(xi, w1, acc[i][1]);
        if constexpr (kVectors == 4) {
          acc[i][2] = _mm256_fmadd_ps(xi, w2, acc[i][2]);
          acc[i][3] = _mm256_fmadd_ps(xi, w3, acc[i][3]);
        }
      }
    }
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < kVectors; ++j) {
        _mm256_maskstore_ps(c + i * ldc + 8 * j, Mask(cols - 8 * j), acc[i][j]);
      }
    }
  }

  template <int kRows, bool kStream>
  static void Rows(const float* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                   int cols) {
    constexpr int kVectors = kRows <= 2 ? 4 : 2;
    constexpr int kWidth = 8 * kVectors;
    for (int col = 0; col < cols; col += kWidth) {
      Strip<kRows, kVectors, kStream>(panel + col, k, x, ldx,
                                      addend == nullptr ? nullptr : addend + col, ld_addend,
                                      c + col, ldc, cols - col);
    }
  }

  template <bool kStream>
  static void Run(int rows, const float* panel, int64_t k, const float* x, int64_t ldx,
                  const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols,
                  const float* /*scales*/) {
    using Fn = void (*)(const float*, int64_t, const float*, int64_t, const float*, int64_t,
                        float*, int64_t, int);
    static constexpr Fn kByRows[] = {Rows<1, kStream>, Rows<2, kStream>, Rows<3, kStream>,
                                     Rows<4, kStream>};
    kByRows[rows - 1](panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
  }
};

}  // namespace

void GemmAvx2(const GemmArgs& args) { RunGemm<Avx2Tiles>(args); }

}  // namespace rnnserve::model::internal

// The AVX-512 GEMM kernel: register tiles of up to 6 rows x 64 columns, or
// 7 to 12 rows x 32 columns (a panel in two halves) so that a batch of up to
// 12 streams the weights once; 24 accumulators either way. Compiled with
// AVX-512 flags (model/CMakeLists.txt); called only when the CPU has AVX-512.
#include "model/kernels/avx512_intrinsics.h"
#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

// How far ahead a tile that streams the weights (the only tile of its rows,
// so they come from L3 and are not reused) asks for them: enough to cover L3
// latency with little arithmetic per byte. Measured on Zen 5: 1 KiB for full
// panel rows (B <= 6; ~10% off B = 1), 4 KiB for half rows (B = 7..12; ~5%
// off B = 8). Tiles that share a panel read it from L2 and gain nothing.
constexpr int kFullRowPrefetch = 1024;
constexpr int kHalfRowPrefetch = 4096;

struct Avx512Tiles {
  using Weight = float;
  static int64_t PanelElements(int64_t k) { return k * kPanelWidth; }
  static constexpr int kMaxRows = 6;
  static constexpr int kMaxSingleTileRows = 12;

  static __mmask16 Mask(int64_t left) { return LaneMask16(left); }

  static void Prefetch(const float* w, int distance, int lines) {
    const char* ahead = reinterpret_cast<const char*>(w) + distance;
    for (int line = 0; line < lines; ++line) _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
  }

  // `kRows` rows x all 64 columns of `panel`, `cols` of them valid.
  template <int kRows, bool kStream>
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
      // Past the panel's end this runs into the next one, next in memory.
      if (kStream) Prefetch(w, kFullRowPrefetch, 4);
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

  // `kRows` rows x columns [0, 32) of `panel` (already offset to the half),
  // `cols` of them valid.
  template <int kRows, bool kStream>
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
      if (kStream) Prefetch(w, kHalfRowPrefetch, 2);
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

  template <int kRows, bool kStream>
  static void Halves(const float* panel, int64_t k, const float* x, int64_t ldx,
                     const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                     int cols) {
    Half<kRows, kStream>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
    if (cols > 32) {
      Half<kRows, kStream>(panel + 32, k, x, ldx, addend == nullptr ? nullptr : addend + 32,
                           ld_addend, c + 32, ldc, cols - 32);
    }
  }

  // Tiles of up to 6 rows cover the whole panel; 7 to 12, its halves.
  template <int kRows, bool kStream>
  static void Rows(const float* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                   int cols) {
    // One row as Tile<1> (4 accumulator chains): splitting even and odd k
    // into 8 chains gained ~3% where the weights sit in L2 (a chunk at
    // B = 1) and lost ~5% where they stream from L3 (a step at B = 1).
    if constexpr (kRows <= kMaxRows) {
      Tile<kRows, kStream>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
    } else {
      Halves<kRows, kStream>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
    }
  }

  template <bool kStream>
  static void Run(int rows, const float* panel, int64_t k, const float* x, int64_t ldx,
                  const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols,
                  const float* /*scales*/) {
    using Fn = void (*)(const float*, int64_t, const float*, int64_t, const float*, int64_t,
                        float*, int64_t, int);
    static constexpr Fn kByRows[] = {
        Rows<1, kStream>, Rows<2, kStream>, Rows<3, kStream>,  Rows<4, kStream>,
        Rows<5, kStream>, Rows<6, kStream>, Rows<7, kStream>,  Rows<8, kStream>,
        Rows<9, kStream>, Rows<10, kStream>, Rows<11, kStream>, Rows<12, kStream>};
    kByRows[rows - 1](panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
  }
};

}  // namespace

void GemmAvx512(const GemmArgs& args) { RunGemm<Avx512Tiles>(args); }

}  // namespace rnnserve::model::internal

// The bf16 GEMM kernel for AVX-512 BF16: vdpbf16ps multiplies a pair of
// weight rows (16 columns x 2 bf16 per register) by a pair of x values
// rounded to bf16, accumulating in float32: 32 multiply-adds an
// instruction. x is rounded 32 values at a time into a small buffer on the
// stack. Tiles of up to 6 rows x 64 columns (24 accumulators); one row
// alternates two accumulator sets between pair rows (8 chains) so the
// instruction's latency does not bound it. Compiled with AVX-512 BF16 flags;
// called only when the CPU has them.
#include <cstdint>

#include "model/kernels/avx512_intrinsics.h"
#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

constexpr int kPrefetch = 1024;
// Pairs of x rounded per batch: one 512-bit register of bf16.
constexpr int kPairsPerBatch = 16;

struct Bf16DotTiles {
  using Weight = uint32_t;
  static int64_t PanelElements(int64_t k) { return (k + 1) / 2 * kPanelWidth; }
  static constexpr int kMaxRows = 6;
  static constexpr int kMaxSingleTileRows = 6;

  static __mmask16 Mask(int64_t left) { return LaneMask16(left); }

  static __m512 Dot(__m512 acc, __m512i w, __m512i x) {
    // Vector casts are bit casts and keep the operands in registers.
    return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)x);
  }

  template <int kRows, bool kStream>
  static void Tile(const uint32_t* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols) {
    constexpr int kSets = kRows == 1 ? 2 : 1;
    __mmask16 mask[4];
    for (int j = 0; j < 4; ++j) mask[j] = Mask(cols - 16 * j);
    __m512 acc[kSets][kRows][4];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < 4; ++j) {
        acc[0][i][j] = addend == nullptr
                           ? _mm512_setzero_ps()
                           : _mm512_maskz_loadu_ps(mask[j], addend + i * ld_addend + 16 * j);
        if constexpr (kSets == 2) acc[1][i][j] = _mm512_setzero_ps();
      }
    }
    const int64_t pairs = (k + 1) / 2;
    alignas(64) uint32_t x_pairs[kRows][kPairsPerBatch];
    for (int64_t q0 = 0; q0 < pairs; q0 += kPairsPerBatch) {
      const int64_t k0 = 2 * q0;
      for (int i = 0; i < kRows; ++i) {
        // Masked loads read nothing past k; the odd tail pairs with zero.
        const float* row = x + i * ldx + k0;
        const __m512 lo = _mm512_maskz_loadu_ps(Mask(k - k0), row);
        const __m512 hi = _mm512_maskz_loadu_ps(Mask(k - k0 - 16), row + 16);
        const __m512bh rounded = _mm512_cvtne2ps_pbh(hi, lo);
        _mm512_store_si512(x_pairs[i], (__m512i)rounded);
      }
      const int64_t batch = pairs - q0 < kPairsPerBatch ? pairs - q0 : kPairsPerBatch;
      for (int64_t q = 0; q < batch; ++q) {
        const uint32_t* w = panel + (q0 + q) * kPanelWidth;
        if (kStream) {
          const char* ahead = reinterpret_cast<const char*>(w) + kPrefetch;
          for (int line = 0; line < 4; ++line) _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
        }
        const __m512i w0 = _mm512_load_si512(w);
        const __m512i w1 = _mm512_load_si512(w + 16);
        const __m512i w2 = _mm512_load_si512(w + 32);
        const __m512i w3 = _mm512_load_si512(w + 48);
        const int set = kSets == 2 ? static_cast<int>(q & 1) : 0;
        for (int i = 0; i < kRows; ++i) {
          const __m512i xi = _mm512_set1_epi32(static_cast<int>(x_pairs[i][q]));
          acc[set][i][0] = Dot(acc[set][i][0], w0, xi);
          acc[set][i][1] = Dot(acc[set][i][1], w1, xi);
          acc[set][i][2] = Dot(acc[set][i][2], w2, xi);
          acc[set][i][3] = Dot(acc[set][i][3], w3, xi);
        }
      }
    }
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < 4; ++j) {
        __m512 sum = acc[0][i][j];
        if constexpr (kSets == 2) sum = _mm512_add_ps(sum, acc[1][i][j]);
        _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask[j], sum);
      }
    }
  }

  template <bool kStream>
  static void Run(int rows, const uint32_t* panel, int64_t k, const float* x, int64_t ldx,
                  const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols,
                  const float* /*scales*/) {
    using Fn = void (*)(const uint32_t*, int64_t, const float*, int64_t, const float*, int64_t,
                        float*, int64_t, int);
    static constexpr Fn kByRows[] = {Tile<1, kStream>, Tile<2, kStream>, Tile<3, kStream>,
                                     Tile<4, kStream>, Tile<5, kStream>, Tile<6, kStream>};
    kByRows[rows - 1](panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
  }
};

}  // namespace

void GemmBf16Avx512Bf16(const GemmArgs& args) { RunGemm<Bf16DotTiles>(args); }

}  // namespace rnnserve::model::internal

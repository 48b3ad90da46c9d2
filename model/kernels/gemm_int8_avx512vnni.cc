// The int8 GEMM kernel for AVX-512 VNNI: vpdpbusd multiplies four bytes of
// quantised x (u8, quantised_rows.h) by a quad of int8 weights (16 columns
// x 4 rows a register) and adds the four products to an int32 lane: 64
// multiply-adds an instruction, exact. At the end each column takes back
// the +128 of x's bytes (128 x its column sum) and both scales, with the
// addend. Tiles of up to 6 rows x 64 columns or 7 to 12 rows x 32 columns
// (24 accumulators); one row alternates two accumulator sets between quads
// (8 chains) so the instruction's latency does not bound it. Compiled with
// AVX-512 VNNI flags; called only when the CPU has them.
#include <cstdint>
#include <cstring>

#include "model/kernels/avx512_intrinsics.h"
#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

// Bytes of weights per quad row of a panel: 64 columns x 4 rows.
constexpr int kQuadBytes = 4 * kPanelWidth;
// A quarter of fp32's bytes per row: as far ahead as four fp32 rows.
constexpr int kPrefetch = 1024;

struct Int8VnniTiles {
  using Weight = int8_t;
  static constexpr bool kQuantisedInput = true;
  static int64_t PanelElements(int64_t k) { return (k + 3) / 4 * kQuadBytes; }
  static constexpr int kMaxRows = 12;
  static constexpr int kMaxSingleTileRows = 12;

  static __m512i Broadcast(const uint8_t* quad) {
    int32_t bytes;
    std::memcpy(&bytes, quad, sizeof bytes);
    return _mm512_set1_epi32(bytes);
  }

  // kRows rows x kVectors * 16 columns of `panel` (offset to them), `cols`
  // of those valid; `scales` and `column_sums` offset alike.
  template <int kRows, int kVectors, bool kStream>
  static void Tile(const int8_t* panel, int64_t k, const uint8_t* xq, int64_t ldxq,
                   const float* x_scales, const float* addend, int64_t ld_addend, float* c,
                   int64_t ldc, int cols, const float* scales, const int32_t* column_sums) {
    constexpr int kSets = kRows == 1 ? 2 : 1;
    __m512i acc[kSets][kRows][kVectors];
    for (int s = 0; s < kSets; ++s) {
      for (int i = 0; i < kRows; ++i) {
        for (int j = 0; j < kVectors; ++j) acc[s][i][j] = _mm512_setzero_si512();
      }
    }
    const int64_t quads = (k + 3) / 4;
    for (int64_t q = 0; q < quads; ++q) {
      const int8_t* w = panel + q * kQuadBytes;
      if (kStream) {
        const char* ahead = reinterpret_cast<const char*>(w) + kPrefetch;
        for (int line = 0; line < kVectors; ++line) _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
      }
      __m512i wj[kVectors];
      for (int j = 0; j < kVectors; ++j) wj[j] = _mm512_load_si512(w + 64 * j);
      const int set = kSets == 2 ? static_cast<int>(q & 1) : 0;
      for (int i = 0; i < kRows; ++i) {
        const __m512i xi = Broadcast(xq + i * ldxq + 4 * q);
        for (int j = 0; j < kVectors; ++j) {
          acc[set][i][j] = _mm512_dpbusd_epi32(acc[set][i][j], xi, wj[j]);
        }
      }
    }
    for (int j = 0; j < kVectors; ++j) {
      const __mmask16 mask = LaneMask16(cols - 16 * j);
      const __m512 scale = _mm512_maskz_loadu_ps(mask, scales + 16 * j);
      // x's bytes are its value + 128: take back 128 x the column's sum.
      const __m512i offset =
          _mm512_slli_epi32(_mm512_maskz_loadu_epi32(mask, column_sums + 16 * j), 7);
      for (int i = 0; i < kRows; ++i) {
        __m512i sum = acc[0][i][j];
        if constexpr (kSets == 2) sum = _mm512_add_epi32(sum, acc[1][i][j]);
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(sum, offset));
        const __m512 add = addend == nullptr
                               ? _mm512_setzero_ps()
                               : _mm512_maskz_loadu_ps(mask, addend + i * ld_addend + 16 * j);
        const __m512 both = _mm512_mul_ps(scale, _mm512_set1_ps(x_scales[i]));
        _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask, _mm512_fmadd_ps(dot, both, add));
      }
    }
  }

  // Up to 6 rows cover the whole panel; 7 to 12, its halves (24
  // accumulators either way), which loads each weight once for 12 rows.
  template <int kRows, bool kStream>
  static void Rows(const int8_t* panel, int64_t k, const uint8_t* xq, int64_t ldxq,
                   const float* x_scales, const float* addend, int64_t ld_addend, float* c,
                   int64_t ldc, int cols, const float* scales, const int32_t* column_sums) {
    if constexpr (kRows <= 6) {
      Tile<kRows, 4, kStream>(panel, k, xq, ldxq, x_scales, addend, ld_addend, c, ldc, cols, scales,
                              column_sums);
    } else {
      Tile<kRows, 2, kStream>(panel, k, xq, ldxq, x_scales, addend, ld_addend, c, ldc, cols, scales,
                              column_sums);
      if (cols > 32) {
        // Column 32 of a quad row is 128 bytes in.
        Tile<kRows, 2, kStream>(panel + 4 * 32, k, xq, ldxq, x_scales,
                                addend == nullptr ? nullptr : addend + 32, ld_addend, c + 32, ldc,
                                cols - 32, scales + 32, column_sums + 32);
      }
    }
  }

  template <bool kStream>
  static void Run(int rows, const int8_t* panel, int64_t k, const uint8_t* xq, int64_t ldxq,
                  const float* x_scales, const float* addend, int64_t ld_addend, float* c,
                  int64_t ldc, int cols, const float* scales, const int32_t* column_sums) {
    using Fn = void (*)(const int8_t*, int64_t, const uint8_t*, int64_t, const float*, const float*,
                        int64_t, float*, int64_t, int, const float*, const int32_t*);
    static constexpr Fn kByRows[] = {Rows<1, kStream>,  Rows<2, kStream>,  Rows<3, kStream>,
                                     Rows<4, kStream>,  Rows<5, kStream>,  Rows<6, kStream>,
                                     Rows<7, kStream>,  Rows<8, kStream>,  Rows<9, kStream>,
                                     Rows<10, kStream>, Rows<11, kStream>, Rows<12, kStream>};
    kByRows[rows - 1](panel, k, xq, ldxq, x_scales, addend, ld_addend, c, ldc, cols, scales,
                      column_sums);
  }
};

}  // namespace

void GemmInt8Avx512Vnni(const GemmArgs& args) { RunGemm<Int8VnniTiles>(args); }

}  // namespace rnnserve::model::internal

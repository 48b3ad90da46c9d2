// The int8 GEMM kernel for AVX2 (and AVX-512 without VNNI), x quantised per
// row as for every int8 kernel (gemm_kernels.h). AVX2 has no u8 x s8 dot
// product into int32 but vpmaddubsw, which saturates its pair sums at
// 16 bits: 255 x 127 x 2 would overflow, so x is used signed instead of
// +128 (a byte xor), its magnitude as the unsigned operand and its sign
// moved onto the weights (vpsignb); pairs of at most 127 x 127 x 2 fit, and
// vpmaddwd by ones sums them into int32 lanes. The sums are exact, the
// same integers vpdpbusd adds, so no column sum is taken back. Tiles as
// gemm_avx2.cc's: one or two rows x 32 columns, 3 or 4 rows x 16 columns.
// Compiled with AVX2 + FMA flags.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

// Bytes of weights per quad row of a panel: 64 columns x 4 rows.
constexpr int kQuadBytes = 4 * kPanelWidth;

struct Int8Avx2Tiles {
  using Weight = int8_t;
  static constexpr bool kQuantisedInput = true;
  static int64_t PanelElements(int64_t k) { return (k + 3) / 4 * kQuadBytes; }
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxSingleTileRows = 4;

  // Lanes [0, left) set; maskload/maskstore touch only those.
  static __m256i Mask(int left) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  // kRows rows x kVectors * 8 columns of `panel` (offset to the strip: 4
  // bytes a column), `cols` of them valid; `scales` offset alike.
  template <int kRows, int kVectors, bool kStream>
  static void Strip(const int8_t* panel, int64_t k, const uint8_t* xq, int64_t ldxq,
                    const float* x_scales, const float* addend, int64_t ld_addend, float* c,
                    int64_t ldc, int cols, const float* scales) {
    __m256i acc[kRows][kVectors];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < kVectors; ++j) acc[i][j] = _mm256_setzero_si256();
    }
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i offset = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int64_t q = 0; q < (k + 3) / 4; ++q) {
      const int8_t* w = panel + q * kQuadBytes;
      if (kStream) {
        const char* ahead = reinterpret_cast<const char*>(w) + 1024;
        for (int line = 0; line * 2 < kVectors; ++line)
          _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
      }
      __m256i wj[kVectors];
#pragma GCC unroll 4
      for (int j = 0; j < kVectors; ++j) {
        wj[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 32 * j));
      }
#pragma GCC unroll 4
      for (int i = 0; i < kRows; ++i) {
        int32_t bytes;
        std::memcpy(&bytes, xq + i * ldxq + 4 * q, sizeof bytes);
        // The bytes hold x + 128: the xor makes them x, signed.
        const __m256i xs = _mm256_xor_si256(_mm256_set1_epi32(bytes), offset);
        const __m256i magnitude = _mm256_abs_epi8(xs);
#pragma GCC unroll 4
        for (int j = 0; j < kVectors; ++j) {
          const __m256i pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(wj[j], xs));
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(pairs, ones));
        }
      }
    }
    for (int j = 0; j < kVectors; ++j) {
      const __m256i mask = Mask(cols - 8 * j);
      // Scales are padded to whole panels: a full load stays inside.
      const __m256 scale = _mm256_loadu_ps(scales + 8 * j);
      for (int i = 0; i < kRows; ++i) {
        const __m256 add = addend == nullptr
                               ? _mm256_setzero_ps()
                               : _mm256_maskload_ps(addend + i * ld_addend + 8 * j, mask);
        const __m256 both = _mm256_mul_ps(scale, _mm256_set1_ps(x_scales[i]));
        const __m256 dot = _mm256_cvtepi32_ps(acc[i][j]);
        _mm256_maskstore_ps(c + i * ldc + 8 * j, mask, _mm256_fmadd_ps(dot, both, add));
      }
    }
  }

  template <int kRows, bool kStream>
  static void Rows(const int8_t* panel, int64_t k, const uint8_t* xq, int64_t ldxq,
                   const float* x_scales, const float* addend, int64_t ld_addend, float* c,
                   int64_t ldc, int cols, const float* scales) {
    constexpr int kVectors = kRows <= 2 ? 4 : 2;
    constexpr int kWidth = 8 * kVectors;
    for (int col = 0; col < cols; col += kWidth) {
      Strip<kRows, kVectors, kStream>(panel + 4 * col, k, xq, ldxq, x_scales,
                                      addend == nullptr ? nullptr : addend + col, ld_addend,
                                      c + col, ldc, cols - col, scales + col);
    }
  }

  template <bool kStream>
  static void Run(int rows, const int8_t* panel, int64_t k, const uint8_t* xq, int64_t ldxq,
                  const float* x_scales, const float* addend, int64_t ld_addend, float* c,
                  int64_t ldc, int cols, const float* scales, const int32_t* /*column_sums*/) {
    using Fn = void (*)(const int8_t*, int64_t, const uint8_t*, int64_t, const float*, const float*,
                        int64_t, float*, int64_t, int, const float*);
    static constexpr Fn kByRows[] = {Rows<1, kStream>, Rows<2, kStream>, Rows<3, kStream>,
                                     Rows<4, kStream>};
    kByRows[rows - 1](panel, k, xq, ldxq, x_scales, addend, ld_addend, c, ldc, cols, scales);
  }
};

}  // namespace

void GemmInt8Avx2(const GemmArgs& args) { RunGemm<Int8Avx2Tiles>(args); }

}  // namespace rnnserve::model::internal

// The portable bf16 and int8 GEMM kernels: plain loops over 16-column strips
// that the compiler vectorises for the build's -march, the low-precision
// twins of gemm_generic.cc. The fallback on CPUs without AVX-512 (bf16) or
// AVX-512 VNNI (int8).
#include <cstring>

#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

constexpr int kStrip = 16;

float FromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Runs Tiles::Strip<kRows> over the 16-column strips of one panel; both
// weight types index a strip by column.
template <typename Tiles, int kRows>
void StripsOf(const typename Tiles::Weight* panel, int64_t k, const float* x, int64_t ldx,
              const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols,
              const float* scales) {
  for (int s = 0; s * kStrip < cols; ++s) {
    const int left = cols - s * kStrip;
    Tiles::template Strip<kRows>(panel + s * kStrip, k, x, ldx,
                                 addend == nullptr ? nullptr : addend + s * kStrip, ld_addend,
                                 c + s * kStrip, ldc, left < kStrip ? left : kStrip,
                                 scales == nullptr ? nullptr : scales + s * kStrip);
  }
}

template <typename Tiles>
struct GenericRun {
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxSingleTileRows = 4;

  template <bool kStream>
  static void Run(int rows, const typename Tiles::Weight* panel, int64_t k, const float* x,
                  int64_t ldx, const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                  int cols, const float* scales) {
    switch (rows) {
      case 1:
        return StripsOf<Tiles, 1>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols, scales);
      case 2:
        return StripsOf<Tiles, 2>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols, scales);
      case 3:
        return StripsOf<Tiles, 3>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols, scales);
      default:
        return StripsOf<Tiles, 4>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols, scales);
    }
  }
};

struct Bf16Strips {
  using Weight = uint32_t;
  static int64_t PanelElements(int64_t k) { return (k + 1) / 2 * kPanelWidth; }

  template <int kRows>
  static void Strip(const uint32_t* panel, int64_t k, const float* x, int64_t ldx,
                    const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols,
                    const float* /*scales*/) {
    float acc[kRows][kStrip] = {};
    if (addend != nullptr) {
      for (int i = 0; i < kRows; ++i) {
        for (int j = 0; j < cols; ++j) acc[i][j] = addend[i * ld_addend + j];
      }
    }
    for (int64_t kk = 0; kk < k; kk += 2) {
      const uint32_t* w = panel + kk / 2 * kPanelWidth;
      float even[kStrip], odd[kStrip];
      for (int j = 0; j < kStrip; ++j) {
        even[j] = FromBits(w[j] << 16);
        odd[j] = FromBits(w[j] & 0xFFFF0000u);
      }
      for (int i = 0; i < kRows; ++i) {
        const float x0 = x[i * ldx + kk];
        const float x1 = kk + 1 < k ? x[i * ldx + kk + 1] : 0.0f;
        for (int j = 0; j < kStrip; ++j) acc[i][j] += x0 * even[j] + x1 * odd[j];
      }
    }
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < cols; ++j) c[i * ldc + j] = acc[i][j];
    }
  }
};

// x quantised per row (gemm_kernels.h): int32 sums, exact, then the
// column's +128 taken back and both scales applied; the reference the
// vector int8 kernels are tested against.
struct Int8GenericTiles {
  using Weight = int8_t;
  static constexpr bool kQuantisedInput = true;
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxSingleTileRows = 4;
  static constexpr int kQuadBytes = 4 * kPanelWidth;
  static int64_t PanelElements(int64_t k) { return (k + 3) / 4 * kQuadBytes; }

  // kRows rows x one 16-column strip (offset to it: 4 bytes a column).
  template <int kRows>
  static void Strip(const int8_t* panel, int64_t k, const uint8_t* xq, int64_t ldxq,
                    const float* x_scales, const float* addend, int64_t ld_addend, float* c,
                    int64_t ldc, int cols, const float* scales, const int32_t* column_sums) {
    int32_t acc[kRows][kStrip] = {};
    for (int64_t q = 0; q < (k + 3) / 4; ++q) {
      const int8_t* w = panel + q * kQuadBytes;
      for (int i = 0; i < kRows; ++i) {
        const uint8_t* x = xq + i * ldxq + 4 * q;
        for (int j = 0; j < kStrip; ++j) {
          for (int t = 0; t < 4; ++t) acc[i][j] += int32_t{x[t]} * int32_t{w[4 * j + t]};
        }
      }
    }
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < cols; ++j) {
        const float add = addend == nullptr ? 0.0f : addend[i * ld_addend + j];
        const float dot = static_cast<float>(acc[i][j] - 128 * column_sums[j]);
        c[i * ldc + j] = dot * (scales[j] * x_scales[i]) + add;
      }
    }
  }

  template <int kRows>
  static void Strips(const int8_t* panel, int64_t k, const uint8_t* xq, int64_t ldxq,
                     const float* x_scales, const float* addend, int64_t ld_addend, float* c,
                     int64_t ldc, int cols, const float* scales, const int32_t* column_sums) {
    for (int s = 0; s * kStrip < cols; ++s) {
      const int left = cols - s * kStrip;
      const int offset = s * kStrip;
      Strip<kRows>(panel + 4 * offset, k, xq, ldxq, x_scales,
                   addend == nullptr ? nullptr : addend + offset, ld_addend, c + offset, ldc,
                   left < kStrip ? left : kStrip, scales + offset, column_sums + offset);
    }
  }

  template <bool kStream>
  static void Run(int rows, const int8_t* panel, int64_t k, const uint8_t* xq, int64_t ldxq,
                  const float* x_scales, const float* addend, int64_t ld_addend, float* c,
                  int64_t ldc, int cols, const float* scales, const int32_t* column_sums) {
    using Fn = void (*)(const int8_t*, int64_t, const uint8_t*, int64_t, const float*, const float*,
                        int64_t, float*, int64_t, int, const float*, const int32_t*);
    static constexpr Fn kByRows[] = {Strips<1>, Strips<2>, Strips<3>, Strips<4>};
    kByRows[rows - 1](panel, k, xq, ldxq, x_scales, addend, ld_addend, c, ldc, cols, scales,
                      column_sums);
  }
};

struct Bf16GenericTiles : Bf16Strips, GenericRun<Bf16Strips> {};

}  // namespace

void GemmBf16Generic(const GemmArgs& args) { RunGemm<Bf16GenericTiles>(args); }
void GemmInt8Generic(const GemmArgs& args) { RunGemm<Int8GenericTiles>(args); }

}  // namespace rnnserve::model::internal

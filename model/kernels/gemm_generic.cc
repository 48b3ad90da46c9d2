// The portable GEMM kernel: plain loops over 16-column strips of each panel
// that the compiler vectorises for the build's -march. The fallback on CPUs
// without AVX2, and the reference the faster kernels are tested against.
#include "model/kernels/gemm_driver.h"
#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model::internal {
namespace {

struct GenericTiles {
  using Weight = float;
  static int64_t PanelElements(int64_t k) { return k * kPanelWidth; }
  static constexpr int kMaxRows = 4;
  static constexpr int kMaxSingleTileRows = 4;
  static constexpr int kStrip = 16;

  template <int kRows>
  static void Strip(const float* panel, int64_t k, const float* x, int64_t ldx,
                    const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                    int cols) {
    float acc[kRows][kStrip] = {};
    if (addend != nullptr) {
      for (int i = 0; i < kRows; ++i) {
        for (int j = 0; j < cols; ++j) acc[i][j] = addend[i * ld_addend + j];
      }
    }
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* w = panel + kk * kPanelWidth;
      for (int i = 0; i < kRows; ++i) {
        const float xi = x[i * ldx + kk];
        for (int j = 0; j < kStrip; ++j) acc[i][j] += xi * w[j];
      }
    }
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < cols; ++j) c[i * ldc + j] = acc[i][j];
    }
  }

  template <int kRows>
  static void Tile(const float* panel, int64_t k, const float* x, int64_t ldx,
                   const float* addend, int64_t ld_addend, float* c, int64_t ldc,
                   int cols) {
    for (int s = 0; s * kStrip < cols; ++s) {
      const int left = cols - s * kStrip;
      Strip<kRows>(panel + s * kStrip, k, x, ldx,
                   addend == nullptr ? nullptr : addend + s * kStrip, ld_addend,
                   c + s * kStrip, ldc, left < kStrip ? left : kStrip);
    }
  }

  template <bool kStream>
  static void Run(int rows, const float* panel, int64_t k, const float* x, int64_t ldx,
                  const float* addend, int64_t ld_addend, float* c, int64_t ldc, int cols,
                  const float* /*scales*/) {
    switch (rows) {
      case 1:
        return Tile<1>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 2:
        return Tile<2>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      case 3:
        return Tile<3>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
      default:
        return Tile<4>(panel, k, x, ldx, addend, ld_addend, c, ldc, cols);
    }
  }
};

}  // namespace

void GemmGeneric(const GemmArgs& args) { RunGemm<GenericTiles>(args); }

}  // namespace rnnserve::model::internal
